//! `WebRTCRustPeerConnection`: the engine's `WebRTCPeerConnection`, backed by a core [`Peer`].

use godot::builtin::{GString, VarDictionary};
use godot::classes::web_rtc_peer_connection::{ConnectionState, GatheringState, SignalingState};
use godot::classes::{
    IWebRtcPeerConnectionExtension, WebRtcDataChannel, WebRtcPeerConnectionExtension,
};
use godot::global::Error as GodotError;
use godot::meta::ToGodot;
use godot::obj::{Base, EngineEnum, Gd, WithBaseField};
use godot::prelude::godot_warn;
use godot::register::{godot_api, GodotClass};
use webrtc_godot_core::{ChannelOptions, Peer, PeerConfig, PeerEvent, SdpKind};

use crate::channel::RustDataChannel;
use crate::convert::{dict_entries, note_ignored, report, stats_dictionary, to_godot};

#[derive(GodotClass)]
#[class(tool, base = WebRtcPeerConnectionExtension, rename = WebRTCRustPeerConnection)]
pub struct RustPeerConnection {
    peer: Peer,
    base: Base<WebRtcPeerConnectionExtension>,
}

#[godot_api]
impl IWebRtcPeerConnectionExtension for RustPeerConnection {
    /// Usable at once: `new()` needs no `initialize()`.
    fn init(base: Base<WebRtcPeerConnectionExtension>) -> Self {
        Self {
            peer: Peer::default(),
            base,
        }
    }

    fn get_connection_state(&self) -> ConnectionState {
        ConnectionState::from_ord(i32::from(self.peer.get_connection_state() as u8))
    }

    fn get_gathering_state(&self) -> GatheringState {
        GatheringState::from_ord(i32::from(self.peer.get_gathering_state() as u8))
    }

    fn get_signaling_state(&self) -> SignalingState {
        SignalingState::from_ord(i32::from(self.peer.get_signaling_state() as u8))
    }

    fn initialize(&mut self, config: VarDictionary) -> GodotError {
        let result = PeerConfig::parse(&dict_entries(&config)).and_then(|config| {
            note_ignored("config", &config.ignored_keys);
            for warning in &config.warnings {
                godot_warn!("WebRTC: {warning}");
            }
            self.peer.initialize(config)
        });
        to_godot(result)
    }

    fn create_data_channel(
        &mut self,
        label: GString,
        options: VarDictionary,
    ) -> Option<Gd<WebRtcDataChannel>> {
        let created = ChannelOptions::parse(&dict_entries(&options)).and_then(|options| {
            note_ignored("channel option", &options.ignored_keys);
            self.peer.create_data_channel(&label.to_string(), &options)
        });
        match created {
            Ok(channel) => Some(RustDataChannel::wrap(channel).upcast()),
            Err(err) => {
                report(&err);
                None
            }
        }
    }

    fn create_offer(&mut self) -> GodotError {
        to_godot(self.peer.create_offer())
    }

    fn set_remote_description(&mut self, kind: GString, sdp: GString) -> GodotError {
        let result = SdpKind::parse(&kind.to_string())
            .and_then(|kind| self.peer.set_remote_description(kind, &sdp.to_string()));
        to_godot(result)
    }

    fn set_local_description(&mut self, kind: GString, sdp: GString) -> GodotError {
        let result = SdpKind::parse(&kind.to_string())
            .and_then(|kind| self.peer.set_local_description(kind, &sdp.to_string()));
        to_godot(result)
    }

    fn add_ice_candidate(&mut self, media: GString, index: i32, name: GString) -> GodotError {
        to_godot(
            self.peer
                .add_ice_candidate(&media.to_string(), index, &name.to_string()),
        )
    }

    /// Makes what arrived on the channels available, then emits the queued signals. Handlers
    /// may call back into this object: no borrow of `self` is held while a signal runs, and
    /// events queued meanwhile wait for the next poll.
    fn poll(&mut self) -> GodotError {
        self.peer.release_packets();
        for _ in 0..self.peer.pending_events() {
            let Some(event) = self.peer.next_event() else {
                break;
            };
            match event {
                PeerEvent::SessionDescription { kind, sdp } => {
                    self.base_mut().emit_signal(
                        "session_description_created",
                        &[kind.as_str().to_variant(), sdp.to_variant()],
                    );
                }
                PeerEvent::IceCandidate { media, index, name } => {
                    self.base_mut().emit_signal(
                        "ice_candidate_created",
                        &[media.to_variant(), index.to_variant(), name.to_variant()],
                    );
                }
                PeerEvent::DataChannel(channel) => {
                    let channel = RustDataChannel::wrap(channel);
                    self.base_mut()
                        .emit_signal("data_channel_received", &[channel.to_variant()]);
                }
            }
        }
        GodotError::OK
    }

    fn close(&mut self) {
        self.peer.close();
    }
}

#[godot_api]
impl RustPeerConnection {
    /// The connection's figures for a HUD or a debug overlay; cheap enough to call every frame.
    /// The Dictionary holds `round_trip_time` (seconds, 0.0 until measured), `bytes_sent`,
    /// `bytes_received`, `packets_sent`, `packets_received` (the transport's totals),
    /// `local_candidate` and `remote_candidate` (`type`, `address`, `port`, `protocol` of the
    /// selected pair, empty before one is selected) and `data_channels` (one Dictionary per
    /// channel: `label`, `id`, `state`, `bytes_sent`, `bytes_received`, `messages_sent`,
    /// `messages_received`, `buffered_amount`).
    #[func]
    fn get_stats(&self) -> VarDictionary {
        stats_dictionary(&self.peer.get_stats())
    }
}
