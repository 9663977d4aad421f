## Plays the demo without a person, for scripts and CI:
##   godot --headless --path demo_project -- --auto --server=ws://127.0.0.1:9080 --players=4
##     [--lobby=NAME] [--mode=mesh|server] [--seconds=3] [--quit-after=SECONDS]
##     [--bind=IP] [--turn=turn:HOST:PORT --turn-user=U --turn-password=P] [--relay-only]
##     [--token=JOIN_TOKEN] [--trust=CERT.pem [--tls-name=NAME]] [--expect-resume]
## --trust makes a wss:// server's self-signed certificate trusted (checked against NAME, by
## default the URL's host); --token is the join token a server with a join secret needs.
## A dropped WebSocket prints "RECONNECTING" and, with the seat back, "RESUMED"; with
## --expect-resume the run fails unless that happened (a test cuts the WebSocket).
## Without --lobby it hosts: it creates the lobby, prints "LOBBY <name>", and seals it once all
## players are connected ("SEALED"). Everyone steers in circles, chats and pings for --seconds,
## then prints one SUMMARY line and exits 0 only if it saw every player and every chat line.
## With --quit-after it announces that it is leaving and quits early; the others must then see
## it disconnect within 10 s. A refused join prints "ERROR <reason>" and exits 3; a connection
## that fails before connecting (unreachable, TURN refused) prints "FAILED ..." and exits 4.
##
## Ending cleanly needs two rounds: "done" carries how many chat lines we sent (so receivers can
## check they got them all), "bye" says we have everyone's "done". Nobody quits before every
## other player said "bye" or left, so nobody leaves before its "done" arrived everywhere. A
## server/client host relays for the others, so it waits until they are all gone.
extends Node

const EXIT_REFUSED := 3
const EXIT_CONNECTION_FAILED := 4
const DISCONNECT_LIMIT_MS := 10000
const CHAT_EVERY := 0.5
const PING_EVERY := 0.5

var game: Node
var server := "ws://127.0.0.1:9080"
var lobby_name := ""
var mesh := true
var players := 2
var seconds := 3.0
var quit_after := -1.0

var seen := {}
## Chat lines each peer says it sent, from its "done" or "leaving".
var announced := {}
var chat_from := {}
## Peer → the numbers of its chat lines ("hello #N"), in the order they arrived.
var chat_numbers := {}
var byes := {}
var disconnected := {}
## Peer → msec when we acknowledged its "leaving"; then how long until it was gone.
var leaving_since := {}
var leave_ms := {}
var rtts: Array[float] = []
## Direct connection → "RTTms/local-remote candidate types" from get_stats(), taken at the end
## of play ("host-relay": we reach the peer's TURN relay address directly).
var link_routes := {}
var failures: Array[String] = []
var chat_calls := 0
var _refusal := ""
## Where ICE binds (loopback unless told), and an optional TURN server to relay through.
var bind_address := "127.0.0.1"
var turn_url := ""
var turn_user := ""
var turn_password := ""
var relay_only := false
var token := ""
var trust := ""
var tls_name := ""
var expect_resume := false
var resumed := 0


func start(p_game: Node, args: PackedStringArray) -> void:
	game = p_game
	for arg in args:
		var value := arg.get_slice("=", 1)
		match arg.get_slice("=", 0):
			"--server": server = value
			"--lobby": lobby_name = value
			"--mode": mesh = value != "server"
			"--players": players = maxi(2, value.to_int())
			"--seconds": seconds = value.to_float()
			"--quit-after": quit_after = value.to_float()
			"--bind": bind_address = value
			"--turn": turn_url = value
			"--turn-user": turn_user = value
			"--turn-password": turn_password = value
			"--relay-only": relay_only = true
			"--token": token = value
			"--trust": trust = value
			"--tls-name": tls_name = value
			"--expect-resume": expect_resume = true
	# A headless loop otherwise spins as fast as it can; several instances share the CPU.
	Engine.max_fps = 120
	game.multiplayer.peer_connected.connect(func(id: int): seen[id] = true)
	game.multiplayer.peer_disconnected.connect(_on_peer_disconnected)
	# A client that loses the host loses everyone the host relayed for it.
	game.multiplayer.server_disconnected.connect(func():
		for peer in seen:
			if not disconnected.has(peer):
				_on_peer_disconnected(peer))
	game.chat_received.connect(func(from: int, text: String):
		chat_from[from] = chat_from.get(from, 0) + 1
		chat_numbers.get_or_add(from, []).append(text.get_slice("#", 1).get_slice(" ", 0).to_int()))
	game.pong_received.connect(func(_from: int, rtt_usec: int): rtts.append(rtt_usec / 1000.0))
	game.lobby.lobby_error.connect(func(message: String):
		if game.lobby.id == 0:
			_refusal = message
		else:
			print("server: ", message))
	game.lobby.signaling_closed.connect(func(code: int, _reason: String):
		if game.lobby.id == 0 and _refusal.is_empty():
			_refusal = "cannot reach %s (close code %d)" % [server, code])
	game.lobby.lobby_sealed.connect(func(): print("SEALED lobby=%s pid=%d" % [game.lobby.lobby, OS.get_process_id()]))
	game.lobby.signaling_reconnecting.connect(func(attempt: int, delay: float):
		print("RECONNECTING attempt=%d in %.1f s" % [attempt, delay]))
	game.lobby.lobby_resumed.connect(func(lobby: String, id: int):
		resumed += 1
		print("RESUMED lobby=%s id=%d" % [lobby, id]))
	game.lobby.peer_failed.connect(func(peer: int):
		print("FAILED connection to player %d (see the errors above)" % peer)
		get_tree().quit(EXIT_CONNECTION_FAILED))
	game.lobby.peer_config = {"bindAddresses": [bind_address], "mdns": false}
	if not turn_url.is_empty():
		game.lobby.peer_config["iceServers"] = [{"urls": [turn_url], "username": turn_user, "credential": turn_password}]
	if relay_only:
		game.lobby.peer_config["iceTransportPolicy"] = "relay"
	_run()


