## Quits Godot with live connections: four connected pairs, reliable data in flight and an
## unfinished ICE attempt, none closed by the script. The runner checks that the process exits
## cleanly (code 0, no crash, no panic) and quickly: the library's unload must not hang.
# time-limit: 20
extends SceneTree

const Harness := preload("res://lib/harness.gd")

## What the game still holds when it quits; freed by the engine at exit.
var held := []


func _initialize() -> void:
	var h := Harness.new(self, "quit_live")
	var live := []
	for i in 4:
		var p: Array = await h.open_pair("live %d" % i)
		var peers := [p[0], p[1]]
		var ca: WebRTCDataChannel = p[2]
		var cb: WebRTCDataChannel = p[3]
		live.append([peers, ca, cb])
	for entry in live:
		for n in 64:
			entry[1].put_packet(PackedByteArray(range(256)))
	var connecting := Harness.pair()
	connecting[0].create_data_channel("half")
	connecting[0].create_offer()
	connecting[0].poll()
	h.check(live.all(func(e): return e[0][0].get_connection_state() == WebRTCPeerConnection.STATE_CONNECTED),
		"all pairs connected at quit")
	# Signaling is over (as in a game); the connections themselves stay open and referenced.
	for entry in live:
		Harness.unlink(entry[0])
	Harness.unlink(connecting)
	held = [live, connecting]
	print("quitting with %d live connections at %d ms" % [live.size() * 2 + 2, Time.get_ticks_msec()])
	h.finish()
