## Reliable chat must never go missing, even on a loaded machine and a lossy path: 50 lobbies of
## two players play at once in this process, each player a WebRTCMultiplayerPeer in a mesh, as
## the demo's players are. Each says a chat line every half second for 4 s on the reliable
## transfer mode (what a reliable RPC rides on), beside positions on the unreliable mode at
## 60 Hz, and finally a "done" line carrying how many lines it said. Meanwhile two busy
## processes keep both cores loaded at normal priority, as a game that renders does. Runs
## twice: on a clean path, and with every connection through its own udp-impair relay
## dropping 3 % each way ($UDP_IMPAIR). Every line must arrive exactly once and in order before
## its sender's "done"; delivery times are printed as FIGURE lines.
# time-limit: 240
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const LOBBIES := 50
const SECONDS := 4.0
const CHAT_EVERY_MS := 500
const POSITION_EVERY_MS := 16
## How long after the last line every line may take to arrive (a generous multiple of the
## worst repair time, 3 s of RTO back-off, so only a line that never comes fails).
const DRAIN_LIMIT_S := 30.0
const LOSS := 0.03


func _initialize() -> void:
	var h := Harness.new(self, "chat_stress", 230.0)
	var relay_bin := OS.get_environment("UDP_IMPAIR")
	if not h.check(relay_bin != "" and FileAccess.file_exists(relay_bin), "UDP_IMPAIR names the relay binary"):
		h.finish()
		return
	var busy := _start_load()
	h.check(busy.size() == 2, "two busy processes keep both cores loaded")
	for loss in [0.0, LOSS]:
		await _play_round(h, relay_bin, loss)
	for pid in busy:
		OS.kill(pid)
	h.finish()


## Two shell loops that spin until killed, or until this process is gone should it die first
## (`kill -0` is a shell builtin: the loop is pure CPU).
func _start_load() -> Array[int]:
	var pids: Array[int] = []
	for i in 2:
		var pid := OS.create_process("sh", ["-c", "while kill -0 $PPID 2>/dev/null; do :; done"])
		if pid > 0:
			pids.append(pid)
	return pids


func _play_round(h: Harness, relay_bin: String, loss: float) -> void:
	var what := "%s %% loss" % str(loss * 100.0)
	var relays: Array[Dictionary] = []
	var players: Array[Dictionary] = []
	for lobby in LOBBIES:
		var pair := _lobby(lobby, relay_bin, loss, relays)
		if pair.is_empty():
			h.check(false, "%s: lobby %d set up" % [what, lobby])
			break
		players.append_array(pair)
	var multiplayer_peers := players.map(func(p): return p["mp"])
	await h.wait_until(func(): return players.all(func(p): return p["mp"].get_peers().size() == 1 \
		and p["mp"].get_peer(p["other"])["connected"]), "%s: every lobby connected" % what,
		multiplayer_peers, 60.0)

	var latencies: Array[float] = []
	var problems: Array[String] = []
	var start := Time.get_ticks_msec()
	for p in players:
		p["next_chat"] = start
		p["next_position"] = start
	var chat_until := start + int(SECONDS * 1000.0)
	var drain_until := chat_until + int(DRAIN_LIMIT_S * 1000.0)
	while true:
		var now := Time.get_ticks_msec()
		for p in players:
			var mp: WebRTCMultiplayerPeer = p["mp"]
			mp.poll()
			if now < chat_until:
				if now >= p["next_position"]:
					p["next_position"] += POSITION_EVERY_MS
					_send(mp, MultiplayerPeer.TRANSFER_MODE_UNRELIABLE, PackedByteArray([0, 1, 2, 3]))
				if now >= p["next_chat"]:
					p["next_chat"] += CHAT_EVERY_MS
					p["said"] += 1
					_send(mp, MultiplayerPeer.TRANSFER_MODE_RELIABLE,
						var_to_bytes(["chat", p["said"], Time.get_ticks_usec()]))
			elif not p["done_sent"]:
				p["done_sent"] = true
				_send(mp, MultiplayerPeer.TRANSFER_MODE_RELIABLE, var_to_bytes(["done", p["said"]]))
			while mp.get_available_packet_count() > 0:
				var mode := mp.get_packet_mode()
				var packet := mp.get_packet()
				if mode == MultiplayerPeer.TRANSFER_MODE_RELIABLE:
					_on_reliable(p, bytes_to_var(packet), latencies, problems)
				elif packet.size() != 4:
					problems.append("lobby %d: a reliable message read as transfer mode %d" % [p["lobby"], mode])
		if players.all(func(p): return p["their_done"] >= 0):
			break
		if Time.get_ticks_msec() > drain_until:
			break
		await process_frame
	var said := 0
	for p in players:
		said += p["said"]
		if p["their_done"] < 0:
			problems.append("lobby %d: %d of the other's lines and no done after %.0f s" \
				% [p["lobby"], p["heard"], DRAIN_LIMIT_S])
		elif p["heard"] != p["their_done"]:
			problems.append("lobby %d: %d of %d lines before the done" \
				% [p["lobby"], p["heard"], p["their_done"]])
	for problem in problems.slice(0, 10):
		printerr("  ", what, ": ", problem)
	h.check(problems.is_empty(), "%s: every chat line arrived once, in order, before its sender's done (%d problems)" \
		% [what, problems.size()])
	h.check(latencies.size() == said, "%s: %d lines said, %d delivered" % [what, said, latencies.size()])
	latencies.sort()
	if not latencies.is_empty():
		print("FIGURE chat stress, %s, %d lobbies, cores busy: %d lines, delivery p50 %.1f ms, p99 %.1f ms, max %.1f ms" \
			% [what, LOBBIES, latencies.size(), latencies[latencies.size() / 2],
				latencies[mini(latencies.size() - 1, int(latencies.size() * 0.99))], latencies[-1]])

	for relay in relays:
		var pipe: FileAccess = relay["stdio"]
		pipe.store_line("stats")
		pipe.flush()
		var stats := pipe.get_line()
		if loss > 0.0 and not stats.contains(" lost=0 "):
			relay["lost"] = true
		pipe.store_line("quit")
		pipe.flush()
		pipe.close()
		relay["stderr"].close()
	if loss > 0.0:
		h.check(relays.any(func(r): return r.get("lost", false)), "%s: the relays dropped packets" % what)
	for p in players:
		p["mp"].close()
	Harness.unlink(players.map(func(p): return p["pc"]))