func _run() -> void:
	if not trust.is_empty():
		var certificate := X509Certificate.new()
		if certificate.load(trust) == OK:
			game.lobby.tls_options = TLSOptions.client(certificate, tls_name)
		else:
			_refusal = "cannot load the certificate to trust from %s" % trust
	if _refusal.is_empty():
		game.lobby.join(server, lobby_name, mesh, token)
	if not await _wait(func(): return game.lobby.id != 0 or not _refusal.is_empty(), 15.0,
			"joining the lobby"):
		_finish()
		return
	if not _refusal.is_empty():
		print("ERROR ", _refusal)
		get_tree().quit(EXIT_REFUSED)
		return
	var me: int = game.lobby.id
	if me == 1:
		print("LOBBY ", game.lobby.lobby)
	if not await _wait(func(): return seen.size() >= players - 1, 45.0, "seeing every player"):
		_finish()
		return
	if me == 1:
		game.lobby.seal()

	if await _play():
		return
	for peer in game.multiplayer.get_peers():
		_done.rpc_id(peer, chat_calls)
	await _wait(func(): return _everyone(func(peer): return announced.has(peer)), 15.0,
		"every player's chat count")
	for peer in game.multiplayer.get_peers():
		_bye.rpc_id(peer)
	if mesh or game.lobby.id != 1:
		await _wait(func(): return _everyone(func(peer): return byes.has(peer) or disconnected.has(peer)),
			10.0, "every player's goodbye")
	else:
		# The host relays the clients' goodbyes to each other, so it leaves last.
		await _wait(func(): return _everyone(func(peer): return disconnected.has(peer)),
			10.0, "every client to leave")
	await _wait(func(): return leaving_since.keys().all(func(peer): return disconnected.has(peer)),
		DISCONNECT_LIMIT_MS / 1000.0, "players who left to be disconnected")
	_finish()


## Steers in a circle, chats and pings for `seconds`. Returns true when we left early.
func _play() -> bool:
	var started := Time.get_ticks_msec()
	var next_chat := 0.0
	var next_ping := 0.0
	var phase := float(game.lobby.id)
	while true:
		var elapsed := (Time.get_ticks_msec() - started) / 1000.0
		if elapsed >= seconds:
			_note_links()
			return false
		if quit_after >= 0.0 and elapsed >= quit_after:
			await _leave_early()
			return true
		game.steering = Vector2.from_angle(phase + elapsed * 3.0)
		if elapsed >= next_chat:
			next_chat += CHAT_EVERY
			chat_calls += 1
			game.say("hello #%d from %d" % [chat_calls, game.lobby.id])
		if elapsed >= next_ping:
			next_ping += PING_EVERY
			for peer in game.multiplayer.get_peers():
				game.ping_peer(peer)
		await get_tree().process_frame
	return false


## Records how each direct connection is routed; a connected player without a selected
## candidate pair would mean get_stats() does not see the path the game uses.
func _note_links() -> void:
	var links: Dictionary = game.link_stats()
	for peer in links:
		var stats: Dictionary = links[peer]
		var local: String = stats["local_candidate"].get("type", "")
		var remote: String = stats["remote_candidate"].get("type", "")
		if local.is_empty() or remote.is_empty():
			failures.append("get_stats() shows no selected pair for player %d" % peer)
		link_routes[peer] = "%.1fms/%s-%s" % [stats["round_trip_time"] * 1000.0, local, remote]


