## Joins a lobby on a webrtc-signaling server and builds the game's WebRTCMultiplayerPeer.
##
## Add it as a child node (or `preload("res://addons/webrtc_rs/lobby_client.gd").new()`), then:
## [codeblock]
## lobby.join("ws://127.0.0.1:9080")             # create a lobby (you are its host, id 1)
## lobby.join("ws://127.0.0.1:9080", "K7PQ2M")   # or join one by name
## [/codeblock]
## Once joined it assigns [member multiplayer_peer] to this node's MultiplayerAPI, so RPCs and
## [code]multiplayer.peer_connected[/code] work as with any other peer. In mesh mode everyone
## connects to everyone; in server/client mode everyone connects to the host, who relays.
## The newcomer always makes the offers, so two peers never offer to each other at once.
## If the WebSocket drops while in a lobby, the client reconnects with back-off and takes its
## seat back (the server keeps it 30 s by default); the WebRTC connections play on meanwhile.
extends Node

## The server accepted us into [param lobby] as peer [param id].
signal lobby_joined(lobby: String, id: int, mesh: bool)
## The host sealed the lobby: no one else can join. The server drops our WebSocket after a
## grace period; the WebRTC connections stay up.
signal lobby_sealed
## A peer became reachable (directly, or through the host in server/client mode).
signal peer_connected(id: int)
signal peer_disconnected(id: int)
## The connection to [param id] failed before it ever connected: the peer is unreachable, or
## a TURN server refused us (the reason is in the error log).
signal peer_failed(id: int)
## The server refused something (lobby full, sealed, unknown...) or sent something unreadable.
signal lobby_error(message: String)
## The WebSocket to the server closed for good ([param code] is -1 when it never opened).
signal signaling_closed(code: int, reason: String)
## The WebSocket dropped while in a lobby; attempt [param attempt] to get the seat back starts
## in [param delay] seconds. The game goes on: only new players wait for us meanwhile.
signal signaling_reconnecting(attempt: int, delay: float)
## The seat is back after a dropped WebSocket: same lobby, same id.
signal lobby_resumed(lobby: String, id: int)

## Configuration for each WebRTCPeerConnection: iceServers, bindAddresses, mdns...
@export var peer_config: Dictionary = {}
## Assign the multiplayer peer to this node's MultiplayerAPI once the lobby is joined.
@export var assign_multiplayer := true
## For a [code]wss://[/code] server whose certificate is not signed by a known authority
## (self-signed, a private CA): [code]TLSOptions.client(X509Certificate)[/code] trusting it.
## The default trusts the system's authorities.
var tls_options: TLSOptions = null

## The server closes connections that stay silent for 60 s.
const KEEPALIVE_SECONDS := 20.0
## Reconnection attempts wait 0.5 s, 1 s, 2 s... up to 8 s, and stop once the seat would be
## gone (the server's default --resume-grace).
const RECONNECT_FIRST_DELAY := 0.5
const RECONNECT_MAX_DELAY := 8.0
const RESUME_GRACE_SECONDS := 30.0
## Close codes after which the seat may still be there: none (the connection broke), "going
## away" and "service restart" (a server instance shutting down). The server closes normally
## when the lobby ends or another connection took the seat.
const RESUMABLE_CLOSE_CODES: Array[int] = [-1, 1001, 1012]

var multiplayer_peer := WebRTCMultiplayerPeer.new()
var lobby := ""
var id := 0
var mesh := true
var sealed := false

## TURN servers with credentials the signaling server minted for us (when it has a TURN
## secret), added to [member peer_config]'s iceServers for every connection.
var _minted_ice_servers: Array = []

var _socket := WebSocketPeer.new()
var _socket_state := WebSocketPeer.STATE_CLOSED
var _url := ""
var _join_request := {}
## Given in "joined": takes the seat back on a new WebSocket.
var _resume_token := ""
## While reconnecting: the attempt number, seconds until it starts, when to give up (msec).
var _reconnect_attempt := 0
var _reconnect_in := -1.0
var _give_up_at := 0
## What the game sent while the WebSocket was down (candidates, answers), for after the resume.
var _unsent: Array[Dictionary] = []
var _since_keepalive := 0.0
## Connections not yet connected, by peer id, watched for failure.
var _pending := {}


