## The engine's WebRTC classes resolve to the Rust extension.
extends SceneTree

const Harness := preload("res://lib/harness.gd")


func _initialize() -> void:
	var h := Harness.new(self, "extension_class")
	var pc := WebRTCPeerConnection.new()
	h.eq(pc.get_class(), "WebRTCRustPeerConnection", "WebRTCPeerConnection.new() class")
	h.eq(pc.get_connection_state(), WebRTCPeerConnection.STATE_NEW, "usable without initialize()")
	var ch := pc.create_data_channel("probe")
	h.check(ch != null, "create_data_channel works before initialize()")
	if ch:
		h.eq(ch.get_class(), "WebRTCRustDataChannel", "data channel class")
		h.eq(ch.get_ready_state(), WebRTCDataChannel.STATE_CONNECTING, "new channel is connecting")
	pc.close()
	h.eq(pc.get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "closed after close()")
	h.finish()
