## Every bad input gets an error code (and a printed reason), nothing crashes, and the process
## still exits cleanly.
extends SceneTree

const Harness := preload("res://lib/harness.gd")


func _initialize() -> void:
	var h := Harness.new(self, "bad_input")
	var pc := WebRTCPeerConnection.new()

	# Config dictionaries.
	var bad_configs := [
		{"iceServers": "stun:example.org"},
		{"iceServers": [42]},
		{"iceServers": [{"urls": 5}]},
		{"iceServers": [{"urls": ["stun:ok.example", 3]}]},
		{"iceServers": [{"urls": "http://example.org"}]},
		{"iceServers": [{"urls": "stun:"}]},
		{"iceServers": [{"urls": "stun:host:notaport"}]},
		{"iceServers": [{"urls": "turn:relay.example:3478"}]},
		{"iceServers": [{"urls": "turn:relay.example", "username": 1, "credential": "x"}]},
		{"iceServers": [{}]},
		{"iceTransportPolicy": "sometimes"},
		{"iceTransportPolicy": 1},
		{"bindAddresses": ["not an address"]},
		{"bindAddresses": 127},
		{"mdns": "no"},
		{1: "non-string key"},
	]
	for config in bad_configs:
		h.eq(pc.initialize(config), ERR_INVALID_PARAMETER, "initialize(%s)" % var_to_str(config))
	var nested := []
	nested.append(nested)
	h.eq(pc.initialize({"iceServers": nested}), ERR_INVALID_PARAMETER, "self-containing array")
	h.eq(pc.initialize({"iceServers": [{"urls": ["stun:stun.example.org:3478", "turns:[::1]:5349?transport=tcp"], "username": "u", "credential": "c"}], "somethingElse": 1, "bindAddresses": ["127.0.0.1"]}), OK, "valid config with an unknown key")
	# A connection that cannot work fails the call that set it up, not every later one.
	h.eq(pc.initialize({"bindAddresses": ["192.0.2.1"]}), FAILED, "an address this host does not have")
	h.eq(pc.initialize(Harness.LOOPBACK), OK, "loopback config")

	# Channel options.
	var bad_options := [
		{"negotiated": true},
		{"id": 3},
		{"negotiated": true, "id": -1},
		{"negotiated": true, "id": 65535},
		{"negotiated": "yes", "id": 1},
		{"maxRetransmits": 1, "maxPacketLifeTime": 1},
		{"maxRetransmits": 1, "maxPacketLifetime": 1},
		{"maxRetransmits": -1},
		{"maxRetransmits": 70000},
		{"maxPacketLifeTime": 1.5},
		{"ordered": 1},
		{"protocol": 7},
	]
	for options in bad_options:
		h.check(pc.create_data_channel("x", options) == null, "create_data_channel(%s) refused" % var_to_str(options))
	h.check(pc.create_data_channel("x", {"maxPacketLifeTime": 100.0}) != null, "whole float accepted (JSON)")
	var first := pc.create_data_channel("first", {"negotiated": true, "id": 9})
	h.check(first != null, "negotiated id 9")
	h.check(pc.create_data_channel("second", {"negotiated": true, "id": 9}) == null, "a second channel with id 9 refused while the first exists")

	# Descriptions and candidates.
	h.eq(pc.set_remote_description("offer", "garbage"), ERR_INVALID_PARAMETER, "garbage remote SDP")
	h.eq(pc.set_remote_description("offer", ""), ERR_INVALID_PARAMETER, "empty remote SDP")
	h.eq(pc.set_remote_description("rollback", "v=0"), ERR_INVALID_PARAMETER, "unknown SDP type")
	h.eq(pc.set_local_description("answer", "v=0\r\nnonsense"), ERR_INVALID_PARAMETER, "garbage local SDP")
	h.eq(pc.add_ice_candidate("0", 0, "candidate:not a candidate"), ERR_INVALID_PARAMETER, "garbage candidate")
	h.eq(pc.add_ice_candidate("0", 0, ""), OK, "empty candidate is end-of-candidates")
	h.eq(pc.add_ice_candidate("", -1, "candidate:1 1 udp 2113937151 0f2c9a1e-5a8b-4c4d-9e2f-3b1a7c6d5e4f.local 50000 typ host"), OK, "mDNS candidate accepted")

	# Packets on a channel that is not open.
	var ch := pc.create_data_channel("idle")
	h.eq(ch.put_packet(PackedByteArray([1])), ERR_UNAVAILABLE, "put_packet before open")
	h.eq(ch.get_available_packet_count(), 0, "no packets")
	h.check(ch.get_packet().is_empty(), "get_packet with nothing queued is empty")
	h.eq(ch.get_buffered_amount(), 0, "nothing buffered")

	# Wrong state after the offer and after close.
	h.eq(pc.create_offer(), OK, "offer")
	pc.close()
	h.eq(pc.create_offer(), ERR_UNAVAILABLE, "create_offer after close")
	h.check(pc.create_data_channel("late") == null, "create_data_channel after close")
	h.eq(pc.set_remote_description("answer", "v=0"), ERR_UNAVAILABLE, "set_remote_description after close")
	h.eq(pc.add_ice_candidate("0", 0, "candidate:1 1 udp 1 127.0.0.1 9 typ host"), ERR_UNAVAILABLE, "candidate after close")
	h.eq(ch.get_ready_state(), WebRTCDataChannel.STATE_CLOSED, "channel closed with its connection")
	h.eq(ch.put_packet(PackedByteArray([1])), ERR_UNAVAILABLE, "put_packet after close")

	# A channel made directly, not by a connection, answers like a closed one.
	var orphan: WebRTCDataChannel = ClassDB.instantiate("WebRTCRustDataChannel")
	h.eq(orphan.get_ready_state(), WebRTCDataChannel.STATE_CLOSED, "orphan channel state")
	h.eq(orphan.put_packet(PackedByteArray([1])), ERR_UNAVAILABLE, "orphan put_packet")
	h.eq(orphan.get_label(), "", "orphan label")

	# The same peer is reusable after initialize().
	h.eq(pc.initialize(Harness.LOOPBACK), OK, "initialize after close")
	h.eq(pc.get_connection_state(), WebRTCPeerConnection.STATE_NEW, "back to STATE_NEW")
	h.eq(pc.get_signaling_state(), WebRTCPeerConnection.SIGNALING_STATE_STABLE, "signaling reset")
	h.check(pc.create_data_channel("again") != null, "channels again after initialize")
	h.finish()
