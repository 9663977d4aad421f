## Runs hosts/minimal_demo.gd (the engine demo's calls) and checks what the demo would print:
## the duplicate id-1 channel is refused, and each message arrives on the first channel of the
## other side. Run by tests/hosts/run.sh inside private network namespaces (default settings).
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const MinimalDemo := preload("res://hosts/minimal_demo.gd")


func _initialize() -> void:
	var h := Harness.new(self, "engine webrtc_minimal demo")
	var demo: Node = MinimalDemo.new()
	root.add_child(demo)
	# The demo sends its second message two seconds in; give the channel ten to deliver it.
	await h.wait_until(func(): return demo.sent == 2 and demo.received.size() >= 2,
		"both messages", [], 10.0)
	h.check(demo.second_channel == null, "the second negotiated id-1 channel is refused")
	h.eq(demo.received, ["P2 received: Hi from P1", "P1 received: Hi from P2"] as Array[String],
		"each message arrives on the other side's first channel")
	demo.queue_free()
	await process_frame
	h.finish()