## One lobby: two multiplayer peers in a mesh, connected directly or through a fresh relay.
## Returns the two players' records, or nothing when the relay did not start.
func _lobby(lobby: int, relay_bin: String, loss: float, relays: Array[Dictionary]) -> Array[Dictionary]:
	var seen_at := ["", ""]
	if loss > 0.0:
		var relay := OS.execute_with_pipe(relay_bin, ["--loss", str(loss), "--seed", str(lobby + 1)])
		if relay.is_empty():
			return []
		var ready: PackedStringArray = relay["stdio"].get_line().split(" ")
		if ready.size() != 3 or ready[0] != "READY":
			return []
		relays.append(relay)
		seen_at = [ready[2], ready[1]]
	var result: Array[Dictionary] = []
	var pcs := [WebRTCPeerConnection.new(), WebRTCPeerConnection.new()]
	for i in 2:
		var mp := WebRTCMultiplayerPeer.new()
		mp.create_mesh(i + 1)
		pcs[i].initialize(Harness.LOOPBACK)
		mp.add_peer(pcs[i], 2 - i)
		result.append({"mp": mp, "pc": pcs[i], "other": 2 - i, "lobby": lobby, "said": 0, "heard": 0,
			"their_done": -1, "done_sent": false, "next_chat": 0, "next_position": 0})
	Harness.link(pcs[0], pcs[1], seen_at[0], seen_at[1])
	pcs[0].create_offer()
	return result


func _send(mp: WebRTCMultiplayerPeer, mode: int, packet: PackedByteArray) -> void:
	mp.set_transfer_mode(mode)
	mp.set_target_peer(0)
	mp.put_packet(packet)


## A reliable message from the other player: a chat line must be the next one, and the done
## line closes the count.
func _on_reliable(p: Dictionary, message: Variant, latencies: Array[float], problems: Array[String]) -> void:
	if not message is Array or message.is_empty():
		problems.append("lobby %d: a reliable message that is not ours" % p["lobby"])
	elif message[0] == "chat":
		if message[1] != p["heard"] + 1:
			problems.append("lobby %d: line %d after line %d" % [p["lobby"], message[1], p["heard"]])
		p["heard"] = message[1]
		latencies.append((Time.get_ticks_usec() - message[2]) / 1000.0)
	elif message[0] == "done":
		p["their_done"] = message[1]
