## Two connections with the settings a user starts from, on whatever host this runs on: no
## `initialize()` at all (`--config=none`), or the engine's `networking/webrtc_signaling` demo
## configuration with Google's STUN server (`--config=signaling-demo`). Checks that they connect
## and trade a message each way, that every candidate names a real local address (never a
## wildcard), and with `--open-before-gathering` that the channel opened while the STUN server
## was still being resolved. get_stats() must name the pair in use, on this host's real addresses,
## and count the messages. Prints FIGURE lines: time to the first host candidate, to channel
## open, and to gathering complete. Run by tests/hosts/run.sh inside private namespaces.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const SIGNALING_DEMO_CONFIG := {"iceServers": [{"urls": ["stun:stun.l.google.com:19302"]}]}

var started_usec := 0
var first_candidate_ms := {}
var candidate_addresses: Array[String] = []


func _initialize() -> void:
	var args := {}
	for arg in OS.get_cmdline_user_args():
		var parts := arg.trim_prefix("--").split("=", true, 1)
		args[parts[0]] = parts[1] if parts.size() > 1 else "yes"
	var config: String = args.get("config", "none")
	var h := Harness.new(self, "default peers (%s)" % config, 60.0)

	started_usec = Time.get_ticks_usec()
	var a := WebRTCPeerConnection.new()
	var b := WebRTCPeerConnection.new()
	if config == "signaling-demo":
		h.eq(a.initialize(SIGNALING_DEMO_CONFIG), OK, "initialize with the signaling demo's config")
		h.eq(b.initialize(SIGNALING_DEMO_CONFIG), OK, "initialize with the signaling demo's config")
	watch_candidates(a, "a")
	watch_candidates(b, "b")
	Harness.link(a, b)
	var ca := a.create_data_channel("chat", {"negotiated": true, "id": 1})
	var cb := b.create_data_channel("chat", {"negotiated": true, "id": 1})
	h.eq(a.create_offer(), OK, "create_offer")

	var opened := await h.wait_until(func(): return ca.get_ready_state() == WebRTCDataChannel.STATE_OPEN \
		and cb.get_ready_state() == WebRTCDataChannel.STATE_OPEN, "channels open", [a, b], 20.0)
	var open_ms := elapsed_ms()
	var gathering_at_open := [a.get_gathering_state(), b.get_gathering_state()]
	if opened:
		h.eq(ca.put_packet("ping".to_utf8_buffer()), OK, "send a -> b")
		h.eq(cb.put_packet("pong".to_utf8_buffer()), OK, "send b -> a")
		await h.wait_until(func(): return ca.get_available_packet_count() > 0 \
			and cb.get_available_packet_count() > 0, "a message each way", [a, b])
		if ca.get_available_packet_count() > 0 and cb.get_available_packet_count() > 0:
			h.eq(cb.get_packet().get_string_from_utf8(), "ping", "message a -> b")
			h.eq(ca.get_packet().get_string_from_utf8(), "pong", "message b -> a")
	if opened:
		await check_stats(h, a, b)
	if args.has("open-before-gathering"):
		h.check(gathering_at_open.all(func(state): return state != WebRTCPeerConnection.GATHERING_STATE_COMPLETE),
			"the channel opened while the STUN server was still being resolved (gathering %s)" % [gathering_at_open])

	# Gathering goes on without a server that cannot be resolved, and ends.
	var gathered := await h.wait_until(func(): return a.get_gathering_state() == WebRTCPeerConnection.GATHERING_STATE_COMPLETE \
		and b.get_gathering_state() == WebRTCPeerConnection.GATHERING_STATE_COMPLETE, "gathering complete", [a, b], 30.0)
	var gathered_ms := elapsed_ms()

	var local := IP.get_local_addresses()
	h.check(not candidate_addresses.is_empty(), "host candidates were emitted")
	for address in candidate_addresses:
		h.check(address in local, "candidate address %s is a local interface address %s" % [address, local])
	h.check(first_candidate_ms.size() == 2, "both sides emitted candidates")
	print("candidates: ", candidate_addresses)
	print("FIGURE %s: first host candidate after %.1f ms, channel open after %.1f ms, gathering complete after %s" % [
		config, first_candidate_ms.values().min() if not first_candidate_ms.is_empty() else -1.0,
		open_ms, ("%.0f ms" % gathered_ms) if gathered else "(never)"])

	ca.close()
	cb.close()
	a.close()
	b.close()
	Harness.unlink([a, b])
	h.finish()


## What get_stats() says once the channel carried a message each way.
func check_stats(h, a: WebRTCPeerConnection, b: WebRTCPeerConnection) -> void:
	await h.wait_until(func(): return a.get_stats()["round_trip_time"] > 0.0, "a measured round trip",
		[a, b], 10.0)
	var stats: Dictionary = a.get_stats()
	var local: Dictionary = stats["local_candidate"]
	var remote: Dictionary = stats["remote_candidate"]
	h.check(local.get("address", "") in IP.get_local_addresses(),
		"the selected pair's local address %s is an interface address" % local.get("address", ""))
	h.check(local.get("type", "") in ["host", "prflx"] and remote.get("type", "") in ["host", "prflx"],
		"a direct pair (%s-%s)" % [local.get("type", ""), remote.get("type", "")])
	var channels: Array = stats["data_channels"]
	h.check(channels.size() == 1 and channels[0]["label"] == "chat" and channels[0]["messages_sent"] >= 1 \
		and channels[0]["messages_received"] >= 1, "the channel's messages are counted: %s" % [channels])
	print("stats: rtt %.2f ms, %s:%d (%s) -> %s:%d (%s)" % [stats["round_trip_time"] * 1000.0,
		local.get("address", ""), local.get("port", 0), local.get("type", ""),
		remote.get("address", ""), remote.get("port", 0), remote.get("type", "")])


func watch_candidates(peer: WebRTCPeerConnection, side: String) -> void:
	peer.ice_candidate_created.connect(func(_media: String, _index: int, name: String):
		if not first_candidate_ms.has(side):
			first_candidate_ms[side] = elapsed_ms()
		var address := name.split(" ", false)[4]
		if not address in candidate_addresses:
			candidate_addresses.append(address))


func elapsed_ms() -> float:
	return (Time.get_ticks_usec() - started_usec) / 1000.0
