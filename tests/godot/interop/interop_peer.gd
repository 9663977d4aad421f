## The Godot side of one interop run (tests/interop/run.sh starts it):
##   godot --headless --path tests/godot --script res://interop/interop_peer.gd --
##     --server=ws://127.0.0.1:PORT --offer=yes|no --closer=yes|no
## It creates a lobby on the signaling server (printing "LOBBY <name>"), waits for the remote
## peer, runs the scenario in tests/interop/SCENARIO.md and prints one "CHECK <name> PASS|FAIL
## <detail>" line per check. Exits 0 when every check passed.
extends SceneTree

const CONFIG := {"iceServers": [], "bindAddresses": ["127.0.0.1"], "mdns": false}
const BULK_MESSAGES := 64
const BULK_SIZE := 16384
const LOSSY_MESSAGES := 20
const TEXT := "text from the other side ✓"
var BINARY := PackedByteArray([0, 1, 2, 128, 255])
## A browser's mDNS host candidate, as Chromium sends it with its IP hiding on.
const MDNS_CANDIDATE := "candidate:3442447574 1 udp 2122260223 6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b.local 54321 typ host generation 0"

var server := ""
var offerer := true
var closer := true

var ws := WebSocketPeer.new()
var pc := WebRTCPeerConnection.new()
var remote := 0
var ctl: WebRTCDataChannel
var neg: WebRTCDataChannel
var inband: WebRTCDataChannel
var lossy: WebRTCDataChannel
var failures := 0

var _ctl_inbox: Array[Dictionary] = []
var _got_text := false
var _got_binary := false
var _bulk := HashingContext.new()
var _bulk_count := 0
var _bulk_in_order := true
var _lossy_count := 0
var _remote_ids := {}


func _initialize() -> void:
	for arg in OS.get_cmdline_user_args():
		var value := arg.get_slice("=", 1)
		match arg.get_slice("=", 0):
			"--server": server = value
			"--offer": offerer = value == "yes"
			"--closer": closer = value == "yes"
	_run()


func check(name: String, ok: bool, detail := "") -> void:
	print("CHECK %s %s %s" % [name, "PASS" if ok else "FAIL", detail])
	if not ok:
		failures += 1


