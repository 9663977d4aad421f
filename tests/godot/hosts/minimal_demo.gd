## The calls the engine's own `networking/webrtc_minimal` demo (minimal.gd) makes, in the same
## order and with its default configuration: two connections wired to each other's signals,
## a negotiated channel id 1 on each, a second id-1 channel on P1, then one message each way a
## second apart. Received lines are kept for the scene that runs it (hosts/minimal_demo_run.gd).
extends Node

var p1 := WebRTCPeerConnection.new()
var p2 := WebRTCPeerConnection.new()
var ch1 := p1.create_data_channel("chat", {"id": 1, "negotiated": true})
var ch2 := p2.create_data_channel("chat", {"id": 1, "negotiated": true})
## What the demo prints first: the second id-1 channel (null when it is refused).
var second_channel: WebRTCDataChannel
var received: Array[String] = []
var sent := 0


func _ready() -> void:
	second_channel = p1.create_data_channel("chat", {"id": 1, "negotiated": true})
	print(second_channel)
	p1.session_description_created.connect(p1.set_local_description)
	p1.session_description_created.connect(p2.set_remote_description)
	p1.ice_candidate_created.connect(p2.add_ice_candidate)
	p2.session_description_created.connect(p2.set_local_description)
	p2.session_description_created.connect(p1.set_remote_description)
	p2.ice_candidate_created.connect(p1.add_ice_candidate)
	p1.create_offer()

	await get_tree().create_timer(1).timeout
	ch1.put_packet("Hi from P1".to_utf8_buffer())
	sent += 1
	await get_tree().create_timer(1).timeout
	ch2.put_packet("Hi from P2".to_utf8_buffer())
	sent += 1


func _process(_delta: float) -> void:
	p1.poll()
	p2.poll()
	if ch1.get_ready_state() == ch1.STATE_OPEN and ch1.get_available_packet_count() > 0:
		received.append("P1 received: " + ch1.get_packet().get_string_from_utf8())
		print(received[-1])
	if ch2.get_ready_state() == ch2.STATE_OPEN and ch2.get_available_packet_count() > 0:
		received.append("P2 received: " + ch2.get_packet().get_string_from_utf8())
		print(received[-1])


func _exit_tree() -> void:
	p1.close()
	p2.close()
