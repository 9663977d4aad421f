//! The GDExtension: Godot classes over the Godot-free core.
//!
//! - [`peer::RustPeerConnection`] extends `WebRTCPeerConnectionExtension` and is made the
//!   engine's default, so `WebRTCPeerConnection.new()` (and `WebRTCMultiplayerPeer`) use it.
//! - [`channel::RustDataChannel`] extends `WebRTCDataChannelExtension`.
//! - [`convert`] turns Variants into core values and core errors into Godot `Error` codes.
//! - [`docs`] gives the editor the classes' help pages.
//!
//! Nothing here knows about webrtc-rs; all behaviour lives in `webrtc-godot-core`.

use std::time::Duration;

use godot::classes::{Os, WebRtcPeerConnection};
use godot::init::{gdextension, ExtensionLibrary, InitStage};
use godot::obj::Singleton;
use godot::prelude::{godot_error, godot_print, godot_warn};
use webrtc_godot_core::{logging, runtime, LogLevel};

mod channel;
mod convert;
mod docs;
mod peer;

struct WebRtcRust;

/// How long unloading waits for background closes before cancelling them.
const UNLOAD_GRACE: Duration = Duration::from_millis(500);

#[gdextension]
unsafe impl ExtensionLibrary for WebRtcRust {
    fn on_stage_init(stage: InitStage) {
        match stage {
            InitStage::Scene => {
                logging::install(log_to_godot, Os::singleton().is_stdout_verbose());
                WebRtcPeerConnection::set_default_extension("WebRTCRustPeerConnection");
            }
            InitStage::Editor => docs::register(),
            _ => {}
        }
    }

    fn on_stage_deinit(stage: InitStage) {
        if stage == InitStage::Scene {
            logging::uninstall();
            runtime::shutdown(UNLOAD_GRACE);
        }
    }
}

/// Godot's print functions are thread-safe, so records from runtime threads go straight out.
fn log_to_godot(level: LogLevel, line: &str) {
    match level {
        LogLevel::Error => godot_error!("webrtc-rs: {line}"),
        LogLevel::Warn => godot_warn!("webrtc-rs: {line}"),
        _ => godot_print!("webrtc-rs: {line}"),
    }
}
