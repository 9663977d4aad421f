//! Variant ⇄ core conversions and error reporting.

use godot::builtin::{VarArray, VarDictionary, Variant, VariantType};
use godot::classes::Os;
use godot::global::Error as GodotError;
use godot::meta::ToGodot;
use godot::obj::Singleton;
use godot::prelude::{godot_error, godot_print};
use webrtc_godot_core::{CandidateStats, ChannelStats, ConnectionStats, Error, Value};

/// Deeper nesting than any config needs; it also stops a self-containing Array.
const MAX_DEPTH: usize = 8;

/// A dictionary's entries as core values.
pub fn dict_entries(dict: &VarDictionary) -> Vec<(Value, Value)> {
    entries(dict, 0)
}

fn entries(dict: &VarDictionary, depth: usize) -> Vec<(Value, Value)> {
    dict.iter_shared()
        .map(|(key, value)| (to_value(&key, depth + 1), to_value(&value, depth + 1)))
        .collect()
}

fn to_value(variant: &Variant, depth: usize) -> Value {
    let kind = variant.get_type();
    if depth > MAX_DEPTH {
        return Value::Other(format!("{kind:?} nested too deeply"));
    }
    let converted = match kind {
        VariantType::NIL => Some(Value::Nil),
        VariantType::BOOL => variant.try_to::<bool>().ok().map(Value::Bool),
        VariantType::INT => variant.try_to::<i64>().ok().map(Value::Int),
        VariantType::FLOAT => variant.try_to::<f64>().ok().map(Value::Float),
        VariantType::STRING | VariantType::STRING_NAME => {
            Some(Value::Str(variant.stringify().to_string()))
        }
        VariantType::ARRAY => variant.try_to::<VarArray>().ok().map(|array| {
            Value::Array(
                array
                    .iter_shared()
                    .map(|item| to_value(&item, depth + 1))
                    .collect(),
            )
        }),
        VariantType::PACKED_STRING_ARRAY => variant
            .try_to::<godot::builtin::PackedStringArray>()
            .ok()
            .map(|array| {
                Value::Array(
                    array
                        .as_slice()
                        .iter()
                        .map(|item| Value::Str(item.to_string()))
                        .collect(),
                )
            }),
        VariantType::DICTIONARY => variant
            .try_to::<VarDictionary>()
            .ok()
            .map(|dict| Value::Dict(entries(&dict, depth))),
        _ => None,
    };
    converted.unwrap_or_else(|| Value::Other(format!("{kind:?}")))
}

/// Prints the reason and returns the matching Godot error code.
pub fn report(err: &Error) -> GodotError {
    godot_error!("WebRTC: {err}");
    match err {
        Error::InvalidParameter(_) => GodotError::ERR_INVALID_PARAMETER,
        Error::Unavailable(_) => GodotError::ERR_UNAVAILABLE,
        Error::Busy(_) => GodotError::ERR_BUSY,
        Error::Failed(_) => GodotError::FAILED,
    }
}

/// `OK`, or the reported error's code.
pub fn to_godot(result: webrtc_godot_core::Result<()>) -> GodotError {
    match result {
        Ok(()) => GodotError::OK,
        Err(err) => report(&err),
    }
}

/// Mentions ignored dictionary keys, in verbose mode only.
pub fn note_ignored(what: &str, keys: &[String]) {
    if !keys.is_empty() && Os::singleton().is_stdout_verbose() {
        godot_print!("WebRTC: ignoring unknown {what} keys: {}", keys.join(", "));
    }
}

/// `get_stats()`'s Dictionary: the keys the README documents, W3C names in snake_case.
pub fn stats_dictionary(stats: &ConnectionStats) -> VarDictionary {
    let mut dict = VarDictionary::new();
    put(&mut dict, "round_trip_time", stats.round_trip_time);
    put(&mut dict, "bytes_sent", int(stats.bytes_sent));
    put(&mut dict, "bytes_received", int(stats.bytes_received));
    put(&mut dict, "packets_sent", int(stats.packets_sent));
    put(&mut dict, "packets_received", int(stats.packets_received));
    put(
        &mut dict,
        "local_candidate",
        candidate(stats.local_candidate.as_ref()),
    );
    put(
        &mut dict,
        "remote_candidate",
        candidate(stats.remote_candidate.as_ref()),
    );
    let mut channels = VarArray::new();
    for channel in &stats.data_channels {
        channels.push(&channel_dictionary(channel).to_variant());
    }
    put(&mut dict, "data_channels", channels);
    dict
}

fn candidate(candidate: Option<&CandidateStats>) -> VarDictionary {
    let mut dict = VarDictionary::new();
    if let Some(candidate) = candidate {
        put(&mut dict, "type", candidate.kind);
        put(&mut dict, "address", candidate.address.as_str());
        put(&mut dict, "port", i64::from(candidate.port));
        put(&mut dict, "protocol", candidate.protocol.as_str());
    }
    dict
}

fn channel_dictionary(channel: &ChannelStats) -> VarDictionary {
    let mut dict = VarDictionary::new();
    put(&mut dict, "label", channel.label.as_str());
    put(&mut dict, "id", i64::from(channel.id));
    put(&mut dict, "state", i64::from(channel.state as u8));
    put(&mut dict, "bytes_sent", int(channel.bytes_sent));
    put(&mut dict, "bytes_received", int(channel.bytes_received));
    put(&mut dict, "messages_sent", int(channel.messages_sent));
    put(
        &mut dict,
        "messages_received",
        int(channel.messages_received),
    );
    put(&mut dict, "buffered_amount", int(channel.buffered_amount));
    dict
}

fn put(dict: &mut VarDictionary, key: &str, value: impl ToGodot) {
    dict.set(&key.to_variant(), &value.to_variant());
}

/// Godot's int is signed; a counter past `i64::MAX` stays there.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
