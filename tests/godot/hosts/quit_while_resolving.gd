## Quits while a STUN server's name is still being resolved (the resolver never answers): the
## engine's signaling-demo configuration on a host with a dead resolver. The game must exit at
## once and cleanly; tests/hosts/run.sh times the exit after the "quitting" line.
extends SceneTree

const Harness := preload("res://lib/harness.gd")


func _initialize() -> void:
	var h := Harness.new(self, "quit while resolving")
	var peer := WebRTCPeerConnection.new()
	h.eq(peer.initialize({"iceServers": [{"urls": ["stun:stun.l.google.com:19302"]}]}), OK, "initialize")
	peer.create_data_channel("chat", {"negotiated": true, "id": 1})
	var candidates := [0]
	peer.session_description_created.connect(peer.set_local_description)
	peer.ice_candidate_created.connect(func(_m, _i, _n): candidates[0] += 1)
	h.eq(peer.create_offer(), OK, "create_offer")
	# A host candidate means gathering has started, and with it the lookup that never ends.
	await h.wait_until(func(): return candidates[0] > 0, "a host candidate", [peer])
	h.eq(peer.get_gathering_state(), WebRTCPeerConnection.GATHERING_STATE_GATHERING,
		"still gathering: the STUN server's name is being resolved")
	peer.close()
	Harness.unlink([peer])
	print("quitting")
	h.finish()
