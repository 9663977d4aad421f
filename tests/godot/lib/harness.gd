## Shared helpers for the headless test scripts: checks that name what failed, waiting on a
## condition with a deadline while polling connections, and in-process signaling.
extends RefCounted

## Keeps every packet on loopback and sends no multicast.
const LOOPBACK := {"bindAddresses": ["127.0.0.1"], "mdns": false}

var tree: SceneTree
var name: String
var checks := 0
var failures: Array[String] = []


func _init(p_tree: SceneTree, p_name: String, watchdog_seconds := 60.0) -> void:
	tree = p_tree
	name = p_name
	# A script error aborts the test coroutine without quitting; fail fast instead of hanging.
	tree.create_timer(watchdog_seconds).timeout.connect(func():
		failures.append("watchdog: still running after %.0f s (script error?)" % watchdog_seconds)
		print("RESULT FAIL %s (watchdog after %.0f s)" % [name, watchdog_seconds])
		tree.quit(1))


func check(condition: bool, what: String) -> bool:
	checks += 1
	if not condition:
		failures.append(what)
		printerr("  FAIL: ", what)
	return condition


func eq(actual, expected, what: String) -> bool:
	return check(typeof(actual) == typeof(expected) and actual == expected,
		"%s: expected %s, got %s" % [what, var_to_str(expected), var_to_str(actual)])


## Polls `peers` every frame until `condition` holds or `seconds` pass. Returns whether it held.
func wait_until(condition: Callable, what: String, peers: Array = [], seconds := 10.0) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000)
	while true:
		for peer in peers:
			peer.poll()
		if condition.call():
			return true
		if Time.get_ticks_msec() > deadline:
			return check(false, "timed out after %.1f s waiting for %s" % [seconds, what])
		await tree.process_frame
	return false


## Wires two connections together in-process, as a signaling server would. With `a_seen_at`
## ("ip:port") B is told that A's candidates live there, and likewise `b_seen_at` for A: a
## middlebox at those addresses is then the only path between them.
static func link(a: WebRTCPeerConnection, b: WebRTCPeerConnection, a_seen_at := "", b_seen_at := "") -> void:
	a.session_description_created.connect(func(type, sdp):
		a.set_local_description(type, sdp)
		b.set_remote_description(type, sdp))
	b.session_description_created.connect(func(type, sdp):
		b.set_local_description(type, sdp)
		a.set_remote_description(type, sdp))
	a.ice_candidate_created.connect(func(media, index, cand): b.add_ice_candidate(media, index, rewrite(cand, a_seen_at)))
	b.ice_candidate_created.connect(func(media, index, cand): a.add_ice_candidate(media, index, rewrite(cand, b_seen_at)))


## Replaces a candidate line's address and port with `endpoint` ("ip:port"); unchanged when empty.
static func rewrite(candidate: String, endpoint: String) -> String:
	if endpoint.is_empty():
		return candidate
	var fields := candidate.split(" ", false)
	var cut := endpoint.rfind(":")
	fields[4] = endpoint.substr(0, cut)
	fields[5] = endpoint.substr(cut + 1)
	return " ".join(fields)


## Disconnects every handler `link` made, breaking the peer ↔ closure reference cycles.
static func unlink(peers: Array) -> void:
	for peer in peers:
		for sig in ["session_description_created", "ice_candidate_created", "data_channel_received"]:
			for connection in peer.get_signal_connection_list(sig):
				peer.disconnect(sig, connection["callable"])


## Two initialized, linked connections on loopback; `extra` adds config keys to both.
static func pair(extra := {}) -> Array:
	var config := LOOPBACK.merged(extra)
	var a := WebRTCPeerConnection.new()
	var b := WebRTCPeerConnection.new()
	a.initialize(config)
	b.initialize(config)
	link(a, b)
	return [a, b]


## A linked loopback pair with a negotiated channel `label` (id 1) open on both sides:
## [a, b, a's channel, b's channel, whether it opened within `seconds`].
func open_pair(label: String, seconds := 10.0) -> Array:
	var opening := offered_pair(label)
	var ca: WebRTCDataChannel = opening[2]
	var cb: WebRTCDataChannel = opening[3]
	var ok: bool = await wait_until(func(): return ca.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and cb.get_ready_state() == WebRTCDataChannel.STATE_OPEN, "%s open" % label, opening.slice(0, 2), seconds)
	return opening + [ok]


## A linked loopback pair with a negotiated channel `label` (id 1) on each side and the offer
## made, for the caller to poll open: [a, b, a's channel, b's channel]. Usable on any thread.
static func offered_pair(label: String) -> Array:
	var peers := pair()
	var a: WebRTCPeerConnection = peers[0]
	var b: WebRTCPeerConnection = peers[1]
	var ca := a.create_data_channel(label, {"negotiated": true, "id": 1})
	var cb := b.create_data_channel(label, {"negotiated": true, "id": 1})
	a.create_offer()
	return [a, b, ca, cb]


## Prints the verdict line the runner reads and quits with a matching exit code.
func finish() -> void:
	if failures.is_empty() and checks > 0:
		print("RESULT PASS %s (%d checks)" % [name, checks])
		tree.quit(0)
	else:
		print("RESULT FAIL %s (%d of %d checks failed)" % [name, failures.size(), checks])
		tree.quit(1)


## This process's resident memory (KiB), thread count and open file descriptors, from /proc.
static func process_stats() -> Dictionary:
	var stats := {"rss_kib": -1, "threads": -1, "fds": DirAccess.get_files_at("/proc/self/fd").size()}
	var status := FileAccess.open("/proc/self/status", FileAccess.READ)
	if status == null:
		return stats
	while not status.eof_reached():
		var line := status.get_line()
		if line.begins_with("VmRSS:"):
			stats["rss_kib"] = line.split(":")[1].strip_edges().split(" ")[0].to_int()
		elif line.begins_with("Threads:"):
			stats["threads"] = line.split(":")[1].strip_edges().to_int()
	return stats
