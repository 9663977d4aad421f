//! `WebRTCRustDataChannel`: the engine's `WebRTCDataChannel`, backed by a core [`Channel`].

use godot::builtin::GString;
use godot::classes::web_rtc_data_channel::{ChannelState, WriteMode as GodotWriteMode};
use godot::classes::{IWebRtcDataChannelExtension, WebRtcDataChannelExtension};
use godot::global::Error as GodotError;
use godot::obj::EngineEnum;
use godot::obj::{Base, Gd};
use godot::register::{godot_api, GodotClass};
use godot_core::meta::RawPtr;
use webrtc_godot_core::options::UNSET;
use webrtc_godot_core::{Channel, Error, WriteMode};

use crate::convert::{report, to_godot};

/// Holds `None` only when a script instantiates the class directly; every method then answers
/// like a closed channel.
#[derive(GodotClass)]
#[class(tool, base = WebRtcDataChannelExtension, rename = WebRTCRustDataChannel)]
pub struct RustDataChannel {
    channel: Option<Channel>,
    base: Base<WebRtcDataChannelExtension>,
}

impl RustDataChannel {
    pub fn wrap(channel: Channel) -> Gd<Self> {
        Gd::from_init_fn(|base| Self {
            channel: Some(channel),
            base,
        })
    }

    fn channel_mut(&mut self) -> Result<&mut Channel, Error> {
        self.channel.as_mut().ok_or_else(|| {
            Error::Unavailable("this data channel was not created by a peer connection".into())
        })
    }
}

fn godot_unset(value: Option<u16>) -> i32 {
    value.map_or(UNSET, i32::from)
}

#[godot_api]
impl IWebRtcDataChannelExtension for RustDataChannel {
    fn init(base: Base<WebRtcDataChannelExtension>) -> Self {
        Self {
            channel: None,
            base,
        }
    }

    /// The packet stays in the channel until the next call, so the pointer handed to Godot
    /// remains valid exactly as long as the engine expects.
    unsafe fn get_packet_rawptr(
        &mut self,
        r_buffer: RawPtr<*mut RawPtr<*const u8>>,
        r_buffer_size: RawPtr<*mut i32>,
    ) -> GodotError {
        let packet = match self.channel_mut().and_then(Channel::get_packet) {
            Ok(packet) => packet,
            Err(err) => return report(&err),
        };
        let (ptr, len) = (packet.as_ptr(), packet.len());
        // SAFETY: Godot passes valid out-pointers; the data lives in `self.channel` until the
        // next get_packet call, and `len` is at most the max message size, which fits in i32.
        unsafe {
            *r_buffer.ptr() = RawPtr::new(ptr);
            *r_buffer_size.ptr() = len as i32;
        }
        GodotError::OK
    }

    unsafe fn put_packet_rawptr(&mut self, buffer: RawPtr<*const u8>, size: i32) -> GodotError {
        let Ok(len) = usize::try_from(size) else {
            return report(&Error::InvalidParameter(format!(
                "negative packet size {size}"
            )));
        };
        let data: &[u8] = if len == 0 || buffer.ptr().is_null() {
            &[]
        } else {
            // SAFETY: Godot guarantees `size` readable bytes at `buffer` for this call; we copy
            // them before returning.
            unsafe { std::slice::from_raw_parts(buffer.ptr(), len) }
        };
        to_godot(
            self.channel_mut()
                .and_then(|channel| channel.put_packet(data)),
        )
    }

    fn get_available_packet_count(&self) -> i32 {
        self.channel.as_ref().map_or(0, |channel| {
            i32::try_from(channel.get_available_packet_count()).unwrap_or(i32::MAX)
        })
    }

    /// The connection's `maxMessageSize` (64 KiB unless configured), as advertised in our SDP.
    fn get_max_packet_size(&self) -> i32 {
        self.channel.as_ref().map_or(0, |channel| {
            i32::try_from(channel.get_max_packet_size()).unwrap_or(i32::MAX)
        })
    }

    /// Makes the packets that arrived since the last poll available, as the connection's
    /// `poll()` does for all its channels; states change without polling.
    fn poll(&mut self) -> GodotError {
        if let Some(channel) = self.channel.as_ref() {
            channel.poll();
        }
        GodotError::OK
    }

    fn close(&mut self) {
        if let Some(channel) = self.channel.as_mut() {
            channel.close();
        }
    }

    fn set_write_mode(&mut self, mode: GodotWriteMode) {
        if let Some(channel) = self.channel.as_mut() {
            channel.set_write_mode(if mode == GodotWriteMode::TEXT {
                WriteMode::Text
            } else {
                WriteMode::Binary
            });
        }
    }

    fn get_write_mode(&self) -> GodotWriteMode {
        match self.channel.as_ref().map(Channel::get_write_mode) {
            Some(WriteMode::Text) => GodotWriteMode::TEXT,
            _ => GodotWriteMode::BINARY,
        }
    }

    fn was_string_packet(&self) -> bool {
        self.channel
            .as_ref()
            .is_some_and(Channel::was_string_packet)
    }

    fn get_ready_state(&self) -> ChannelState {
        let state = self.channel.as_ref().map_or(
            webrtc_godot_core::ChannelState::Closed,
            Channel::get_ready_state,
        );
        ChannelState::from_ord(i32::from(state as u8))
    }

    fn get_label(&self) -> GString {
        self.channel
            .as_ref()
            .map(|channel| GString::from(channel.info().label.as_str()))
            .unwrap_or_default()
    }

    fn is_ordered(&self) -> bool {
        self.channel
            .as_ref()
            .is_none_or(|channel| channel.info().ordered)
    }

    fn get_id(&self) -> i32 {
        self.channel.as_ref().map_or(UNSET, Channel::get_id)
    }

    fn get_max_packet_life_time(&self) -> i32 {
        godot_unset(
            self.channel
                .as_ref()
                .and_then(|c| c.info().max_packet_life_time),
        )
    }

    fn get_max_retransmits(&self) -> i32 {
        godot_unset(self.channel.as_ref().and_then(|c| c.info().max_retransmits))
    }

    fn get_protocol(&self) -> GString {
        self.channel
            .as_ref()
            .map(|channel| GString::from(channel.info().protocol.as_str()))
            .unwrap_or_default()
    }

    fn is_negotiated(&self) -> bool {
        self.channel
            .as_ref()
            .is_some_and(|channel| channel.info().negotiated)
    }

    fn get_buffered_amount(&self) -> i32 {
        self.channel.as_ref().map_or(0, |channel| {
            i32::try_from(channel.get_buffered_amount()).unwrap_or(i32::MAX)
        })
    }
}
