## Two peers in one process: signaling is a pair of signal connections, the data goes over
## real UDP on loopback through the plugin. Headless runs print a summary and exit.
extends Control

const CONFIG := {"bindAddresses": ["127.0.0.1"]}
const MESSAGES := 10

var alice := WebRTCPeerConnection.new()
var bob := WebRTCPeerConnection.new()
var alice_chat: WebRTCDataChannel
var bob_chat: WebRTCDataChannel
var started_ms := Time.get_ticks_msec()
var open_ms := -1
var sent := 0
var received: Array[String] = []


func _ready() -> void:
	alice.initialize(CONFIG)
	bob.initialize(CONFIG)
	for pair in [[alice, bob], [bob, alice]]:
		var from: WebRTCPeerConnection = pair[0]
		var to: WebRTCPeerConnection = pair[1]
		from.session_description_created.connect(func(type, sdp):
			from.set_local_description(type, sdp)
			to.set_remote_description(type, sdp))
		from.ice_candidate_created.connect(to.add_ice_candidate)
	bob.data_channel_received.connect(func(channel): bob_chat = channel)
	alice_chat = alice.create_data_channel("chat")
	alice_chat.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
	alice.create_offer()
	show_line("%s connecting over loopback..." % alice.get_class())


func _process(_delta: float) -> void:
	alice.poll()
	bob.poll()
	if open_ms < 0 and bob_chat and alice_chat.get_ready_state() == WebRTCDataChannel.STATE_OPEN:
		open_ms = Time.get_ticks_msec() - started_ms
		show_line("channel open after %d ms" % open_ms)
	if open_ms >= 0 and sent < MESSAGES:
		alice_chat.put_packet(("hello #%d from alice" % sent).to_utf8_buffer())
		sent += 1
	while bob_chat and bob_chat.get_available_packet_count() > 0:
		var text := bob_chat.get_packet().get_string_from_utf8()
		received.append(text)
		show_line("bob got: " + text)
	if received.size() == MESSAGES:
		finish(0)
	elif Time.get_ticks_msec() - started_ms > 15000:
		show_line("timed out")
		finish(1)


func show_line(text: String) -> void:
	print(text)
	$Log.text += text + "\n"


func finish(code: int) -> void:
	set_process(false)
	print("SUMMARY plugin=%s open_ms=%d sent=%d received=%d" % [alice.get_class(), open_ms, sent, received.size()])
	for peer in [alice, bob]:
		peer.close()
		# The signaling lambdas hold both peers: drop them so nothing leaks at exit.
		for sig in ["session_description_created", "ice_candidate_created", "data_channel_received"]:
			for connection in peer.get_signal_connection_list(sig):
				peer.disconnect(sig, connection["callable"])
	if DisplayServer.get_name() == "headless":
		get_tree().quit(code)
