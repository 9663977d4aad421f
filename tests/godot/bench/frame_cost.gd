## What the plugin costs the game thread, call by call, as a 60 Hz game makes the calls
## (tests/bench/run.sh frame runs it, with the machine's cores kept busy by a load generator):
##   godot --headless --path DIR --script res://bench/frame_cost.gd -- --scenario=NAME [--stack=LABEL]
## Every connection in this process is polled each frame; each of its channels is asked its
## state, packet count and buffered amount, read dry, and sent one 100-byte state packet. Beside
## them, timed the same way, an engine call that never reaches the plugin (CONTROL_CALL): what the
## machine alone adds to every call's figures, a preempted game thread included. After each
## frame's calls, a second control (WAKE_CONTROL): the engine waking a thread of its own that sleeps
## on a Semaphore, as put_packet() wakes the network thread when that thread sleeps between frames.
## state: one pair, small state packets only. bulk: the same plus a reliable 16 KiB download on a
## second channel of the same connection, kept at 1 MiB buffered by the sending side. mesh: 32
## connections (16 pairs). get_packet: the cost of one get_packet() of 100 B, 1 KiB and 16 KiB
## read back to back (GDScript call included), beside an engine call for the interpreter's share.
## It runs with whichever WebRTC extension the project loads, so the same script measures this
## addon and webrtc-native. One "BENCH {json}" line per figure; it never fails on timing.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const FRAMES := 600
const FRAME_USEC := 16667
const STATE_BYTES := 100
const BULK_BYTES := 16384
const BULK_HIGH_WATER := 1024 * 1024
const READ_SAMPLES := 2000
## Reads are timed in this many batches and the median batch kept: with every core busy, one lost
## scheduler slice (milliseconds) inside a single timed run of all the reads outweighed them all.
const READ_BATCHES := 10
## The name the control call's durations are reported under.
const CONTROL_CALL := "engine call (control)"
## The name the engine's wake-up of a sleeping thread is reported under.
const WAKE_CONTROL := "engine wake (control)"

var stack := "webrtc-rs (this addon)"
## Call name -> durations in µs, over every frame of a scenario.
var durations := {}
var frame_work: Array[int] = []
## The sleeping thread WAKE_CONTROL wakes once a frame, and what it waits on.
var sleeper := Thread.new()
var bell := Semaphore.new()
var sleeping := true


func _initialize() -> void:
	var args := {"scenario": "state"}
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("--") and arg.contains("="):
			args[arg.substr(2).get_slice("=", 0)] = arg.get_slice("=", 1)
	stack = args.get("stack", stack)
	match args["scenario"]:
		"state":
			_frames("state", 2, false)
		"bulk":
			_frames("bulk", 2, true)
		"mesh":
			_frames("mesh", 32, false)
		"get_packet":
			_get_packet_cost()
	quit(0)


func report(metric: String, value: float, unit: String, extra := {}) -> void:
	var entry := {"stack": stack, "metric": metric, "value": value, "unit": unit}
	entry.merge(extra)
	print("BENCH ", JSON.stringify(entry))


## `peers` connections as pairs, each with an unreliable "state" channel (id 1) and a reliable
## "bulk" one (id 2), both open: [a, b, a_state, b_state, a_bulk, b_bulk] per pair.
func _open(peers: int) -> Array:
	var pairs := []
	for i in peers / 2:
		var pc := Harness.pair()
		var a: WebRTCPeerConnection = pc[0]
		var b: WebRTCPeerConnection = pc[1]
		var state := {"negotiated": true, "id": 1, "ordered": false, "maxRetransmits": 0}
		var bulk := {"negotiated": true, "id": 2}
		var pair := [a, b, a.create_data_channel("state", state), b.create_data_channel("state", state),
			a.create_data_channel("bulk", bulk), b.create_data_channel("bulk", bulk)]
		a.create_offer()
		var deadline := Time.get_ticks_msec() + 20000
		while pair.slice(2).any(func(c): return c.get_ready_state() != WebRTCDataChannel.STATE_OPEN):
			a.poll()
			b.poll()
			OS.delay_usec(100)
			if Time.get_ticks_msec() > deadline:
				push_error("frame_cost: channels did not open")
				return []
		pairs.append(pair)
	return pairs