func _run() -> void:
	_bulk.start(HashingContext.HASH_SHA256)
	if pc.initialize(CONFIG) != OK:
		_end("initialize failed")
		return
	pc.session_description_created.connect(func(type: String, sdp: String):
		pc.set_local_description(type, sdp)
		_send({"type": type, "to": remote, "sdp": sdp}))
	pc.ice_candidate_created.connect(func(media: String, index: int, name: String):
		_send({"type": "candidate", "to": remote, "media": media, "index": index, "name": name}))
	pc.data_channel_received.connect(_on_data_channel)
	ctl = pc.create_data_channel("interop-ctl", {"negotiated": true, "id": 0})
	ctl.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
	neg = pc.create_data_channel("interop-neg", {"negotiated": true, "id": 1})
	if offerer:
		inband = pc.create_data_channel("interop-inband", {"protocol": "interop-proto"})
		lossy = pc.create_data_channel("interop-lossy", {"ordered": false, "maxRetransmits": 0})

	if ws.connect_to_url(server) != OK:
		_end("cannot reach " + server)
		return
	if not await _until(func(): return ws.get_ready_state() == WebSocketPeer.STATE_OPEN, 10.0):
		_end("signaling server unreachable")
		return
	_send({"type": "join", "lobby": "", "mesh": true})
	if not await _until(func(): return remote != 0, 60.0):
		_end("the remote peer never joined")
		return
	var started := Time.get_ticks_msec()
	if offerer:
		pc.create_offer()

	var opened := await _until(func(): return _all_open(), 20.0)
	check("connect", opened, "state=%d, channels open %d ms after the remote joined"
		% [pc.get_connection_state(), Time.get_ticks_msec() - started])
	if not opened:
		_end("channels did not open")
		return
	if offerer:
		_send_ctl({"op": "ids", "inband": inband.get_id(), "lossy": lossy.get_id()})
	else:
		await _until(func(): return not _remote_ids.is_empty(), 10.0)
		check("inband_seen", inband.get_label() == "interop-inband"
			and inband.get_protocol() == "interop-proto" and inband.is_ordered()
			and not inband.is_negotiated() and inband.get_id() == _remote_ids.get("inband", -1),
			"label=%s protocol=%s ordered=%s id=%d (remote says %d)" % [inband.get_label(),
				inband.get_protocol(), inband.is_ordered(), inband.get_id(),
				_remote_ids.get("inband", -1)])
		check("lossy_seen", lossy.get_label() == "interop-lossy" and not lossy.is_ordered()
			and lossy.get_id() == _remote_ids.get("lossy", -1),
			"ordered=%s id=%d" % [lossy.is_ordered(), lossy.get_id()])
		# What the remote's DATA_CHANNEL_OPEN asked for: reliable and ordered, and unordered
		# with no retransmissions (65535 is Godot's "not set").
		check("remote_reliability", inband.is_ordered() and inband.get_max_retransmits() == 65535
			and inband.get_max_packet_life_time() == 65535 and not lossy.is_ordered()
			and lossy.get_max_retransmits() == 0 and lossy.get_max_packet_life_time() == 65535,
			"inband ordered=%s maxRetransmits=%d maxPacketLifeTime=%d, lossy ordered=%s maxRetransmits=%d maxPacketLifeTime=%d"
			% [inband.is_ordered(), inband.get_max_retransmits(), inband.get_max_packet_life_time(),
				lossy.is_ordered(), lossy.get_max_retransmits(), lossy.get_max_packet_life_time()])

	# Text and binary on the negotiated channel, 1 MiB on the in-band one, lossy datagrams.
	neg.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
	neg.put_packet(TEXT.to_utf8_buffer())
	neg.write_mode = WebRTCDataChannel.WRITE_MODE_BINARY
	neg.put_packet(BINARY)
	for i in BULK_MESSAGES:
		if inband.put_packet(bulk_message(i)) != OK:
			check("bulk_send", false, "put_packet refused message %d" % i)
			break
	# The datagrams go once the bulk is acknowledged: queued behind 1 MiB on a busy path they
	# share one packet, and a single loss (never repaired with maxRetransmits 0) took all 20.
	await _until(func(): return inband.get_buffered_amount() == 0, 30.0)
	for i in LOSSY_MESSAGES:
		lossy.put_packet(("lossy %d" % i).to_utf8_buffer())

	var received := await _until(func(): return _got_everything(), 30.0)
	await _until(func(): return _lossy_count == LOSSY_MESSAGES, 2.0)
	check("text", _got_text, "text arrived flagged as text")
	check("binary", _got_binary, "binary arrived flagged as binary")
	var digest := _bulk.finish().hex_encode()
	check("bulk_1mib", _bulk_count == BULK_MESSAGES and _bulk_in_order
		and digest == expected_bulk_digest(),
		"%d of %d messages, sha256 %s" % [_bulk_count, BULK_MESSAGES, digest.left(16)])
	check("unordered_lossy", _lossy_count > 0 and not lossy.is_ordered(),
		"%d of %d datagrams" % [_lossy_count, LOSSY_MESSAGES])
	_send_ctl({"op": "done"})
	if not received:
		_end("not everything arrived")
		return
	await _until(func(): return _has_ctl("done"), 20.0)

	if closer:
		inband.close()
		var seen := await _until(func(): return _has_ctl("saw_close"), 10.0)
		check("remote_saw_channel_close", seen, "the remote acknowledged our channel close")
		pc.close()
	else:
		var closed := await _until(func(): return _channel_closed(inband), 10.0)
		check("channel_close_seen", closed, "state=%d" % inband.get_ready_state())
		_send_ctl({"op": "saw_close"})
		var gone := await _until(func(): return _connection_gone(), 20.0)
		check("connection_close_seen", gone, "state=%d" % pc.get_connection_state())
	_end("")


## Message [param i] of the bulk transfer; both sides generate the same bytes.
static func bulk_message(i: int) -> PackedByteArray:
	var data := PackedByteArray()
	data.resize(BULK_SIZE)
	for j in BULK_SIZE:
		data[j] = (i * 7 + j) % 256
	return data


static func expected_bulk_digest() -> String:
	var ctx := HashingContext.new()
	ctx.start(HashingContext.HASH_SHA256)
	for i in BULK_MESSAGES:
		ctx.update(bulk_message(i))
	return ctx.finish().hex_encode()


