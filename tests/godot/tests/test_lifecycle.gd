## Closing is seen by the other side; initialize() reuses a connection; 20 create / connect /
## exchange / close cycles; freeing objects mid-flight is safe.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const CYCLES := 20


func _initialize() -> void:
	var h := Harness.new(self, "lifecycle")

	# Channel close, then connection close, seen by the other side.
	var p: Array = await h.open_pair("close")
	var a: WebRTCPeerConnection = p[0]
	var b: WebRTCPeerConnection = p[1]
	p[2].close()
	h.check(p[2].get_ready_state() >= WebRTCDataChannel.STATE_CLOSING, "local channel closing at once")
	await h.wait_until(func(): return p[3].get_ready_state() == WebRTCDataChannel.STATE_CLOSED, "remote sees channel close", [a, b])
	var started := Time.get_ticks_msec()
	a.close()
	h.eq(a.get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "closed at once")
	await h.wait_until(func(): return b.get_connection_state() in [WebRTCPeerConnection.STATE_CLOSED, \
		WebRTCPeerConnection.STATE_DISCONNECTED, WebRTCPeerConnection.STATE_FAILED], "remote sees connection close", [a, b])
	print("remote saw the close after %d ms" % (Time.get_ticks_msec() - started))

	# initialize() on a connected peer closes it and starts over.
	Harness.unlink([a, b])
	p = await h.open_pair("reuse")
	a = p[0]
	b = p[1]
	h.eq(a.initialize(Harness.LOOPBACK), OK, "initialize on a live connection")
	h.eq(a.get_connection_state(), WebRTCPeerConnection.STATE_NEW, "new again")
	h.eq(p[2].get_ready_state(), WebRTCDataChannel.STATE_CLOSED, "old channel closed by initialize")
	await h.wait_until(func(): return b.get_connection_state() != WebRTCPeerConnection.STATE_CONNECTED, "remote sees the reset", [a, b])
	b.initialize(Harness.LOOPBACK)
	Harness.unlink([a, b])
	Harness.link(a, b)
	var ca := a.create_data_channel("again", {"negotiated": true, "id": 2})
	var cb := b.create_data_channel("again", {"negotiated": true, "id": 2})
	a.create_offer()
	await h.wait_until(func(): return ca.get_ready_state() == WebRTCDataChannel.STATE_OPEN and cb.get_ready_state() == WebRTCDataChannel.STATE_OPEN, "reconnected after initialize", [a, b])
	a.close()
	b.close()
	Harness.unlink([a, b])

	# 20 full cycles.
	var completed := 0
	var cycle_start := Time.get_ticks_msec()
	for i in CYCLES:
		p = await h.open_pair("cycle %d" % i)
		if not p[4]:
			break
		p[2].put_packet(("ping %d" % i).to_utf8_buffer())
		await h.wait_until(func(): return p[3].get_available_packet_count() == 1, "cycle %d message" % i, [p[0], p[1]])
		if p[3].get_available_packet_count() == 1 and p[3].get_packet().get_string_from_utf8() == "ping %d" % i:
			completed += 1
		p[0].close()
		p[1].close()
		Harness.unlink([p[0], p[1]])
	h.eq(completed, CYCLES, "create/connect/exchange/close cycles")
	print("%d cycles in %d ms" % [completed, Time.get_ticks_msec() - cycle_start])

	# Dropping every reference mid-transfer and mid-ICE must not crash or hang.
	p = await h.open_pair("drop")
	for i in 50:
		p[2].put_packet(PackedByteArray([i]))
	Harness.unlink([p[0], p[1]])
	p.clear()
	var half := Harness.pair()
	half[0].create_data_channel("x")
	half[0].create_offer()
	half[0].poll()
	Harness.unlink(half)
	half.clear()
	h.finish()
