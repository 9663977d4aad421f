## A WebRTCMultiplayerPeer server and client whose only path is the udp-impair relay (started
## here as a child process, path in $UDP_IMPAIR). Traffic flows through it; then the path goes
## silent and both connections must report DISCONNECTED then FAILED, and both multiplayer peers
## peer_disconnected, within the documented 10 s.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const LIMIT_MS := 10000


func _initialize() -> void:
	var h := Harness.new(self, "impaired_path", 90.0)
	var relay_bin := OS.get_environment("UDP_IMPAIR")
	if not h.check(relay_bin != "" and FileAccess.file_exists(relay_bin), "UDP_IMPAIR names the relay binary"):
		h.finish()
		return
	var relay := OS.execute_with_pipe(relay_bin, ["--seed", "7"])
	if not h.check(not relay.is_empty(), "relay process started"):
		h.finish()
		return
	var pipe: FileAccess = relay["stdio"]
	var ready := pipe.get_line().split(" ")
	if not h.check(ready.size() == 3 and ready[0] == "READY", "relay says READY: %s" % " ".join(ready)):
		h.finish()
		return
	var for_a := ready[1]  # where the server's connection sends to reach the client
	var for_b := ready[2]

	var server := WebRTCMultiplayerPeer.new()
	var client := WebRTCMultiplayerPeer.new()
	h.eq(server.create_server(), OK, "create_server")
	h.eq(client.create_client(2), OK, "create_client")
	var a := WebRTCPeerConnection.new()
	var b := WebRTCPeerConnection.new()
	a.initialize(Harness.LOOPBACK)
	b.initialize(Harness.LOOPBACK)
	h.eq(server.add_peer(a, 2), OK, "server add_peer")
	h.eq(client.add_peer(b, 1), OK, "client add_peer")
	# Signaling as a server would relay it, except that each side learns the relay's address
	# instead of the other's: the relay is the only path.
	Harness.link(a, b, for_b, for_a)

	var events := []
	server.peer_connected.connect(func(id): events.append("server connected %d" % id))
	client.peer_connected.connect(func(id): events.append("client connected %d" % id))
	a.create_offer()
	await h.wait_until(func(): return server.get_peers().size() == 1 and server.get_peer(2)["connected"] \
		and client.get_peers().size() == 1 and client.get_peer(1)["connected"], "connected through the relay", [server, client])

	# Data crosses the relay.
	client.set_target_peer(1)
	client.put_packet("through the relay".to_utf8_buffer())
	await h.wait_until(func(): return server.get_available_packet_count() > 0, "a packet through the relay", [server, client])
	if server.get_available_packet_count() > 0:
		h.eq(server.get_packet().get_string_from_utf8(), "through the relay", "payload")
	pipe.store_line("stats")
	pipe.flush()
	var stats := pipe.get_line()
	h.check(stats.begins_with("STATS") and not stats.contains("sent=0 "), "relay forwarded traffic: %s" % stats)

	# The path dies.
	var gone := {}
	server.peer_disconnected.connect(func(id): gone["server"] = Time.get_ticks_msec())
	client.peer_disconnected.connect(func(id): gone["client"] = Time.get_ticks_msec())
	var seen := {}
	pipe.store_line("silent")
	pipe.flush()
	pipe.get_line()
	var cut := Time.get_ticks_msec()
	await h.wait_until(func():
		# The multiplayer peer drops a peer once it is not connected: poll the connections too.
		for pair in [["a", a], ["b", b]]:
			var state: int = pair[1].get_connection_state()
			if state == WebRTCPeerConnection.STATE_DISCONNECTED and not seen.has(pair[0] + " disconnected"):
				seen[pair[0] + " disconnected"] = Time.get_ticks_msec() - cut
			if state in [WebRTCPeerConnection.STATE_FAILED, WebRTCPeerConnection.STATE_CLOSED] and not seen.has(pair[0] + " failed"):
				seen[pair[0] + " failed"] = Time.get_ticks_msec() - cut
		return seen.has("a failed") and seen.has("b failed") and gone.size() == 2,
		"both sides to fail after the path went silent", [server, client, a, b], 15.0)
	for side in ["a", "b"]:
		h.check(seen.has(side + " disconnected"), "side %s reported DISCONNECTED" % side)
		h.check(seen.get(side + " failed", LIMIT_MS + 1) <= LIMIT_MS, "side %s FAILED within %d ms: %s" % [side, LIMIT_MS, seen])
		if seen.has(side + " disconnected") and seen.has(side + " failed"):
			h.check(seen[side + " disconnected"] < seen[side + " failed"], "side %s: DISCONNECTED before FAILED" % side)
	for who in ["server", "client"]:
		h.check(gone.has(who) and gone[who] - cut <= LIMIT_MS, "%s emitted peer_disconnected within %d ms" % [who, LIMIT_MS])
	print("silent path: %s; peer_disconnected after server %d ms, client %d ms" % [seen, gone.get("server", 0) - cut, gone.get("client", 0) - cut])

	pipe.store_line("quit")
	pipe.flush()
	pipe.close()
	relay["stderr"].close()
	relay.clear()
	server.close()
	client.close()
	Harness.unlink([a, b])
	for sig in ["peer_connected", "peer_disconnected"]:
		for peer in [server, client]:
			for connection in peer.get_signal_connection_list(sig):
				peer.disconnect(sig, connection["callable"])
	h.finish()
