## The plugin used from Godot `Thread`s, as a game's networking thread or a tool's worker uses it:
## two connections made, connected and used entirely on a thread (an in-band channel, so that
## `data_channel_received` is emitted there, and `get_stats()`); a connection made on the main
## thread and then driven from another thread; and two threads at work at once, each on its own
## pair. No object is used by two threads at once, as the engine asks. Before release builds left
## out gdext's main-thread check, the first call from a thread aborted the whole process.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const MESSAGES := 50
## How long a thread polls for a condition before giving up.
const THREAD_DEADLINE_MSEC := 20000


func _initialize() -> void:
	var h := Harness.new(self, "threads", 120.0)

	var worker := Thread.new()
	worker.start(_connect_and_talk)
	var report: Dictionary = worker.wait_to_finish()
	h.eq(report.get("opened"), true, "an in-band channel opened between two connections made on a thread")
	h.eq(report.get("announced"), 1, "data_channel_received was emitted once, on that thread")
	h.eq(report.get("received"), "ping", "a message arrived on the thread")
	h.eq(report.get("answered"), "pong", "the answer came back on the thread")
	h.eq(report.get("stats"), 1, "get_stats() on the thread lists the channel")

	var opened: Array = await h.open_pair("handover")
	var a: WebRTCPeerConnection = opened[0]
	var b: WebRTCPeerConnection = opened[1]
	var ca: WebRTCDataChannel = opened[2]
	var cb: WebRTCDataChannel = opened[3]
	if h.check(opened[4], "the main thread's pair opened"):
		var driver := Thread.new()
		driver.start(_exchange.bind(a, b, ca, cb, "handed over"))
		h.eq(driver.wait_to_finish(), MESSAGES,
			"every message a thread sent on the main thread's connection arrived there, in order")
		ca.put_packet("back".to_utf8_buffer())
		var back := [""]
		await h.wait_until(func():
			if cb.get_available_packet_count() > 0:
				back[0] = cb.get_packet().get_string_from_utf8()
			return not back[0].is_empty(), "a message on the main thread again", [a, b])
		h.eq(back[0], "back", "the main thread goes on using the connection after the thread")

		var both := [Thread.new(), Thread.new()]
		for thread: Thread in both:
			thread.start(_open_and_exchange)
		for thread: Thread in both:
			h.eq(thread.wait_to_finish(), MESSAGES, "a thread's own pair, while another thread runs its own")
	Harness.unlink([a, b])
	a.close()
	b.close()
	h.finish()


## On a thread: two linked connections, an in-band channel, one message each way. Returns what
## happened, for the main thread to check.
func _connect_and_talk() -> Dictionary:
	var report := {"opened": false, "announced": 0}
	var peers := Harness.pair()
	var a: WebRTCPeerConnection = peers[0]
	var b: WebRTCPeerConnection = peers[1]
	var announced: Array[WebRTCDataChannel] = []
	b.data_channel_received.connect(func(channel: WebRTCDataChannel): announced.append(channel))
	var ca := a.create_data_channel("chat")
	a.create_offer()
	report["opened"] = _poll_until(func(): return announced.size() == 1 \
		and announced[0].get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and ca.get_ready_state() == WebRTCDataChannel.STATE_OPEN, [a, b])
	report["announced"] = announced.size()
	if report["opened"]:
		var cb := announced[0]
		ca.put_packet("ping".to_utf8_buffer())
		if _poll_until(func(): return cb.get_available_packet_count() > 0, [a, b]):
			report["received"] = cb.get_packet().get_string_from_utf8()
			cb.put_packet("pong".to_utf8_buffer())
			if _poll_until(func(): return ca.get_available_packet_count() > 0, [a, b]):
				report["answered"] = ca.get_packet().get_string_from_utf8()
				report["stats"] = a.get_stats().get("data_channels", []).size()
	Harness.unlink([a, b])
	a.close()
	b.close()
	return report


## On a thread: a pair of its own with a negotiated channel, then MESSAGES messages through it.
func _open_and_exchange() -> int:
	var opening := Harness.offered_pair("own")
	var a: WebRTCPeerConnection = opening[0]
	var b: WebRTCPeerConnection = opening[1]
	var ca: WebRTCDataChannel = opening[2]
	var cb: WebRTCDataChannel = opening[3]
	var arrived := 0
	if _poll_until(func(): return ca.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
			and cb.get_ready_state() == WebRTCDataChannel.STATE_OPEN, [a, b]):
		arrived = _exchange(a, b, ca, cb, "own")
	Harness.unlink([a, b])
	a.close()
	b.close()
	return arrived


## Sends MESSAGES numbered messages from `ca` and reads them at `cb`, polling both connections.
## Returns how many arrived in order before the deadline.
func _exchange(a: WebRTCPeerConnection, b: WebRTCPeerConnection, ca: WebRTCDataChannel,
		cb: WebRTCDataChannel, tag: String) -> int:
	for i in MESSAGES:
		ca.put_packet(("%s %d" % [tag, i]).to_utf8_buffer())
	var in_order := [0]
	_poll_until(func():
		while cb.get_available_packet_count() > 0:
			if cb.get_packet().get_string_from_utf8() == "%s %d" % [tag, in_order[0]]:
				in_order[0] += 1
		return in_order[0] == MESSAGES, [a, b])
	return in_order[0]


## Polls `peers` every millisecond until `condition` holds or the deadline passes; for threads,
## which have no frames to await.
static func _poll_until(condition: Callable, peers: Array) -> bool:
	var deadline := Time.get_ticks_msec() + THREAD_DEADLINE_MSEC
	while Time.get_ticks_msec() < deadline:
		for peer: WebRTCPeerConnection in peers:
			peer.poll()
		if condition.call():
			return true
		OS.delay_usec(1000)
	return false
