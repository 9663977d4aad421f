## One-process handshake; 1,000 text and 1,000 binary messages in order with the right
## was_string_packet; getters report the options on both sides, negotiated and in-band;
## the largest packet crosses and one byte more is refused, by default and with a raised
## maxMessageSize.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const COUNT := 1000
const DEFAULT_MAX_PACKET := 65536  # the documented default maxMessageSize
const RAISED_MAX_PACKET := 262144  # the largest maxMessageSize


func _initialize() -> void:
	var h := Harness.new(self, "handshake")
	var peers := Harness.pair()
	var a: WebRTCPeerConnection = peers[0]
	var b: WebRTCPeerConnection = peers[1]
	var received: Array[WebRTCDataChannel] = []
	b.data_channel_received.connect(func(ch): received.append(ch))

	var negotiated_a := a.create_data_channel("sync", {"negotiated": true, "id": 5,
		"ordered": false, "maxPacketLifetime": 250})
	var negotiated_b := b.create_data_channel("sync", {"negotiated": true, "id": 5,
		"ordered": false, "maxPacketLifetime": 250})
	var inband := a.create_data_channel("chat", {"protocol": "chat-v1", "maxRetransmits": 3})
	h.eq(inband.get_id(), 65535, "in-band id is unset before negotiation")
	h.eq(a.create_offer(), OK, "create_offer")
	h.eq(a.get_signaling_state(), WebRTCPeerConnection.SIGNALING_STATE_STABLE, "offer not applied before poll")

	var started := Time.get_ticks_usec()
	await h.wait_until(func(): return received.size() == 1 \
		and inband.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and negotiated_a.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and negotiated_b.get_ready_state() == WebRTCDataChannel.STATE_OPEN, "channels open", [a, b])
	print("connected and channels open in %.1f ms" % ((Time.get_ticks_usec() - started) / 1000.0))
	h.eq(a.get_connection_state(), WebRTCPeerConnection.STATE_CONNECTED, "offerer connected")
	h.eq(b.get_connection_state(), WebRTCPeerConnection.STATE_CONNECTED, "answerer connected")
	h.eq(a.get_signaling_state(), WebRTCPeerConnection.SIGNALING_STATE_STABLE, "offerer stable")
	h.eq(b.get_signaling_state(), WebRTCPeerConnection.SIGNALING_STATE_STABLE, "answerer stable")
	if received.is_empty():
		h.finish()
		return

	# Getters report what was set.
	for ch in [negotiated_a, negotiated_b]:
		h.eq(ch.get_label(), "sync", "negotiated label")
		h.eq(ch.get_id(), 5, "negotiated id")
		h.eq(ch.is_negotiated(), true, "negotiated flag")
		h.eq(ch.is_ordered(), false, "negotiated ordered flag")
		h.eq(ch.get_max_packet_life_time(), 250, "maxPacketLifetime spelling honoured")
		h.eq(ch.get_max_retransmits(), 65535, "unset maxRetransmits")
	var remote: WebRTCDataChannel = received[0]
	h.eq(inband.get_protocol(), "chat-v1", "local protocol")
	h.eq(inband.get_max_retransmits(), 3, "local maxRetransmits")
	h.eq(inband.get_max_packet_life_time(), 65535, "unset maxPacketLifeTime")
	h.eq(remote.get_label(), "chat", "remote label")
	h.eq(remote.get_protocol(), "chat-v1", "remote protocol")
	h.eq(remote.is_ordered(), true, "remote ordered flag")
	h.eq(remote.is_negotiated(), false, "remote negotiated flag")
	h.eq(remote.get_max_retransmits(), 3, "remote maxRetransmits: what the offerer asked for")
	h.eq(remote.get_max_packet_life_time(), 65535, "remote maxPacketLifeTime unset")
	h.check(remote.get_id() != 65535 and remote.get_id() == inband.get_id(), "both sides agree on the in-band id (%d, %d)" % [remote.get_id(), inband.get_id()])

	# 1,000 text and 1,000 binary messages, interleaved, in order.
	h.eq(inband.get_write_mode(), WebRTCDataChannel.WRITE_MODE_BINARY, "default write mode")
	for i in COUNT * 2:
		inband.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT if i % 2 == 0 else WebRTCDataChannel.WRITE_MODE_BINARY
		if inband.put_packet(("msg %d" % i).to_utf8_buffer()) != OK:
			h.check(false, "put_packet %d" % i)
			break
	var got := 0
	var order_ok := true
	var flags_ok := true
	var deadline := Time.get_ticks_msec() + 10000
	while got < COUNT * 2 and Time.get_ticks_msec() < deadline:
		a.poll()
		b.poll()
		while remote.get_available_packet_count() > 0:
			var data := remote.get_packet()
			if data.get_string_from_utf8() != "msg %d" % got:
				order_ok = false
			if remote.was_string_packet() != (got % 2 == 0):
				flags_ok = false
			got += 1
		await process_frame
	h.eq(got, COUNT * 2, "messages received")
	h.check(order_ok, "messages arrive in order")
	h.check(flags_ok, "was_string_packet matches each message's mode")

	# Binary on the negotiated pair, including a maximum-size packet. (An empty PackedByteArray
	# never reaches the plugin: PacketPeer.put_packet returns OK for it without sending; the
	# core sends and receives empty messages, see rust/core/tests/security.rs.)
	await check_largest(h, a, b, negotiated_a, negotiated_b, DEFAULT_MAX_PACKET)
	a.close()
	b.close()
	Harness.unlink([a, b])

	var raised := Harness.pair({"maxMessageSize": RAISED_MAX_PACKET})
	var ra := raised[0] as WebRTCPeerConnection
	var rb := raised[1] as WebRTCPeerConnection
	var big_a := ra.create_data_channel("big", {"negotiated": true, "id": 2})
	var big_b := rb.create_data_channel("big", {"negotiated": true, "id": 2})
	ra.create_offer()
	await h.wait_until(func(): return big_a.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and big_b.get_ready_state() == WebRTCDataChannel.STATE_OPEN, "raised-limit channel open", [ra, rb])
	await check_largest(h, ra, rb, big_a, big_b, RAISED_MAX_PACKET)
	ra.close()
	rb.close()
	Harness.unlink([ra, rb])
	h.finish()


## A packet of exactly `largest` bytes and a small one cross from `tx` to `rx` (compared as a
## set: the channel may be unordered); one byte more is refused, not truncated.
func check_largest(h: Harness, a: WebRTCPeerConnection, b: WebRTCPeerConnection,
		rx: WebRTCDataChannel, tx: WebRTCDataChannel, largest: int) -> void:
	var big := PackedByteArray()
	big.resize(largest)
	big.fill(7)
	h.eq(tx.put_packet(big), OK, "maximum-size packet accepted (%d)" % largest)
	h.eq(tx.put_packet(PackedByteArray([1, 2, 3])), OK, "small packet")
	var too_big := PackedByteArray()
	too_big.resize(largest + 1)
	h.eq(tx.put_packet(too_big), ERR_INVALID_PARAMETER, "oversized packet refused, not truncated")
	await h.wait_until(func(): return rx.get_available_packet_count() == 2, "packets of %d" % largest, [a, b])
	if rx.get_available_packet_count() == 2:
		var sizes := [rx.get_packet().size(), rx.get_packet().size()]
		sizes.sort()
		h.eq(sizes, [3, largest], "both packets arrive whole")
	h.eq(rx.get_available_packet_count(), 0, "queue drained")