func _ready() -> void:
	if assign_multiplayer:
		multiplayer.peer_connected.connect(func(peer: int): peer_connected.emit(peer))
		multiplayer.peer_disconnected.connect(func(peer: int): peer_disconnected.emit(peer))


## Connects to [param url] and joins [param lobby_name], or creates a lobby when it is empty.
## [param use_mesh] only matters when creating: joiners adopt the lobby's mode. [param token]
## is the join token the game's backend minted, for a server started with --join-secret-file.
func join(url: String, lobby_name := "", use_mesh := true, token := "") -> Error:
	leave()
	var err := _socket.connect_to_url(url, tls_options)
	if err != OK:
		lobby_error.emit("cannot connect to %s: %s" % [url, error_string(err)])
		return err
	_url = url
	_socket_state = WebSocketPeer.STATE_CONNECTING
	_join_request = {"type": "join", "lobby": lobby_name, "mesh": use_mesh}
	if not token.is_empty():
		_join_request["token"] = token
	return OK


## Host only: lets no one else in. Call it when the match starts.
func seal() -> void:
	_send({"type": "seal"})


## Leaves the lobby and closes every WebRTC connection.
func leave() -> void:
	if _socket.get_ready_state() != WebSocketPeer.STATE_CLOSED:
		_socket.close()
	if is_inside_tree() and multiplayer.multiplayer_peer == multiplayer_peer:
		multiplayer.multiplayer_peer = OfflineMultiplayerPeer.new()
	multiplayer_peer.close()
	multiplayer_peer = WebRTCMultiplayerPeer.new()
	_pending.clear()
	lobby = ""
	id = 0
	sealed = false
	_join_request = {}
	_resume_token = ""
	_reconnect_in = -1.0
	_unsent.clear()


func _process(delta: float) -> void:
	if _reconnect_in >= 0.0:
		_reconnect_in -= delta
		if _reconnect_in < 0.0:
			_reconnect()
	_socket.poll()
	var state := _socket.get_ready_state()
	if state == WebSocketPeer.STATE_OPEN and not _join_request.is_empty():
		_socket.send_text(JSON.stringify(_join_request))
		_join_request = {}
	while _socket.get_available_packet_count() > 0:
		_handle(_socket.get_packet().get_string_from_utf8())
	if state == WebSocketPeer.STATE_OPEN:
		_since_keepalive += delta
		if _since_keepalive >= KEEPALIVE_SECONDS:
			_since_keepalive = 0.0
			_send({"type": "ping"})
	for peer in _pending.keys():
		match _pending[peer].get_connection_state():
			WebRTCPeerConnection.STATE_CONNECTED:
				_pending.erase(peer)
			WebRTCPeerConnection.STATE_FAILED, WebRTCPeerConnection.STATE_CLOSED:
				_pending.erase(peer)
				peer_failed.emit(peer)
	if state == WebSocketPeer.STATE_CLOSED and _socket_state != WebSocketPeer.STATE_CLOSED:
		_on_socket_closed()
	_socket_state = state


## A seat to go back to and time left: try again later; otherwise it is over.
func _on_socket_closed() -> void:
	var in_seat := id != 0 and not _resume_token.is_empty() \
		and _socket.get_close_code() in RESUMABLE_CLOSE_CODES
	if in_seat and _reconnect_attempt == 0:
		_give_up_at = Time.get_ticks_msec() + int(RESUME_GRACE_SECONDS * 1000.0)
	if in_seat and Time.get_ticks_msec() < _give_up_at:
		_reconnect_attempt += 1
		_reconnect_in = minf(RECONNECT_FIRST_DELAY * pow(2.0, _reconnect_attempt - 1),
			RECONNECT_MAX_DELAY)
		signaling_reconnecting.emit(_reconnect_attempt, _reconnect_in)
		return
	_reconnect_attempt = 0
	signaling_closed.emit(_socket.get_close_code(), _socket.get_close_reason())


func _reconnect() -> void:
	_reconnect_in = -1.0
	_join_request = {"type": "resume", "token": _resume_token}
	if _socket.connect_to_url(_url, tls_options) != OK:
		_on_socket_closed()


func _send(message: Dictionary) -> void:
	if _socket.get_ready_state() == WebSocketPeer.STATE_OPEN and _reconnect_attempt == 0:
		_socket.send_text(JSON.stringify(message))
	elif _reconnect_attempt > 0 and message["type"] != "ping":
		_unsent.append(message)


