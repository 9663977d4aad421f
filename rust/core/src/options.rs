//! Data channel options: the `create_data_channel()` dictionary, validated.

use webrtc::data_channel::RTCDataChannelInit;

use crate::error::{Error, Result};
use crate::value::{entries, whole_number, Value};

/// What Godot's getters report for a value that was never set (its documented convention).
pub const UNSET: i32 = 65535;

/// A validated options dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelOptions {
    /// Stream id agreed out of band; `Some` only for negotiated channels.
    pub negotiated_id: Option<u16>,
    pub ordered: bool,
    pub max_retransmits: Option<u16>,
    pub max_packet_life_time: Option<u16>,
    pub protocol: String,
    /// Keys that were ignored, reported in verbose output.
    pub ignored_keys: Vec<String>,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        Self {
            negotiated_id: None,
            ordered: true,
            max_retransmits: None,
            max_packet_life_time: None,
            protocol: String::new(),
            ignored_keys: Vec::new(),
        }
    }
}

impl ChannelOptions {
    /// Validates an options dictionary.
    ///
    /// `negotiated` and `id` only make sense together; `maxRetransmits` and
    /// `maxPacketLifeTime` exclude each other. `maxPacketLifetime` (lower-case t) is accepted
    /// too, because that is how the engine's own `WebRTCMultiplayerPeer` spells it.
    pub fn parse(dict: &[(Value, Value)]) -> Result<Self> {
        let mut options = Self::default();
        let mut negotiated = false;
        let mut id = None;
        for entry in entries(dict, "channel option") {
            let (key, value) = entry.map_err(Error::invalid)?;
            match key {
                "negotiated" => negotiated = as_bool(key, value)?,
                "id" => id = Some(as_u16(key, value, 65534)?),
                "ordered" => options.ordered = as_bool(key, value)?,
                "maxRetransmits" => options.max_retransmits = Some(as_u16(key, value, 65535)?),
                "maxPacketLifeTime" | "maxPacketLifetime" => {
                    if options.max_packet_life_time.is_some() {
                        return Err(Error::invalid(
                            "give only one of 'maxPacketLifeTime' and 'maxPacketLifetime'",
                        ));
                    }
                    options.max_packet_life_time = Some(as_u16(key, value, 65535)?);
                }
                "protocol" => match value {
                    Value::Str(protocol) => options.protocol = protocol.clone(),
                    other => return Err(wrong_type(key, "a String", other)),
                },
                other => options.ignored_keys.push(other.to_owned()),
            }
        }
        options.negotiated_id = match (negotiated, id) {
            (true, Some(id)) => Some(id),
            (false, None) => None,
            (true, None) => return Err(Error::invalid(
                "channel option 'negotiated' needs an 'id' (the stream id both sides agreed on)",
            )),
            (false, Some(_)) => {
                return Err(Error::invalid(
                    "channel option 'id' is only allowed with 'negotiated': true",
                ))
            }
        };
        if options.max_retransmits.is_some() && options.max_packet_life_time.is_some() {
            return Err(Error::invalid(
                "channel options 'maxRetransmits' and 'maxPacketLifeTime' exclude each other",
            ));
        }
        Ok(options)
    }

    pub(crate) fn to_init(&self) -> RTCDataChannelInit {
        RTCDataChannelInit {
            ordered: self.ordered,
            max_packet_life_time: self.max_packet_life_time,
            max_retransmits: self.max_retransmits,
            protocol: self.protocol.clone(),
            negotiated: self.negotiated_id,
        }
    }
}

fn wrong_type(key: &str, expected: &str, got: &Value) -> Error {
    Error::invalid(format!(
        "channel option '{key}' must be {expected}, got {}",
        got.type_name()
    ))
}

fn as_bool(key: &str, value: &Value) -> Result<bool> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        other => Err(wrong_type(key, "a bool", other)),
    }
}

/// An integer in `0..=max` (whole floats too, see [`whole_number`]).
fn as_u16(key: &str, value: &Value, max: u16) -> Result<u16> {
    let number = whole_number(value).ok_or_else(|| wrong_type(key, "an int", value))?;
    u16::try_from(number)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            Error::invalid(format!(
                "channel option '{key}' must be in 0..={max}, got {number}"
            ))
        })
}