## Adds the time since `started` to the call's samples and returns it. Calls are timed inline
## (no Callable in between) so that the figure is the call's, not the interpreter's.
func took(call: String, started: int) -> int:
	var elapsed := Time.get_ticks_usec() - started
	record(call, elapsed)
	return elapsed


func record(call: String, elapsed: int) -> void:
	if not durations.has(call):
		durations[call] = []
	durations[call].append(elapsed)


## One game frame's calls on one connection and its channels; returns the µs they took.
func _frame_calls(peer: WebRTCPeerConnection, channels: Array, state: PackedByteArray) -> int:
	var t := Time.get_ticks_usec()
	peer.poll()
	var work := took("poll", t)
	t = Time.get_ticks_usec()
	peer.get_connection_state()
	work += took("get_connection_state", t)
	for channel: WebRTCDataChannel in channels:
		t = Time.get_ticks_usec()
		channel.get_ready_state()
		work += took("get_ready_state", t)
		t = Time.get_ticks_usec()
		var available := channel.get_available_packet_count()
		work += took("get_available_packet_count", t)
		while available > 0:
			t = Time.get_ticks_usec()
			var size := channel.get_packet().size()
			var elapsed := took("get_packet", t)
			work += elapsed
			record("get_packet %d B" % size, elapsed)
			available = channel.get_available_packet_count()
		t = Time.get_ticks_usec()
		channel.get_buffered_amount()
		work += took("get_buffered_amount", t)
	t = Time.get_ticks_usec()
	channels[0].put_packet(state)
	work += took("put_packet %d B" % STATE_BYTES, t)
	t = Time.get_ticks_usec()
	peer.get_instance_id()
	took(CONTROL_CALL, t)
	return work


func _frames(scenario: String, peers: int, bulk: bool) -> void:
	var pairs := _open(peers)
	if pairs.is_empty():
		return
	var state := PackedByteArray()
	state.resize(STATE_BYTES)
	var download := PackedByteArray()
	download.resize(BULK_BYTES)
	sleeper.start(_sleep_until_woken)
	var next_frame := Time.get_ticks_usec()
	for frame in FRAMES:
		var work := 0
		for pair in pairs:
			work += _frame_calls(pair[0], [pair[2], pair[4]], state)
			work += _frame_calls(pair[1], [pair[3], pair[5]], state)
		if bulk:
			# The sending side of the download keeps 1 MiB in flight, as a game pacing on
			# get_buffered_amount() does.
			var tx: WebRTCDataChannel = pairs[0][5]
			var t := Time.get_ticks_usec()
			var buffered := tx.get_buffered_amount()
			work += took("get_buffered_amount", t)
			while buffered < BULK_HIGH_WATER:
				t = Time.get_ticks_usec()
				tx.put_packet(download)
				work += took("put_packet %d B" % BULK_BYTES, t)
				t = Time.get_ticks_usec()
				buffered = tx.get_buffered_amount()
				work += took("get_buffered_amount", t)
		frame_work.append(work)
		var wake_started := Time.get_ticks_usec()
		bell.post()
		took(WAKE_CONTROL, wake_started)
		next_frame += FRAME_USEC
		OS.delay_usec(maxi(0, next_frame - Time.get_ticks_usec()))
	sleeping = false
	bell.post()
	sleeper.wait_to_finish()
	for call in durations:
		var samples: Array = durations[call]
		samples.sort()
		var n := samples.size()
		report("call_us", samples[n / 2], "µs", {"scenario": scenario, "call": call, "calls": n,
			"p99": samples[mini(n - 1, int(n * 0.99))], "p999": samples[mini(n - 1, int(n * 0.999))],
			"max": samples[n - 1]})
	frame_work.sort()
	report("frame_work_us", frame_work[FRAMES / 2], "µs", {"scenario": scenario, "peers": peers,
		"p99": frame_work[int(FRAMES * 0.99)], "max": frame_work[FRAMES - 1],
		"frames_over_1ms": frame_work.filter(func(w): return w > 1000).size(), "frames": FRAMES})
	for pair in pairs:
		Harness.unlink([pair[0], pair[1]])
		pair[0].close()
		pair[1].close()


