## Benchmarks of the addon inside headless Godot, driven from GDScript with a tight poll loop
## (tests/bench/run.sh runs it; it prints figures and never fails on timing):
##   godot --headless --path tests/godot --script res://bench/bench.gd -- --suite=core|idle|scale
## core: channel open time, reliable throughput (16 KiB and 1 KiB), unreliable throughput and
## delivered fraction, 64-byte echo round trip (tight loop and 60 Hz frames), poll() cost.
## idle: CPU of 64 connected idle peers over 10 s at 60 Hz, and threads. scale: RSS and file
## descriptors per connection with 256 connected peers. One "BENCH {json}" line per figure.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const THROUGHPUT_BYTES := 64 * 1024 * 1024
const UNRELIABLE_BYTES := 16 * 1024 * 1024
const HIGH_WATER := 1024 * 1024
const OPEN_SAMPLES := 10
const RTT_SAMPLES := 1000
const FRAME_RTT_SAMPLES := 60
const FRAME_USEC := 16667


func _initialize() -> void:
	var suite := "core"
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("--suite="):
			suite = arg.get_slice("=", 1)
	match suite:
		"core":
			_core()
		"idle":
			_idle()
		"scale":
			_scale()
	quit(0)


static func report(metric: String, value: float, unit: String, extra := {}) -> void:
	var entry := {"stack": "webrtc-rs (this addon)", "metric": metric, "value": value, "unit": unit}
	entry.merge(extra)
	print("BENCH ", JSON.stringify(entry))


## Two connected peers with a negotiated channel each side (same id), polled until open.
static func connected_pair(options: Dictionary) -> Array:
	var peers := Harness.pair()
	var a: WebRTCPeerConnection = peers[0]
	var b: WebRTCPeerConnection = peers[1]
	var opts := options.duplicate()
	opts.merge({"negotiated": true, "id": 1})
	var ca := a.create_data_channel("bench", opts)
	var cb := b.create_data_channel("bench", opts)
	a.create_offer()
	var deadline := Time.get_ticks_msec() + 10000
	while ca.get_ready_state() != WebRTCDataChannel.STATE_OPEN \
			or cb.get_ready_state() != WebRTCDataChannel.STATE_OPEN:
		a.poll()
		b.poll()
		if Time.get_ticks_msec() > deadline:
			push_error("bench: channel did not open")
			return []
	return [a, b, ca, cb]


static func close_pair(pair: Array) -> void:
	Harness.unlink([pair[0], pair[1]])
	pair[0].close()
	pair[1].close()


func _core() -> void:
	for i in OPEN_SAMPLES:
		var started := Time.get_ticks_usec()
		var pair := connected_pair({})
		var elapsed := (Time.get_ticks_usec() - started) / 1000.0
		if pair.is_empty():
			return
		report("open_ms", elapsed, "ms", {"sample": i})
		close_pair(pair)

	var pair := connected_pair({})
	if pair.is_empty():
		return
	for size in [16384, 1024]:
		_throughput(pair, size)
	_round_trip(pair)
	_poll_cost(pair)
	close_pair(pair)

	var lossy := connected_pair({"ordered": false, "maxRetransmits": 0})
	if lossy.is_empty():
		return
	_unreliable(lossy, 1024)
	close_pair(lossy)


## Sends [param message] until [param total] bytes went out or the channel holds HIGH_WATER
## bytes, pacing on get_buffered_amount() as a game should. Returns the new sent count.
static func keep_full(tx: WebRTCDataChannel, message: PackedByteArray, sent: int, total: int) -> int:
	while sent < total and tx.get_buffered_amount() < HIGH_WATER:
		if tx.put_packet(message) != OK:
			break
		sent += message.size()
	return sent