## Says goodbye with our chat count, waits until everyone acknowledged, then quits.
func _leave_early() -> void:
	for peer in game.multiplayer.get_peers():
		_leaving.rpc_id(peer, chat_calls)
	await _wait(func(): return _everyone(func(peer): return byes.has(peer) or disconnected.has(peer)),
		5.0, "acknowledgements of our leaving")
	print("LEAVING id=%d" % game.lobby.id)
	_finish()


@rpc("any_peer", "call_remote", "reliable")
func _done(sent_chat: int) -> void:
	announced[multiplayer.get_remote_sender_id()] = sent_chat


@rpc("any_peer", "call_remote", "reliable")
func _bye() -> void:
	byes[multiplayer.get_remote_sender_id()] = true


@rpc("any_peer", "call_remote", "reliable")
func _leaving(sent_chat: int) -> void:
	var peer := multiplayer.get_remote_sender_id()
	announced[peer] = sent_chat
	leaving_since[peer] = Time.get_ticks_msec()
	_bye.rpc_id(peer)


func _on_peer_disconnected(peer: int) -> void:
	disconnected[peer] = true
	if leaving_since.has(peer):
		leave_ms[peer] = Time.get_ticks_msec() - leaving_since[peer]
	elif not announced.has(peer):
		failures.append("player %d dropped out mid-game" % peer)


## True when `condition` holds for every player we have seen.
func _everyone(condition: Callable) -> bool:
	return seen.keys().all(condition)


func _wait(condition: Callable, limit: float, what: String) -> bool:
	var deadline := Time.get_ticks_msec() + int(limit * 1000.0)
	while not condition.call():
		if Time.get_ticks_msec() > deadline:
			failures.append("timed out after %.0f s waiting for %s" % [limit, what])
			return false
		await get_tree().process_frame
	return true


## The numbers of the lines `peer` announced that never arrived, for the failure message.
func _missing_lines(peer: int) -> String:
	var got: Array = chat_numbers.get(peer, [])
	var missing := PackedStringArray()
	for number in range(1, announced[peer] + 1):
		if not got.has(number):
			missing.append("#%d" % number)
	return ", ".join(missing) if not missing.is_empty() else "none, but too many arrived"


func _finish() -> void:
	if seen.size() != players - 1:
		failures.append("saw %d of %d other players" % [seen.size(), players - 1])
	var expected_chat := 0
	for peer in seen:
		if not announced.has(peer):
			continue
		expected_chat += announced[peer]
		if chat_from.get(peer, 0) != announced[peer]:
			failures.append("got %d of %d chat lines from player %d (missing %s)"
				% [chat_from.get(peer, 0), announced[peer], peer, _missing_lines(peer)])
		elif chat_numbers.get(peer, []) != range(1, announced[peer] + 1):
			failures.append("chat lines from player %d arrived as %s" % [peer, chat_numbers.get(peer, [])])
	if game.stats["unreliable_received"] == 0:
		failures.append("no position updates arrived")
	if rtts.is_empty():
		failures.append("no ping was answered")
	if expect_resume and resumed == 0:
		failures.append("the WebSocket was to be cut and the seat resumed; it was not")
	for peer in leave_ms:
		if leave_ms[peer] > DISCONNECT_LIMIT_MS:
			failures.append("player %d was reported gone after %d ms" % [peer, leave_ms[peer]])
	rtts.sort()
	var left := PackedStringArray()
	for peer in leave_ms:
		left.append("%d:%dms" % [peer, leave_ms[peer]])
	var routes := PackedStringArray()
	for peer in link_routes:
		routes.append("%d:%s" % [peer, link_routes[peer]])
	print("SUMMARY mode=%s id=%d peers_seen=%d/%d unreliable_sent=%d unreliable_received=%d"
		% ["mesh" if mesh else "server", game.lobby.id, seen.size(), players - 1,
			game.stats["unreliable_sent"], game.stats["unreliable_received"]]
		+ " reliable_sent=%d reliable_received=%d/%d rtt_ms_p50=%.2f rtt_ms_max=%.2f links=%s left=%s result=%s"
		% [game.stats["reliable_sent"], game.stats["reliable_received"], expected_chat,
			_percentile(0.5), _percentile(1.0), ",".join(routes) if not routes.is_empty() else "-",
			",".join(left) if not left.is_empty() else "-",
			"ok" if failures.is_empty() else "FAIL"])
	for failure in failures:
		print("FAILURE ", failure)
	game.lobby.leave()
	get_tree().quit(0 if failures.is_empty() else 1)


func _percentile(fraction: float) -> float:
	if rtts.is_empty():
		return -1.0
	return rtts[mini(rtts.size() - 1, int(fraction * (rtts.size() - 1)))]
