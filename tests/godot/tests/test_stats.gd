## get_stats() as a game calls it: on the object WebRTCPeerConnection.new() returns and through
## WebRTCMultiplayerPeer.get_peer(id).connection. Exactly the documented keys; a measured round
## trip; byte counters that grow with what was sent, within the transport's overhead; the
## selected pair's host candidates; each channel's counters.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const KEYS := ["bytes_received", "bytes_sent", "data_channels", "local_candidate",
	"packets_received", "packets_sent", "remote_candidate", "round_trip_time"]
const CANDIDATE_KEYS := ["address", "port", "protocol", "type"]
const CHANNEL_KEYS := ["buffered_amount", "bytes_received", "bytes_sent", "id", "label",
	"messages_received", "messages_sent", "state"]
const MESSAGES := 100
const SIZE := 1000


func _initialize() -> void:
	var h := Harness.new(self, "stats")
	var fresh = WebRTCPeerConnection.new()
	h.check(fresh.has_method("get_stats"), "WebRTCPeerConnection.new() has get_stats()")
	var empty: Dictionary = fresh.get_stats()
	h.eq(_sorted(empty.keys()), KEYS, "the documented keys, before anything is built")
	h.eq(empty["round_trip_time"], 0.0, "no round trip before connecting")
	h.eq(empty["local_candidate"], {}, "no selected pair before connecting")

	var opened: Array = await h.open_pair("game")
	var a = opened[0]
	var b = opened[1]
	var ca: WebRTCDataChannel = opened[2]
	var cb: WebRTCDataChannel = opened[3]
	if not opened[4]:
		Harness.unlink([a, b])
		h.finish()
		return
	await h.wait_until(func(): return a.get_stats()["round_trip_time"] > 0.0,
		"a measured round trip", [a, b])
	var before: Dictionary = a.get_stats()
	var payload := PackedByteArray()
	payload.resize(SIZE)
	for i in MESSAGES:
		ca.put_packet(payload)
	var received := [0]
	await h.wait_until(func():
		while cb.get_available_packet_count() > 0:
			cb.get_packet()
			received[0] += 1
		return received[0] == MESSAGES and ca.get_buffered_amount() == 0,
		"every message delivered and acknowledged", [a, b])
	var after: Dictionary = a.get_stats()
	var theirs: Dictionary = b.get_stats()
	print("stats after: ", after)

	h.eq(_sorted(after.keys()), KEYS, "the documented keys")
	var rtt: float = after["round_trip_time"]
	h.check(rtt > 0.0 and rtt < 0.5, "loopback round trip %f s" % rtt)
	var sent: int = after["bytes_sent"] - before["bytes_sent"]
	h.check(sent >= MESSAGES * SIZE and sent < MESSAGES * SIZE * 3 / 2,
		"%d bytes on the wire for %d bytes of messages" % [sent, MESSAGES * SIZE])
	h.check(after["packets_sent"] - before["packets_sent"] >= MESSAGES, "packets_sent grew")
	h.check(theirs["bytes_received"] >= MESSAGES * SIZE, "bytes_received on the other side")
	for stats in [after, theirs]:
		for end in ["local_candidate", "remote_candidate"]:
			var candidate: Dictionary = stats[end]
			h.eq(_sorted(candidate.keys()), CANDIDATE_KEYS, "%s keys" % end)
			# The remote end may be the same address learned first from the peer's checks.
			var types := ["host"] if end == "local_candidate" else ["host", "prflx"]
			h.check(candidate.get("type") in types, "%s type on loopback: %s" % [end, candidate.get("type")])
			h.eq(candidate.get("address"), "127.0.0.1", "%s address" % end)
			h.eq(candidate.get("protocol"), "udp", "%s protocol" % end)
	h.eq(after["local_candidate"].get("port"), theirs["remote_candidate"].get("port"),
		"each side's pair names the other's port")

	var channels: Array = after["data_channels"]
	h.eq(channels.size(), 1, "one channel")
	if channels.size() == 1:
		var channel: Dictionary = channels[0]
		h.eq(_sorted(channel.keys()), CHANNEL_KEYS, "channel keys")
		h.eq(channel["label"], "game", "channel label")
		h.eq(channel["id"], 1, "channel id")
		h.eq(channel["state"], WebRTCDataChannel.STATE_OPEN, "channel state")
		h.eq(channel["messages_sent"], MESSAGES, "messages_sent")
		h.eq(channel["bytes_sent"], MESSAGES * SIZE, "bytes_sent")
		h.eq(channel["buffered_amount"], 0, "buffered_amount")
	var their_channels: Array = theirs["data_channels"]
	if h.eq(their_channels.size(), 1, "one channel on the other side"):
		h.eq(their_channels[0]["messages_received"], MESSAGES, "messages_received")
		h.eq(their_channels[0]["bytes_received"], MESSAGES * SIZE, "bytes_received")

	# The multiplayer peer hands out the same object.
	var mesh := WebRTCMultiplayerPeer.new()
	var c = WebRTCPeerConnection.new()
	c.initialize(Harness.LOOPBACK)
	h.eq(mesh.create_mesh(1), OK, "create_mesh")
	h.eq(mesh.add_peer(c, 2), OK, "add_peer")
	var through_mesh: Dictionary = mesh.get_peer(2)["connection"].get_stats()
	h.eq(_sorted(through_mesh.keys()), KEYS, "get_stats() through get_peer(id).connection")
	h.eq(through_mesh["data_channels"].size(), 3,
		"the multiplayer peer's three channels are listed before connecting")
	mesh.close()
	for peer in [a, b, c]:
		peer.close()
	Harness.unlink([a, b])
	h.finish()


static func _sorted(keys: Array) -> Array:
	var copy := keys.duplicate()
	copy.sort()
	return copy
