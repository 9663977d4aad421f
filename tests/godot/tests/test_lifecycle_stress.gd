## Closing and freeing at every awkward moment, then 1,000 create / connect / exchange / close
## cycles in one process with memory, threads and file descriptors measured before and after.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const CYCLES := 1000
const WARMUP := 50
## Allocator noise over 1,000 cycles; a leak of one connection per cycle would be ~100 MB.
const RSS_SLACK_KIB := 16 * 1024


## Holds a connection and closes it when it leaves the tree, as a game's lobby node would.
class Holder extends Node:
	var peers: Array = []

	func _exit_tree() -> void:
		for peer in peers:
			peer.close()
		peers.clear()


## One full cycle; returns whether the message made it.
func cycle(h, i: int) -> bool:
	var p: Array = await h.open_pair("cycle %d" % i)
	if not p[4]:
		return false
	p[2].put_packet(("ping %d" % i).to_utf8_buffer())
	var got: bool = await h.wait_until(func(): return p[3].get_available_packet_count() == 1, "cycle %d message" % i, [p[0], p[1]])
	var ok: bool = got and p[3].get_packet().get_string_from_utf8() == "ping %d" % i
	p[0].close()
	p[1].close()
	Harness.unlink([p[0], p[1]])
	return ok


func _initialize() -> void:
	var h := Harness.new(self, "lifecycle_stress", 240.0)
	await process_frame

	# Close inside each signal handler, on the emitting connection.
	var lone := WebRTCPeerConnection.new()
	lone.initialize(Harness.LOOPBACK)
	var closed := [0]
	lone.session_description_created.connect(func(type, sdp):
		lone.set_local_description(type, sdp)
		lone.close()
		closed[0] += 1)
	lone.create_data_channel("x")
	lone.create_offer()
	await h.wait_until(func(): return closed[0] == 1, "close inside session_description_created", [lone])
	h.eq(lone.get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "closed inside session_description_created")
	Harness.unlink([lone])
	lone.initialize(Harness.LOOPBACK)
	lone.session_description_created.connect(func(type, sdp): lone.set_local_description(type, sdp))
	lone.ice_candidate_created.connect(func(_media, _index, _name):
		lone.close()
		closed[0] += 1)
	lone.create_data_channel("x")
	lone.create_offer()
	await h.wait_until(func(): return closed[0] == 2, "close inside ice_candidate_created", [lone])
	h.eq(lone.get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "closed inside ice_candidate_created")
	lone.poll()
	h.eq(closed[0], 2, "no candidate signals after the close")
	Harness.unlink([lone])
	# Close the receiving connection inside data_channel_received, with the channel in hand.
	var pr := Harness.pair()
	var got_channel := [null]
	pr[1].data_channel_received.connect(func(channel):
		got_channel[0] = channel
		pr[1].close())
	var in_band: WebRTCDataChannel = pr[0].create_data_channel("in-band")  # dropping it would close it
	pr[0].create_offer()
	await h.wait_until(func(): return got_channel[0] != null, "close inside data_channel_received", pr)
	if got_channel[0] != null:
		h.eq(got_channel[0].get_ready_state(), WebRTCDataChannel.STATE_CLOSED, "received channel closed with its connection")
	pr[0].close()
	Harness.unlink(pr)
	got_channel.clear()
	in_band = null

	# Close during ICE: offer, answer and candidates in flight.
	var ice := Harness.pair()
	ice[0].create_data_channel("x")
	ice[0].create_offer()
	ice[0].poll()
	ice[1].poll()
	ice[0].close()
	ice[1].close()
	h.eq(ice[1].get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "closed during ICE")
	Harness.unlink(ice)

	# Close a channel and its connection mid-transfer, then free them by dropping references.
	var p: Array = await h.open_pair("mid-transfer")
	for i in 200:
		p[2].put_packet(PackedByteArray([i & 255]).duplicate())
	p[3].close()
	p[0].close()
	h.eq(p[2].put_packet(PackedByteArray([1])), ERR_UNAVAILABLE, "send after close mid-transfer")
	Harness.unlink([p[0], p[1]])
	p.clear()

	# A node that closes its connections in _exit_tree, freed while connected.
	p = await h.open_pair("exit-tree")
	var holder := Holder.new()
	holder.peers = [p[0], p[1]]
	get_root().add_child(holder)
	var b: WebRTCPeerConnection = p[1]
	holder.queue_free()
	await process_frame
	h.eq(b.get_connection_state(), WebRTCPeerConnection.STATE_CLOSED, "_exit_tree closed its connections")
	Harness.unlink([p[0], p[1]])
	p.clear()
	b = null

	# 1,000 cycles: warm up, measure, run, let background closes finish, measure again.
	for i in WARMUP:
		await cycle(h, i)
	var before := Harness.process_stats()
	var completed := 0
	var started := Time.get_ticks_msec()
	for i in CYCLES:
		if await cycle(h, i):
			completed += 1
		elif completed < i - 5:
			break
	var elapsed := Time.get_ticks_msec() - started
	h.eq(completed, CYCLES, "create/connect/exchange/close cycles")
	var latest := [{}]
	await h.wait_until(func():
		latest[0] = Harness.process_stats()
		return latest[0]["fds"] <= before["fds"] and latest[0]["threads"] <= before["threads"],
		"descriptors and threads back to the baseline (before %s)" % [before], [], 15.0)
	var after: Dictionary = latest[0]
	print("%d cycles in %d ms (%.1f ms each); before %s, after %s; RSS %+d KiB" % [completed, elapsed,
		float(elapsed) / max(completed, 1), before, after, after["rss_kib"] - before["rss_kib"]])
	h.check(before["rss_kib"] > 0, "RSS readable")
	h.check(after["rss_kib"] - before["rss_kib"] < RSS_SLACK_KIB, "RSS growth under %d KiB: %s -> %s" % [RSS_SLACK_KIB, before, after])
	h.check(after["threads"] <= before["threads"], "no thread growth: %s -> %s" % [before, after])
	h.check(after["fds"] <= before["fds"], "no file descriptor growth: %s -> %s" % [before, after])
	h.finish()