func _throughput(pair: Array, size: int) -> void:
	var a: WebRTCPeerConnection = pair[0]
	var b: WebRTCPeerConnection = pair[1]
	var tx: WebRTCDataChannel = pair[2]
	var rx: WebRTCDataChannel = pair[3]
	var message := PackedByteArray()
	message.resize(size)
	var sent := 0
	var received := 0
	var packets := 0
	var receive_usec := 0
	var started := Time.get_ticks_usec()
	while received < THROUGHPUT_BYTES:
		sent = keep_full(tx, message, sent, THROUGHPUT_BYTES)
		a.poll()
		var before := Time.get_ticks_usec()
		b.poll()
		while rx.get_available_packet_count() > 0:
			received += rx.get_packet().size()
			packets += 1
		receive_usec += Time.get_ticks_usec() - before
	var seconds := (Time.get_ticks_usec() - started) / 1e6
	report("reliable_mb_s", THROUGHPUT_BYTES / seconds / 1e6, "MB/s", {"message": size})
	report("receive_ns_per_packet", receive_usec * 1000.0 / packets, "ns", {"message": size})


func _unreliable(pair: Array, size: int) -> void:
	var a: WebRTCPeerConnection = pair[0]
	var b: WebRTCPeerConnection = pair[1]
	var tx: WebRTCDataChannel = pair[2]
	var rx: WebRTCDataChannel = pair[3]
	var message := PackedByteArray()
	message.resize(size)
	var sent := 0
	var received := 0
	var started := Time.get_ticks_usec()
	var last_arrival := Time.get_ticks_usec()
	while true:
		sent = keep_full(tx, message, sent, UNRELIABLE_BYTES)
		a.poll()
		b.poll()
		while rx.get_available_packet_count() > 0:
			received += rx.get_packet().size()
			last_arrival = Time.get_ticks_usec()
		# Done when everything arrived, or nothing more came for 300 ms after the last send.
		if received >= UNRELIABLE_BYTES:
			break
		if sent >= UNRELIABLE_BYTES and Time.get_ticks_usec() - last_arrival > 300000:
			break
	var seconds := (last_arrival - started) / 1e6
	report("unreliable_mb_s", received / seconds / 1e6, "MB/s", {"message": size})
	report("unreliable_delivered", float(received) / sent, "fraction", {"message": size})


func _round_trip(pair: Array) -> void:
	var a: WebRTCPeerConnection = pair[0]
	var b: WebRTCPeerConnection = pair[1]
	var ca: WebRTCDataChannel = pair[2]
	var cb: WebRTCDataChannel = pair[3]
	var ping := PackedByteArray()
	ping.resize(64)
	var tight: Array[float] = []
	for i in RTT_SAMPLES:
		var started := Time.get_ticks_usec()
		ca.put_packet(ping)
		while true:
			b.poll()
			if cb.get_available_packet_count() > 0:
				cb.put_packet(cb.get_packet())
			a.poll()
			if ca.get_available_packet_count() > 0:
				ca.get_packet()
				break
		tight.append(Time.get_ticks_usec() - started)
	tight.sort()
	report("rtt_p50_us", tight[tight.size() / 2], "µs", {"pacing": "tight loop"})
	report("rtt_p99_us", tight[int(tight.size() * 0.99)], "µs", {"pacing": "tight loop"})

	# A game polls once per frame: each side polls, then the frame sleeps to its 60 Hz slot.
	var framed: Array[float] = []
	for i in FRAME_RTT_SAMPLES:
		var started := Time.get_ticks_usec()
		ca.put_packet(ping)
		var done := false
		while not done:
			var frame_start := Time.get_ticks_usec()
			b.poll()
			if cb.get_available_packet_count() > 0:
				cb.put_packet(cb.get_packet())
			a.poll()
			if ca.get_available_packet_count() > 0:
				ca.get_packet()
				done = true
			else:
				OS.delay_usec(maxi(0, FRAME_USEC - (Time.get_ticks_usec() - frame_start)))
		framed.append(Time.get_ticks_usec() - started)
	framed.sort()
	report("rtt_p50_us", framed[framed.size() / 2], "µs", {"pacing": "60 Hz frames"})
	report("rtt_p99_us", framed[int(framed.size() * 0.99)], "µs", {"pacing": "60 Hz frames"})


