## A dedicated server and its clients, in two headless Godot processes
## (tests/bench/run.sh server runs it):
##   godot --headless --path DIR --script res://bench/server_bench.gd -- --role=server|clients
##       --clients=N --port=P [--seconds=S] [--stack=LABEL]
## The clients process opens N connections to the server, each with an unreliable "state"
## channel and a reliable "events" one, signaled over one loopback TCP link (the server listens
## on P). Then for S seconds every client sends a 64-byte input at 30 Hz; the server polls at
## 60 Hz, and at 30 Hz sends each client a 100-byte state packet, plus a reliable message once a
## second. Packets carry the system clock's time of sending, so either process can tell the
## one-way latency. The server reports its whole process's CPU per client, its game thread's work
## per frame and how much of it was inside the plugin's calls (each call timed on its own, for
## both stacks alike), input latency and delivery; the clients report state and event latency
## and delivery.
## The clients process runs in ticks of an eighth of a frame and reads every tick, so a state's
## latency is its transit plus under a tick; client `id` sends its input in tick
## `id % TICKS_PER_INPUT` of each 30 Hz period, so the inputs meet the server's frames at every
## phase evenly and their latency is half a frame plus the transit at the median, whatever phase
## the two processes' clocks happen to have. (With every input sent at one phase, the median
## swung between ~1 and ~17 ms from run to run, for either stack, hiding the transit.)
## It runs with whichever WebRTC extension the project loads. One "BENCH {json}" line per figure.
extends SceneTree

const Bench := preload("res://bench/bench.gd")
const FRAME_USEC := 16667
const TICK_USEC := FRAME_USEC / 8
## Ticks between two inputs of one client (30 Hz).
const TICKS_PER_INPUT := 16
const INPUT_BYTES := 64
const STATE_BYTES := 100
const EVENT_BYTES := 200
const SETUP_MSEC := 60000

var stack := "webrtc-rs (this addon)"
var clients := 8
var seconds := 20.0
## Per connection: [peer, state channel, events channel].
var links := {}
var link: Bench.SignalingLink
## Messages between the two processes themselves (id -1), kept until the game loop reads them.
var control := []
## µs spent inside the plugin's calls in the server's current frame.
var call_usec := 0


func _initialize() -> void:
	var args := {"role": "server", "clients": "8", "port": "0", "seconds": "20"}
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("--") and arg.contains("="):
			args[arg.substr(2).get_slice("=", 0)] = arg.get_slice("=", 1)
	stack = args.get("stack", stack)
	clients = int(args["clients"])
	seconds = float(args["seconds"])
	link = Bench.SignalingLink.new()
	if not link.open("offer" if args["role"] == "server" else "answer", int(args["port"])):
		push_error("server_bench: no signaling link")
		quit(1)
		return
	if args["role"] == "server":
		_serve()
	else:
		_play()
	for id in links:
		links[id][0].close()
	quit(0)


func report(metric: String, value: float, unit: String, extra := {}) -> void:
	var entry := {"stack": stack, "metric": metric, "value": value, "unit": unit, "clients": clients}
	entry.merge(extra)
	print("BENCH ", JSON.stringify(entry))


## A connection with its two channels, wired to the signaling link under `id`.
func _connect(id: int) -> void:
	var peer := WebRTCPeerConnection.new()
	peer.initialize({"mdns": false})
	peer.session_description_created.connect(func(type, sdp):
		peer.set_local_description(type, sdp)
		link.send({"id": id, "type": type, "sdp": sdp}))
	peer.ice_candidate_created.connect(func(media, index, name):
		link.send({"id": id, "media": media, "index": index, "name": name}))
	var state := peer.create_data_channel("state",
		{"negotiated": true, "id": 1, "ordered": false, "maxRetransmits": 0})
	var events := peer.create_data_channel("events", {"negotiated": true, "id": 2})
	links[id] = [peer, state, events]


## Applies what the other process sent; the server makes a connection for each new id.
func _signal() -> void:
	for message in link.receive():
		var id := int(message["id"])
		if id < 0:
			control.append(message)
			continue
		if not links.has(id):
			_connect(id)
		var peer: WebRTCPeerConnection = links[id][0]
		if message.has("sdp"):
			peer.set_remote_description(message["type"], message["sdp"])
		else:
			peer.add_ice_candidate(message["media"], int(message["index"]), message["name"])


func _all_open() -> bool:
	if links.size() < clients:
		return false
	for id in links:
		if links[id][1].get_ready_state() != WebRTCDataChannel.STATE_OPEN \
				or links[id][2].get_ready_state() != WebRTCDataChannel.STATE_OPEN:
			return false
	return true


## Signals and polls until every connection is open (or gives up).
func _set_up() -> bool:
	var deadline := Time.get_ticks_msec() + SETUP_MSEC
	while not _all_open():
		_signal()
		for id in links:
			links[id][0].poll()
		OS.delay_usec(1000)
		if Time.get_ticks_msec() > deadline:
			push_error("server_bench: %d of %d connections open" % [links.size(), clients])
			return false
	return true


## A packet of `size` bytes starting with the system clock in µs.
static func stamped(size: int) -> PackedByteArray:
	var packet := PackedByteArray()
	packet.resize(size)
	packet.encode_s64(0, int(Time.get_unix_time_from_system() * 1e6))
	return packet


static func age_us(packet: PackedByteArray) -> int:
	return int(Time.get_unix_time_from_system() * 1e6) - packet.decode_s64(0)


