//! State enums numbered exactly like Godot's, and a lock-free cell to cache them in.
//!
//! Network threads store; the game thread loads. Godot's getters are called every frame, so
//! they must never wait on a lock held by the network side.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};

/// `WebRTCPeerConnection.ConnectionState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnectionState {
    New = 0,
    Connecting = 1,
    Connected = 2,
    Disconnected = 3,
    Failed = 4,
    Closed = 5,
}

/// `WebRTCPeerConnection.GatheringState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum GatheringState {
    New = 0,
    Gathering = 1,
    Complete = 2,
}

/// `WebRTCPeerConnection.SignalingState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SignalingState {
    Stable = 0,
    HaveLocalOffer = 1,
    HaveRemoteOffer = 2,
    HaveLocalPranswer = 3,
    HaveRemotePranswer = 4,
    Closed = 5,
}

/// `WebRTCDataChannel.ChannelState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChannelState {
    Connecting = 0,
    Open = 1,
    Closing = 2,
    Closed = 3,
}

/// Conversion between a state enum and its Godot number.
pub trait StateCode: Copy {
    fn from_code(code: u8) -> Self;
    fn code(self) -> u8;
}

macro_rules! state_code {
    ($ty:ty, $fallback:expr, [$($variant:ident),+]) => {
        impl StateCode for $ty {
            fn from_code(code: u8) -> Self {
                [$(<$ty>::$variant),+]
                    .into_iter()
                    .find(|state| *state as u8 == code)
                    .unwrap_or($fallback)
            }

            fn code(self) -> u8 {
                self as u8
            }
        }
    };
}

state_code!(
    ConnectionState,
    ConnectionState::Closed,
    [New, Connecting, Connected, Disconnected, Failed, Closed]
);
state_code!(
    GatheringState,
    GatheringState::Complete,
    [New, Gathering, Complete]
);
state_code!(
    SignalingState,
    SignalingState::Closed,
    [
        Stable,
        HaveLocalOffer,
        HaveRemoteOffer,
        HaveLocalPranswer,
        HaveRemotePranswer,
        Closed
    ]
);
state_code!(
    ChannelState,
    ChannelState::Closed,
    [Connecting, Open, Closing, Closed]
);

/// An atomically cached state.
#[derive(Debug)]
pub struct StateCell<S> {
    code: AtomicU8,
    _state: PhantomData<S>,
}

impl<S: StateCode> StateCell<S> {
    pub fn new(state: S) -> Self {
        Self {
            code: AtomicU8::new(state.code()),
            _state: PhantomData,
        }
    }

    pub fn get(&self) -> S {
        S::from_code(self.code.load(Ordering::Acquire))
    }

    pub fn set(&self, state: S) {
        self.code.store(state.code(), Ordering::Release);
    }

    /// Stores `to` only if the cell holds `from`.
    pub fn replace(&self, from: S, to: S) {
        let _ =
            self.code
                .compare_exchange(from.code(), to.code(), Ordering::AcqRel, Ordering::Acquire);
    }

    /// Stores `state` unless the cell already holds `terminal`; a closed object stays closed.
    pub fn set_unless(&self, state: S, terminal: S) {
        let _ = self
            .code
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                (current != terminal.code()).then_some(state.code())
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_godot() {
        for (state, code) in [
            (ConnectionState::New, 0),
            (ConnectionState::Connected, 2),
            (ConnectionState::Closed, 5),
        ] {
            assert_eq!(state.code(), code);
            assert_eq!(ConnectionState::from_code(code), state);
        }
        assert_eq!(ChannelState::from_code(3), ChannelState::Closed);
        assert_eq!(
            SignalingState::from_code(2),
            SignalingState::HaveRemoteOffer
        );
        assert_eq!(GatheringState::from_code(9), GatheringState::Complete);
    }

    #[test]
    fn terminal_state_sticks() {
        let cell = StateCell::new(ChannelState::Open);
        cell.set(ChannelState::Closed);
        cell.set_unless(ChannelState::Open, ChannelState::Closed);
        assert_eq!(cell.get(), ChannelState::Closed);
        let cell = StateCell::new(ChannelState::Connecting);
        cell.set_unless(ChannelState::Open, ChannelState::Closed);
        assert_eq!(cell.get(), ChannelState::Open);
    }

    #[test]
    fn replace_only_moves_from_the_given_state() {
        let cell = StateCell::new(GatheringState::New);
        cell.replace(GatheringState::New, GatheringState::Gathering);
        assert_eq!(cell.get(), GatheringState::Gathering);
        cell.set(GatheringState::Complete);
        cell.replace(GatheringState::New, GatheringState::Gathering);
        assert_eq!(cell.get(), GatheringState::Complete);
    }
}
