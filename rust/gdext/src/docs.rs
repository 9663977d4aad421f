//! The classes' help pages in the editor (F1).
//!
//! gdext registers docs written as doc comments only when built against the 4.3 API, and the
//! addon is built against 4.2 so that Godot 4.2 loads it. The pages are therefore written in
//! Godot's class-reference XML (`doc_classes/`) and handed to the editor through
//! `editor_help_load_xml_from_utf8_chars_and_len`, looked up at run time: Godot 4.3 and later
//! have it, 4.2 does not and simply shows no page.

use std::ffi::c_char;

use godot::sys;

const PAGES: [&str; 2] = [
    include_str!("../doc_classes/WebRTCRustPeerConnection.xml"),
    include_str!("../doc_classes/WebRTCRustDataChannel.xml"),
];

/// `void editor_help_load_xml_from_utf8_chars_and_len(const char *data, GDExtensionInt size)`.
type LoadXml = unsafe extern "C" fn(*const c_char, i64);

/// Registers the pages when the running editor can take them. Call at the Editor init stage.
pub fn register() {
    // SAFETY: called on the main thread during extension initialization, after the binding is
    // set up (gdext calls `on_stage_init` only then).
    let found =
        unsafe { sys::get_ffi_ptr_by_cstr(b"editor_help_load_xml_from_utf8_chars_and_len\0") };
    let Some(function) = found else {
        return;
    };
    // SAFETY: Godot's interface declares the function with this signature (since 4.3).
    let load: LoadXml = unsafe { std::mem::transmute(function) };
    for page in PAGES {
        let Ok(size) = i64::try_from(page.len()) else {
            continue;
        };
        // SAFETY: `page` is valid UTF-8 of `size` bytes for the duration of the call.
        unsafe { load(page.as_ptr().cast(), size) };
    }
}