func _poll_cost(pair: Array) -> void:
	var a: WebRTCPeerConnection = pair[0]
	var ca: WebRTCDataChannel = pair[2]
	var calls := 200000
	var started := Time.get_ticks_usec()
	for i in calls:
		a.poll()
	var poll_ns := (Time.get_ticks_usec() - started) * 1000.0 / calls
	started = Time.get_ticks_usec()
	for i in calls:
		ca.get_available_packet_count()
	var count_ns := (Time.get_ticks_usec() - started) * 1000.0 / calls
	# The GDScript loop itself, to tell the plugin's share from the interpreter's.
	started = Time.get_ticks_usec()
	for i in calls:
		a.get_instance_id()
	var baseline_ns := (Time.get_ticks_usec() - started) * 1000.0 / calls
	report("idle_poll_ns", poll_ns, "ns", {"gdscript_call_baseline_ns": baseline_ns})
	report("available_packet_count_ns", count_ns, "ns", {"gdscript_call_baseline_ns": baseline_ns})


## Many connected pairs in this process, polled at 60 Hz.
func _many(count: int) -> Array:
	var pairs := []
	for i in count / 2:
		var pair := connected_pair({})
		if pair.is_empty():
			return []
		pairs.append(pair)
	return pairs


## /proc files report a length of 0, so they are read line by line.
static func proc_lines(path: String) -> PackedStringArray:
	var lines := PackedStringArray()
	var file := FileAccess.open(path, FileAccess.READ)
	while file != null and not file.eof_reached():
		lines.append(file.get_line())
	return lines


static func proc_cpu_seconds() -> float:
	var fields := proc_lines("/proc/self/stat")[0].split(")")[1].split(" ")
	# utime and stime are fields 14 and 15; after the ")" split they sit at 12 and 13.
	return (fields[12].to_int() + fields[13].to_int()) / 100.0


static func proc_status(key: String) -> int:
	for line in proc_lines("/proc/self/status"):
		if line.begins_with(key + ":"):
			return line.split(":")[1].strip_edges().split(" ")[0].to_int()
	return -1


static func count_entries(path: String) -> int:
	return DirAccess.get_files_at(path).size() + DirAccess.get_directories_at(path).size()


func _idle() -> void:
	var threads_before := count_entries("/proc/self/task")
	var pairs := _many(64)
	if pairs.is_empty():
		return
	var cpu_before := proc_cpu_seconds()
	var started := Time.get_ticks_usec()
	var frames := 0
	while Time.get_ticks_usec() - started < 10000000:
		var frame_start := Time.get_ticks_usec()
		for pair in pairs:
			pair[0].poll()
			pair[1].poll()
			pair[2].get_available_packet_count()
			pair[3].get_available_packet_count()
		frames += 1
		OS.delay_usec(maxi(0, FRAME_USEC - (Time.get_ticks_usec() - frame_start)))
	var seconds := (Time.get_ticks_usec() - started) / 1e6
	var cpu := proc_cpu_seconds() - cpu_before
	report("idle_64_cpu_percent_of_core", cpu / seconds * 100.0, "%", {"frames": frames})
	report("threads", count_entries("/proc/self/task"), "threads",
		{"peers": 64, "before_first_peer": threads_before})
	for pair in pairs:
		close_pair(pair)


func _scale() -> void:
	var rss_before := proc_status("VmRSS")
	var fds_before := count_entries("/proc/self/fd")
	var threads_before := count_entries("/proc/self/task")
	var pairs := _many(256)
	if pairs.is_empty():
		return
	# Settle: let every connection finish its post-open chatter.
	for i in 60:
		for pair in pairs:
			pair[0].poll()
			pair[1].poll()
		OS.delay_usec(FRAME_USEC)
	var rss := proc_status("VmRSS")
	var fds := count_entries("/proc/self/fd")
	report("rss_kb_per_peer", float(rss - rss_before) / 256, "KB", {"peers": 256, "rss_kb": rss})
	report("fds_per_peer", float(fds - fds_before) / 256, "fds", {"peers": 256})
	report("threads", count_entries("/proc/self/task"), "threads",
		{"peers": 256, "before_first_peer": threads_before})
	for pair in pairs:
		close_pair(pair)
