## A 3-peer WebRTCMultiplayerPeer mesh in one process: every peer connects to every other and
## RPCs arrive on reliable and unreliable transfer modes.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const PEERS := 3
const SENDS := 20


class Player extends Node:
	var reliable := {}
	var unreliable := {}

	@rpc("any_peer", "call_remote", "reliable")
	func hello_reliable(n: int) -> void:
		var from := multiplayer.get_remote_sender_id()
		reliable[from] = reliable.get(from, []) + [n]

	@rpc("any_peer", "call_remote", "unreliable")
	func hello_unreliable(n: int) -> void:
		var from := multiplayer.get_remote_sender_id()
		unreliable[from] = unreliable.get(from, []) + [n]


func _initialize() -> void:
	var h := Harness.new(self, "multiplayer_mesh")
	await process_frame  # the root enters the tree after _initialize
	var meshes: Array[WebRTCMultiplayerPeer] = []
	var players: Array[Player] = []
	for i in PEERS:
		var id := i + 1
		var root := Node.new()
		root.name = "P%d" % id
		get_root().add_child(root)
		var player := Player.new()
		player.name = "Player"
		root.add_child(player)
		players.append(player)
		var mesh := WebRTCMultiplayerPeer.new()
		h.eq(mesh.create_mesh(id), OK, "create_mesh(%d)" % id)
		var api := SceneMultiplayer.new()
		api.multiplayer_peer = mesh
		set_multiplayer(api, root.get_path())
		meshes.append(mesh)

	var links: Array = []
	for i in PEERS:
		for j in range(i + 1, PEERS):
			var a := WebRTCPeerConnection.new()
			var b := WebRTCPeerConnection.new()
			a.initialize(Harness.LOOPBACK)
			b.initialize(Harness.LOOPBACK)
			h.eq(meshes[i].add_peer(a, j + 1), OK, "add_peer %d->%d" % [i + 1, j + 1])
			h.eq(meshes[j].add_peer(b, i + 1), OK, "add_peer %d->%d" % [j + 1, i + 1])
			Harness.link(a, b)
			a.create_offer()
			links.append_array([a, b])

	var started := Time.get_ticks_msec()
	await h.wait_until(func():
		return meshes.all(func(m): return m.get_peers().size() == PEERS - 1 \
			and m.get_peers().values().all(func(p): return p["connected"])), "full mesh")
	print("mesh of %d connected in %d ms" % [PEERS, Time.get_ticks_msec() - started])

	# The engine asks for maxPacketLifetime on its ordered-unreliable channel: it must apply.
	var channels: Array = meshes[0].get_peer(2)["channels"]
	h.eq(channels.size(), 3, "three engine channels per peer")
	if channels.size() == 3:
		h.eq(channels[0].get_max_packet_life_time(), 65535, "reliable channel has no lifetime")
		h.check(channels[1].get_max_packet_life_time() != 65535 or channels[1].get_max_retransmits() != 65535,
			"unreliable-ordered channel is not fully reliable")
		h.check(channels[2].get_max_packet_life_time() != 65535 or channels[2].get_max_retransmits() != 65535,
			"unreliable channel is not fully reliable")
		h.eq(channels[2].is_ordered(), false, "unreliable channel is unordered")

	for n in SENDS:
		for player in players:
			player.hello_reliable.rpc(n)
			player.hello_unreliable.rpc(n)
		await process_frame
	var expected := range(SENDS)
	await h.wait_until(func():
		return players.all(func(p): return p.reliable.size() == PEERS - 1 \
			and p.reliable.values().all(func(v): return v.size() == SENDS)), "reliable RPCs")
	for i in PEERS:
		for j in PEERS:
			if i == j:
				continue
			h.eq(players[i].reliable.get(j + 1, []), expected, "reliable RPCs %d->%d complete and in order" % [j + 1, i + 1])
			h.check(players[i].unreliable.get(j + 1, []).size() > 0, "unreliable RPCs %d->%d arrive" % [j + 1, i + 1])

	# A peer that leaves is reported to the others.
	var gone := [0, 0]
	meshes[1].peer_disconnected.connect(func(id): if id == 1: gone[0] += 1)
	meshes[2].peer_disconnected.connect(func(id): if id == 1: gone[1] += 1)
	started = Time.get_ticks_msec()
	# Peer 1 quits: its connections close (the test's own references keep them alive otherwise).
	for info in meshes[0].get_peers().values():
		info["connection"].close()
	meshes[0].close()
	await h.wait_until(func(): return gone == [1, 1], "peer_disconnected for peer 1 on both others")
	print("peer_disconnected seen after %d ms" % (Time.get_ticks_msec() - started))

	for m in meshes:
		m.close()
	Harness.unlink(links)
	await _mode_names_the_packet_taken(h)
	h.finish()


## WebRTCMultiplayerPeer notes which channel holds the next packet when it polls or hands one
## out, answers get_packet_mode() from that note, and get_packet() takes from the first channel
## holding a packet. A reliable packet that arrives while an unreliable one waits must not be
## handed out in its place under the unreliable mode: a game reading modes (or a server relaying
## by mode) would drop it. It becomes available at the next poll instead.
func _mode_names_the_packet_taken(h: Harness) -> void:
	var meshes := [WebRTCMultiplayerPeer.new(), WebRTCMultiplayerPeer.new()]
	var pcs := [WebRTCPeerConnection.new(), WebRTCPeerConnection.new()]
	for i in 2:
		meshes[i].create_mesh(i + 1)
		pcs[i].initialize(Harness.LOOPBACK)
		meshes[i].add_peer(pcs[i], 2 - i)
	Harness.link(pcs[0], pcs[1])
	pcs[0].create_offer()
	var sender: WebRTCMultiplayerPeer = meshes[0]
	var receiver: WebRTCMultiplayerPeer = meshes[1]
	if await h.wait_until(func(): return meshes.all(func(m): return m.get_peers().size() == 1 \
			and m.get_peers().values()[0]["connected"]), "a mesh of two", meshes):
		sender.set_target_peer(2)
		sender.set_transfer_mode(MultiplayerPeer.TRANSFER_MODE_UNRELIABLE)
		sender.put_packet("unreliable".to_utf8_buffer())
		await h.wait_until(func(): return receiver.get_available_packet_count() == 1,
			"the unreliable packet", meshes)
		sender.set_transfer_mode(MultiplayerPeer.TRANSFER_MODE_RELIABLE)
		sender.put_packet("reliable".to_utf8_buffer())
		# Acknowledged means the receiver's SCTP has it; the receiver is not polled meanwhile.
		var reliable_channel: WebRTCDataChannel = sender.get_peer(2)["channels"][0]
		await h.wait_until(func(): return reliable_channel.get_buffered_amount() == 0,
			"the reliable packet acknowledged", [sender])
		h.eq(receiver.get_packet_mode(), MultiplayerPeer.TRANSFER_MODE_UNRELIABLE, "first mode: unreliable")
		h.eq(receiver.get_packet().get_string_from_utf8(), "unreliable", "first packet: the unreliable one")
		h.eq(receiver.get_available_packet_count(), 0, "the reliable packet waits for a poll")
		await h.wait_until(func(): return receiver.get_available_packet_count() == 1,
			"the reliable packet after a poll", [receiver])
		h.eq(receiver.get_packet_mode(), MultiplayerPeer.TRANSFER_MODE_RELIABLE, "second mode: reliable")
		h.eq(receiver.get_packet().get_string_from_utf8(), "reliable", "second packet: the reliable one")
	for m in meshes:
		m.close()
	Harness.unlink(pcs)