func _all_open() -> bool:
	for channel in [ctl, neg, inband, lossy]:
		if channel == null or channel.get_ready_state() != WebRTCDataChannel.STATE_OPEN:
			return false
	return true


func _got_everything() -> bool:
	return _got_text and _got_binary and _bulk_count == BULK_MESSAGES


static func _channel_closed(channel: WebRTCDataChannel) -> bool:
	return channel.get_ready_state() == WebRTCDataChannel.STATE_CLOSED


func _connection_gone() -> bool:
	return pc.get_connection_state() in [WebRTCPeerConnection.STATE_CLOSED,
		WebRTCPeerConnection.STATE_DISCONNECTED, WebRTCPeerConnection.STATE_FAILED]


func _has_ctl(op: String) -> bool:
	return _ctl_inbox.any(func(message): return message.get("op") == op)


func _send(message: Dictionary) -> void:
	ws.send_text(JSON.stringify(message))


func _send_ctl(message: Dictionary) -> void:
	ctl.put_packet(JSON.stringify(message).to_utf8_buffer())


## Polls signaling and the connection every frame until [param condition] holds or time is up.
func _until(condition: Callable, seconds: float) -> bool:
	var deadline := Time.get_ticks_msec() + int(seconds * 1000.0)
	while true:
		_pump()
		if condition.call():
			return true
		if Time.get_ticks_msec() > deadline:
			return false
		await process_frame
	return false


func _pump() -> void:
	ws.poll()
	while ws.get_available_packet_count() > 0:
		_on_signal(JSON.parse_string(ws.get_packet().get_string_from_utf8()))
	pc.poll()
	while ctl.get_available_packet_count() > 0:
		var message = JSON.parse_string(ctl.get_packet().get_string_from_utf8())
		if typeof(message) == TYPE_DICTIONARY:
			_ctl_inbox.append(message)
			if message.get("op") == "ids":
				_remote_ids = {"inband": int(message["inband"]), "lossy": int(message["lossy"])}
	while neg.get_available_packet_count() > 0:
		var packet := neg.get_packet()
		var as_text := neg.was_string_packet()
		if as_text and packet.get_string_from_utf8() == TEXT:
			_got_text = true
		elif not as_text and packet == BINARY:
			_got_binary = true
		else:
			print("unexpected message on interop-neg (text=%s): %s" % [as_text, packet])
	if inband != null:
		while inband.get_available_packet_count() > 0:
			var packet := inband.get_packet()
			if packet.size() != BULK_SIZE or packet[0] != (_bulk_count * 7) % 256:
				_bulk_in_order = false
			_bulk.update(packet)
			_bulk_count += 1
	if lossy != null:
		while lossy.get_available_packet_count() > 0:
			lossy.get_packet()
			_lossy_count += 1


func _on_signal(message) -> void:
	if typeof(message) != TYPE_DICTIONARY:
		return
	match message.get("type"):
		"joined":
			print("LOBBY ", message["lobby"])
		"peer_joined":
			remote = int(message["id"])
		"offer", "answer":
			remote = int(message["from"])
			pc.set_remote_description(message["type"], message["sdp"])
			# A browser hiding its IPs would send this; it must be accepted and not break ICE.
			var err := pc.add_ice_candidate(_media_of(message["sdp"]), 0, MDNS_CANDIDATE)
			check("mdns_candidate_accepted", err == OK, error_string(err))
		"candidate":
			pc.add_ice_candidate(message["media"], int(message["index"]), message["name"])
		"error":
			print("signaling error: ", message["message"])


func _on_data_channel(channel: WebRTCDataChannel) -> void:
	match channel.get_label():
		"interop-inband":
			inband = channel
		"interop-lossy":
			lossy = channel


static func _media_of(sdp: String) -> String:
	for line in sdp.split("\n"):
		if line.begins_with("a=mid:"):
			return line.trim_prefix("a=mid:").strip_edges()
	return "0"


func _end(reason: String) -> void:
	if not reason.is_empty():
		check("run", false, reason)
	print("INTEROP %s (%d failed)" % ["PASS" if failures == 0 else "FAIL", failures])
	ws.close()
	quit(0 if failures == 0 else 1)