func _handle(text: String) -> void:
	var message = JSON.parse_string(text)
	if typeof(message) != TYPE_DICTIONARY or not message.has("type"):
		lobby_error.emit("unreadable message from the server: %s" % text.left(200))
		return
	var from := int(message.get("from", 0))
	match message["type"]:
		"joined":
			_on_joined(message)
		"resumed":
			_reconnect_attempt = 0
			for unsent in _unsent:
				_send(unsent)
			_unsent.clear()
			lobby_resumed.emit(lobby, id)
		"offer":
			var connection := _connection_for(from)
			if connection == null:
				connection = _connect_to(from)
			if connection != null:
				connection.set_remote_description("offer", str(message.get("sdp", "")))
		"answer":
			var connection := _connection_for(from)
			if connection != null:
				connection.set_remote_description("answer", str(message.get("sdp", "")))
		"candidate":
			var connection := _connection_for(from)
			if connection != null:
				connection.add_ice_candidate(str(message.get("media", "")),
					int(message.get("index", 0)), str(message.get("name", "")))
		"peer_left":
			var peer := int(message.get("id", 0))
			if multiplayer_peer.has_peer(peer):
				multiplayer_peer.remove_peer(peer)
		"sealed":
			sealed = true
			lobby_sealed.emit()
		"error":
			lobby_error.emit(str(message.get("message", "unknown error")))
			if _reconnect_attempt > 0:
				# The seat is gone: stop trying. Closing reports signaling_closed.
				_resume_token = ""
				_socket.close()


func _on_joined(message: Dictionary) -> void:
	lobby = str(message.get("lobby", ""))
	id = int(message.get("id", 0))
	mesh = bool(message.get("mesh", true))
	_resume_token = str(message.get("resume", ""))
	var minted = message.get("ice_servers", [])
	_minted_ice_servers = minted if typeof(minted) == TYPE_ARRAY else []
	var err: Error
	if mesh:
		err = multiplayer_peer.create_mesh(id)
	elif id == 1:
		err = multiplayer_peer.create_server()
	else:
		err = multiplayer_peer.create_client(id)
	if err != OK:
		lobby_error.emit("cannot create the multiplayer peer: %s" % error_string(err))
		return
	if assign_multiplayer:
		multiplayer.multiplayer_peer = multiplayer_peer
	else:
		multiplayer_peer.peer_connected.connect(func(peer: int): peer_connected.emit(peer))
		multiplayer_peer.peer_disconnected.connect(func(peer: int): peer_disconnected.emit(peer))
	lobby_joined.emit(lobby, id, mesh)
	# The newcomer offers to everyone it must reach; they answer.
	for peer in message.get("peers", []):
		var connection := _connect_to(int(peer))
		if connection != null:
			connection.create_offer()


func _links_to(peer: int) -> bool:
	return mesh or id == 1 or peer == 1


func _connection_for(peer: int) -> WebRTCPeerConnection:
	if multiplayer_peer.has_peer(peer):
		return multiplayer_peer.get_peer(peer)["connection"]
	return null


func _connect_to(peer: int) -> WebRTCPeerConnection:
	if peer == id or not _links_to(peer) or multiplayer_peer.has_peer(peer):
		return null
	var connection := WebRTCPeerConnection.new()
	var config := peer_config.duplicate(true)
	if not _minted_ice_servers.is_empty():
		config["iceServers"] = config.get("iceServers", []) + _minted_ice_servers
	var err := connection.initialize(config)
	if err != OK:
		lobby_error.emit("bad peer_config: %s" % error_string(err))
		return null
	connection.session_description_created.connect(_on_description.bind(peer))
	connection.ice_candidate_created.connect(_on_candidate.bind(peer))
	err = multiplayer_peer.add_peer(connection, peer)
	if err != OK:
		lobby_error.emit("cannot add peer %d: %s" % [peer, error_string(err)])
		return null
	_pending[peer] = connection
	return connection


func _on_description(type: String, sdp: String, peer: int) -> void:
	var connection := _connection_for(peer)
	if connection == null:
		return
	connection.set_local_description(type, sdp)
	_send({"type": type, "to": peer, "sdp": sdp})


func _on_candidate(media: String, index: int, candidate: String, peer: int) -> void:
	_send({"type": "candidate", "to": peer, "media": media, "index": index, "name": candidate})
