//! The one error type every fallible core call returns.
//!
//! Each variant maps to exactly one Godot `Error` code in the binding, and carries the
//! human-readable reason the binding prints next to it.

use std::fmt;

/// Why a call was refused. The message is written for a game developer reading Godot's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Bad input from the caller or the peer: a config value, an option, SDP or a candidate.
    /// Godot: `ERR_INVALID_PARAMETER`.
    InvalidParameter(String),
    /// The call is not allowed in the current state (e.g. sending on a channel that is not open).
    /// Godot: `ERR_UNAVAILABLE`.
    Unavailable(String),
    /// The send buffer is full; try again once `get_buffered_amount()` drops. Godot: `ERR_BUSY`.
    Busy(String),
    /// webrtc-rs refused a well-formed request. Godot: `FAILED`.
    Failed(String),
}

impl Error {
    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::InvalidParameter(msg.into())
    }

    pub(crate) fn unavailable(msg: impl Into<String>) -> Self {
        Self::Unavailable(msg.into())
    }

    /// Wraps a webrtc-rs error with what we were doing when it happened.
    pub(crate) fn failed(context: &str, err: impl fmt::Display) -> Self {
        Self::Failed(format!("{context}: {err}"))
    }

    /// The reason, without the variant.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidParameter(m) | Self::Unavailable(m) | Self::Busy(m) | Self::Failed(m) => m,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
