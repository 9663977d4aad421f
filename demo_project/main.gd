## The demo game: a lobby screen, then a shared field where every player steers an avatar.
## Positions travel as unreliable RPCs, chat and pings as reliable ones, all over
## WebRTCMultiplayerPeer through the webrtc_rs addon. Run with `-- --auto ...` and autoplay.gd
## plays instead of a person (see the README).
extends Node2D

## Emitted for every chat line a peer sends us.
signal chat_received(from: int, text: String)
## Emitted when a peer answers our ping; [param rtt_usec] is the round trip.
signal pong_received(from: int, rtt_usec: int)

const LobbyClient := preload("res://addons/webrtc_rs/lobby_client.gd")
const Autoplay := preload("res://autoplay.gd")
const FIELD := Rect2(16, 64, 768, 400)
const SPEED := 240.0
## Physics ticks between position updates: 20 per second at the default 60 Hz.
const SEND_EVERY_TICKS := 3
const RADIUS := 14.0

var lobby: LobbyClient
## Peer id → last known position, ours included once joined.
var avatars := {}
## Per-mode message counts. "sent" counts one per recipient, to compare with "received".
var stats := {"unreliable_sent": 0, "unreliable_received": 0,
	"reliable_sent": 0, "reliable_received": 0}
## Direction for our avatar when no one is at the keyboard (set by autoplay).
var steering := Vector2.ZERO

var _tick := 0
var _lobby_panel: Control
var _server_url: LineEdit
var _lobby_name: LineEdit
var _mode: OptionButton
var _status: Label
var _seal_button: Button
var _chat_log: RichTextLabel
var _chat_input: LineEdit
## Each direct connection's ping and route, from the addon's get_stats().
var _links: Label


func _ready() -> void:
	lobby = LobbyClient.new()
	lobby.name = "Lobby"
	add_child(lobby)
	lobby.lobby_joined.connect(_on_lobby_joined)
	lobby.lobby_sealed.connect(func(): _set_status("Lobby %s sealed: match on." % lobby.lobby))
	lobby.lobby_error.connect(func(message: String): _set_status("Server says: " + message))
	lobby.signaling_closed.connect(_on_signaling_closed)
	multiplayer.peer_connected.connect(_on_peer_connected)
	multiplayer.peer_disconnected.connect(_on_peer_disconnected)
	_build_ui()
	var args := OS.get_cmdline_user_args()
	if args.has("--auto"):
		var autoplay := Autoplay.new()
		autoplay.name = "Autoplay"
		add_child(autoplay)
		autoplay.start(self, args)


## Moves our avatar and broadcasts its position.
func _physics_process(delta: float) -> void:
	if lobby.id == 0:
		return
	var direction := steering
	if _chat_input == null or not _chat_input.has_focus():
		var keys := Input.get_vector("ui_left", "ui_right", "ui_up", "ui_down")
		if keys != Vector2.ZERO:
			direction = keys
	var me := lobby.id
	var position_now: Vector2 = avatars.get(me, FIELD.get_center())
	position_now += direction * SPEED * delta
	position_now = position_now.clamp(FIELD.position + Vector2.ONE * RADIUS,
		FIELD.end - Vector2.ONE * RADIUS)
	avatars[me] = position_now
	_tick += 1
	var peers := multiplayer.get_peers()
	if _tick % SEND_EVERY_TICKS == 0 and not peers.is_empty():
		sync_position.rpc(position_now)
		stats["unreliable_sent"] += peers.size()
	if _tick % 30 == 0:
		_links.text = "\n".join(link_lines())
	queue_redraw()


## Per direct connection: the round trip ICE measured and how the peer is reached
## ("host" on a LAN, "srflx" through a NAT, "relay" through TURN), from get_stats().
func link_stats() -> Dictionary:
	var links := {}
	var rtc: WebRTCMultiplayerPeer = lobby.multiplayer_peer
	for id in rtc.get_peers():
		var connection = rtc.get_peer(id)["connection"]
		if connection.has_method("get_stats"):
			links[id] = connection.get_stats()
	return links


func link_lines() -> PackedStringArray:
	var lines := PackedStringArray()
	var links := link_stats()
	for id in links:
		var stats: Dictionary = links[id]
		lines.append("player %d: %.1f ms, %s to %s" % [id, stats["round_trip_time"] * 1000.0,
			stats["local_candidate"].get("type", "?"), stats["remote_candidate"].get("type", "?")])
	return lines


## Sends a chat line to everyone.
func say(text: String) -> void:
	var peers := multiplayer.get_peers()
	if peers.is_empty():
		return
	chat.rpc(text)
	stats["reliable_sent"] += peers.size()
	_add_chat_line(lobby.id, text)


## Measures the round trip to [param peer]; the answer arrives as [signal pong_received].
func ping_peer(peer: int) -> void:
	ping.rpc_id(peer, Time.get_ticks_usec())


@rpc("any_peer", "call_remote", "unreliable")
func sync_position(where: Vector2) -> void:
	stats["unreliable_received"] += 1
	avatars[multiplayer.get_remote_sender_id()] = where


@rpc("any_peer", "call_remote", "reliable")
func chat(text: String) -> void:
	stats["reliable_received"] += 1
	var from := multiplayer.get_remote_sender_id()
	_add_chat_line(from, text)
	chat_received.emit(from, text)