static func quantile(values: Array, q: float) -> float:
	if values.is_empty():
		return -1.0
	values.sort()
	return values[mini(values.size() - 1, int(values.size() * q))]


## Reads every waiting packet of `channel`, adding each one's age to `latencies`; returns how many.
## The plugin's calls are timed into `call_usec` (the server reports it per frame), the script's
## own work around them is not.
func drain(channel: WebRTCDataChannel, latencies: Array) -> int:
	var count := 0
	var t := Time.get_ticks_usec()
	var waiting := channel.get_available_packet_count()
	call_usec += Time.get_ticks_usec() - t
	while waiting > 0:
		t = Time.get_ticks_usec()
		var packet := channel.get_packet()
		waiting = channel.get_available_packet_count()
		call_usec += Time.get_ticks_usec() - t
		latencies.append(age_us(packet))
		count += 1
	return count


## Times one put_packet() into `call_usec`.
func put_timed(channel: WebRTCDataChannel, packet: PackedByteArray) -> void:
	var t := Time.get_ticks_usec()
	channel.put_packet(packet)
	call_usec += Time.get_ticks_usec() - t


func _serve() -> void:
	if not _set_up():
		return
	link.send({"id": -1, "start": true})
	var frames := int(seconds * 60)
	var input_latency := []
	var inputs := 0
	var work: Array[int] = []
	var calls: Array[int] = []
	var cpu_before := Bench.cpu_seconds()
	var started := Time.get_ticks_usec()
	var next_frame := started
	for frame in frames:
		var t := Time.get_ticks_usec()
		call_usec = 0
		for id in links:
			var entry: Array = links[id]
			var c := Time.get_ticks_usec()
			entry[0].poll()
			call_usec += Time.get_ticks_usec() - c
			inputs += drain(entry[1], input_latency)
			drain(entry[2], [])
			if frame % 2 == 0:
				put_timed(entry[1], stamped(STATE_BYTES))
			if frame % 60 == 0:
				put_timed(entry[2], stamped(EVENT_BYTES))
		work.append(Time.get_ticks_usec() - t)
		calls.append(call_usec)
		next_frame += FRAME_USEC
		OS.delay_usec(maxi(0, next_frame - Time.get_ticks_usec()))
	var wall := (Time.get_ticks_usec() - started) / 1e6
	var cpu := Bench.cpu_seconds()
	var process_pct: float = (cpu["process"] - cpu_before["process"]) / wall * 100.0
	var game_pct: float = (cpu["game"] - cpu_before["game"]) / wall * 100.0
	report("server_cpu_pct_per_client", process_pct / clients, "% of a core",
		{"process_pct": process_pct, "game_thread_pct": game_pct})
	report("server_frame_work_us", quantile(work, 0.5), "µs",
		{"p99": quantile(work, 0.99), "max": quantile(work, 1.0)})
	report("server_call_work_us", quantile(calls, 0.5), "µs",
		{"p99": quantile(calls, 0.99), "max": quantile(calls, 1.0)})
	link.send({"id": -1, "stop": true})
	# The clients say how many inputs they sent, and report, before either side closes.
	var deadline := Time.get_ticks_msec() + 10000
	var sent_inputs := -1
	while Time.get_ticks_msec() < deadline and sent_inputs < 0:
		for message in link.receive():
			if message.has("inputs_sent"):
				sent_inputs = int(message["inputs_sent"])
		for id in links:
			var entry: Array = links[id]
			entry[0].poll()
			inputs += drain(entry[1], input_latency)
		OS.delay_usec(1000)
	report("input_latency_us", quantile(input_latency, 0.5), "µs",
		{"p99": quantile(input_latency, 0.99), "delivered": inputs / float(maxi(1, sent_inputs))})


func _play() -> void:
	for id in clients:
		_connect(id)
		links[id][0].create_offer()
	if not _set_up():
		return
	var state_latency := []
	var event_latency := []
	var states := 0
	var events := 0
	var playing := false
	var started := 0
	var next_tick := Time.get_ticks_usec()
	var tick := 0
	var inputs_sent := 0
	while true:
		var messages := link.receive() + control
		control.clear()
		if messages.any(func(m): return m.has("start")):
			playing = true
			started = Time.get_ticks_msec()
		if messages.any(func(m): return m.has("stop")) \
				or (playing and Time.get_ticks_msec() - started > seconds * 1000 + 15000):
			break
		for id in links:
			var entry: Array = links[id]
			entry[0].poll()
			if playing:
				states += drain(entry[1], state_latency)
				events += drain(entry[2], event_latency)
				if tick % TICKS_PER_INPUT == id % TICKS_PER_INPUT \
						and entry[1].put_packet(stamped(INPUT_BYTES)) == OK:
					inputs_sent += 1
		tick += 1
		next_tick += TICK_USEC
		OS.delay_usec(maxi(0, next_tick - Time.get_ticks_usec()))
	var expected_states := clients * int(seconds * 30)
	var expected_events := clients * int(ceil(seconds))
	report("state_latency_us", quantile(state_latency, 0.5), "µs",
		{"p99": quantile(state_latency, 0.99), "delivered": states / float(expected_states)})
	report("event_latency_us", quantile(event_latency, 0.5), "µs",
		{"p99": quantile(event_latency, 0.99), "delivered": events / float(expected_events)})
	link.send({"id": -1, "inputs_sent": inputs_sent})