## The sleeper's whole work: going back to sleep each time it is woken, until the frames end.
func _sleep_until_woken() -> void:
	while sleeping:
		bell.wait()


## One get_packet() per message, READ_SAMPLES messages of each size already waiting (200 of
## 16 KiB), read in READ_BATCHES batches.
func _get_packet_cost() -> void:
	var pairs := _open(2)
	if pairs.is_empty():
		return
	var pair: Array = pairs[0]
	var tx: WebRTCDataChannel = pair[4]
	var rx: WebRTCDataChannel = pair[5]
	for size in [100, 1024, 16384]:
		var message := PackedByteArray()
		message.resize(size)
		var count := READ_SAMPLES if size < 16384 else 200
		for i in count:
			tx.put_packet(message)
		var deadline := Time.get_ticks_msec() + 20000
		while rx.get_available_packet_count() < count and Time.get_ticks_msec() < deadline:
			pair[0].poll()
			pair[1].poll()
			OS.delay_usec(100)
		var waiting := rx.get_available_packet_count()
		if waiting < count:
			push_error("frame_cost: %d of %d messages arrived" % [waiting, count])
			return
		var per_call := read_cost(rx, count)
		var batch := count / READ_BATCHES
		var calls: Array[int] = []
		for b in READ_BATCHES:
			var started := Time.get_ticks_usec()
			for i in batch:
				rx.get_instance_id()
			calls.append(Time.get_ticks_usec() - started)
		var baseline := median_per_call(calls, batch)
		report("get_packet_us", per_call, "µs", {"size": size, "gdscript_call_baseline_us": baseline,
			"engine_packet_peer_us": _engine_get_packet_cost(message, count)})
	Harness.unlink([pair[0], pair[1]])
	pair[0].close()
	pair[1].close()


## The same reads from one of the engine's own PacketPeers, in memory (a PacketPeerStream over a
## StreamPeerBuffer), for scale: PacketPeer.get_packet() copies each packet into the
## PackedByteArray it returns a byte at a time, whichever peer supplies the packet, and at 16 KiB
## that copy is most of the call.
func _engine_get_packet_cost(message: PackedByteArray, count: int) -> float:
	var buffer := StreamPeerBuffer.new()
	var packets := PacketPeerStream.new()
	packets.input_buffer_max_size = (message.size() + 4) * count
	packets.output_buffer_max_size = (message.size() + 4) * count
	packets.stream_peer = buffer
	for i in count:
		packets.put_packet(message)
	buffer.seek(0)
	if packets.get_available_packet_count() < count:
		push_error("frame_cost: the engine's packet peer holds %d of %d packets"
			% [packets.get_available_packet_count(), count])
		return -1.0
	return read_cost(packets, count)


## µs per get_packet() of `count` packets waiting in `peer`, read in READ_BATCHES batches.
static func read_cost(peer: PacketPeer, count: int) -> float:
	var batch := count / READ_BATCHES
	var reads: Array[int] = []
	for b in READ_BATCHES:
		var started := Time.get_ticks_usec()
		for i in batch:
			peer.get_packet()
		reads.append(Time.get_ticks_usec() - started)
	return median_per_call(reads, batch)


## µs per call in the median of batches of `per_batch` calls that took `batch_usec` each.
static func median_per_call(batch_usec: Array[int], per_batch: int) -> float:
	batch_usec.sort()
	return batch_usec[batch_usec.size() / 2] / float(per_batch)