@rpc("any_peer", "call_remote", "reliable")
func ping(sent_usec: int) -> void:
	pong.rpc_id(multiplayer.get_remote_sender_id(), sent_usec)


@rpc("any_peer", "call_remote", "reliable")
func pong(sent_usec: int) -> void:
	pong_received.emit(multiplayer.get_remote_sender_id(), Time.get_ticks_usec() - sent_usec)


func _on_lobby_joined(lobby_name: String, id: int, mesh: bool) -> void:
	avatars[id] = FIELD.get_center()
	_lobby_panel.visible = false
	_seal_button.visible = id == 1
	_set_status("Lobby %s (%s): you are player %d.%s" % [lobby_name,
		"mesh" if mesh else "server/client", id,
		" Share the lobby name, then press Start." if id == 1 else ""])


func _on_signaling_closed(code: int, _reason: String) -> void:
	if lobby.id == 0:
		_set_status("Cannot reach the server (%d)." % code)
		_lobby_panel.visible = true


func _on_peer_connected(id: int) -> void:
	avatars[id] = FIELD.get_center()
	_add_chat_line(0, "player %d joined" % id)


func _on_peer_disconnected(id: int) -> void:
	avatars.erase(id)
	_add_chat_line(0, "player %d left" % id)


func _draw() -> void:
	draw_rect(FIELD, Color(0.12, 0.14, 0.18))
	draw_rect(FIELD, Color(0.4, 0.45, 0.55), false, 2.0)
	for id in avatars:
		var at: Vector2 = avatars[id]
		draw_circle(at, RADIUS, _color_of(id))
		if id == lobby.id:
			draw_arc(at, RADIUS + 3.0, 0.0, TAU, 32, Color.WHITE, 2.0)
		draw_string(ThemeDB.fallback_font, at + Vector2(-4, 5), str(id), HORIZONTAL_ALIGNMENT_LEFT,
			-1, 14, Color.BLACK)


static func _color_of(id: int) -> Color:
	return Color.from_hsv(fmod(id * 0.61803, 1.0), 0.6, 0.95)


func _set_status(text: String) -> void:
	_status.text = text


func _add_chat_line(from: int, text: String) -> void:
	if from == 0:
		_chat_log.append_text("[i]%s[/i]\n" % text)
	else:
		_chat_log.append_text("[color=#%s]%d:[/color] %s\n" % [_color_of(from).to_html(false),
			from, text.replace("[", "[lb]")])


func _build_ui() -> void:
	var ui := CanvasLayer.new()
	add_child(ui)
	_status = Label.new()
	_status.position = Vector2(16, 16)
	_status.text = "Host a lobby, or join one by name."
	ui.add_child(_status)

	_links = Label.new()
	_links.position = Vector2(600, 72)
	_links.modulate = Color(1, 1, 1, 0.7)
	ui.add_child(_links)

	_seal_button = Button.new()
	_seal_button.text = "Start (seal lobby)"
	_seal_button.position = Vector2(640, 12)
	_seal_button.visible = false
	_seal_button.pressed.connect(func():
		lobby.seal()
		_seal_button.disabled = true)
	ui.add_child(_seal_button)

	_chat_log = RichTextLabel.new()
	_chat_log.bbcode_enabled = true
	_chat_log.scroll_following = true
	_chat_log.position = Vector2(16, 472)
	_chat_log.size = Vector2(768, 88)
	ui.add_child(_chat_log)
	_chat_input = LineEdit.new()
	_chat_input.placeholder_text = "Say something, press Enter"
	_chat_input.position = Vector2(16, 564)
	_chat_input.size = Vector2(768, 28)
	_chat_input.text_submitted.connect(func(text: String):
		if not text.strip_edges().is_empty():
			say(text.strip_edges())
		_chat_input.clear())
	ui.add_child(_chat_input)

	_lobby_panel = PanelContainer.new()
	_lobby_panel.position = Vector2(220, 150)
	var form := VBoxContainer.new()
	_lobby_panel.add_child(form)
	_server_url = _field(form, "Signaling server", "ws://127.0.0.1:9080")
	_lobby_name = _field(form, "Lobby name (empty to host)", "")
	_mode = OptionButton.new()
	_mode.add_item("Mesh: everyone connects to everyone")
	_mode.add_item("Server/client: everyone connects to the host")
	form.add_child(_mode)
	var buttons := HBoxContainer.new()
	form.add_child(buttons)
	var host := Button.new()
	host.text = "Host new lobby"
	host.pressed.connect(func(): _join(""))
	buttons.add_child(host)
	var join := Button.new()
	join.text = "Join lobby"
	join.pressed.connect(func(): _join(_lobby_name.text.strip_edges().to_upper()))
	buttons.add_child(join)
	ui.add_child(_lobby_panel)


func _field(form: Control, label: String, value: String) -> LineEdit:
	var caption := Label.new()
	caption.text = label
	form.add_child(caption)
	var edit := LineEdit.new()
	edit.text = value
	edit.custom_minimum_size = Vector2(360, 0)
	form.add_child(edit)
	return edit


func _join(lobby_name: String) -> void:
	_set_status("Connecting...")
	lobby.join(_server_url.text.strip_edges(), lobby_name, _mode.selected == 0)
