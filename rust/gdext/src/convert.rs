//! Variant ⇄ core conversions and error reporting.

use godot::builtin::{VarArray, VarDictionary, Variant, VariantType};
use godot::classes::Os;
use godot::global::Error as GodotError;
use godot::obj::Singleton;
use godot::prelude::{godot_error, godot_print};
use webrtc_godot_core::{Error, Value};

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
