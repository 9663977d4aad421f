## Benchmarks of the addon inside headless Godot, driven from GDScript with a tight poll loop
## (tests/bench/run.sh runs it; it prints figures and never fails on timing):
##   godot --headless --path tests/godot --script res://bench/bench.gd -- --suite=NAME [options]
## core: channel open time, reliable throughput (16 KiB and 1 KiB), unreliable throughput and
## delivered fraction, 64-byte echo round trip (tight loop and 60 Hz frames), poll() cost.
## echo: the tight-loop echo alone (--samples=N round trips, 20000 unless given), and the CPU
## time the network threads spent per round trip (Linux: their schedstat), which is most of it.
## idle: CPU of 64 connected idle peers at 60 Hz: the network threads, and the calls on the
## game thread (against the same frame loop without them, and with plain engine calls), threads.
## scale: RSS and descriptors per connection with 256 connected peers (--max-message-size=N).
## remote: one peer of a two-process pair (--role=offer|answer --port=N; the offerer listens
## for the signaling link on 127.0.0.1:N): reliable throughput, reported by the receiver.
## lossy: one pair whose only path is the udp-impair relay (--relay=PATH --loss=FRACTION
## --delay=MS one way --seed=N --seconds=S, and --burst=SHORTEST-LONGEST for losses in runs).
## --pattern=bulk: 16 KiB reliable ordered messages kept flowing for S seconds, bytes received
## per second. --pattern=game: GAME_RATE reliable ordered GAME_BYTES-byte messages a second for
## S seconds, each one's delivery latency.
## One "BENCH {json}" line per figure.
extends SceneTree

const Harness := preload("res://lib/harness.gd")
const THROUGHPUT_BYTES := 64 * 1024 * 1024
const UNRELIABLE_BYTES := 16 * 1024 * 1024
const HIGH_WATER := 1024 * 1024
const OPEN_SAMPLES := 10
const RTT_SAMPLES := 2000
const FRAME_RTT_SAMPLES := 60
const FRAME_USEC := 16667
const IDLE_SECONDS := 8
## Two-process loops sleep this long when there is nothing to do: a spinning loop in each of two
## processes would take both cores of a two-core machine away from the network threads.
const IDLE_WAIT_USEC := 100
const LOSSY_MESSAGE := 16384
const GAME_RATE := 20
const GAME_BYTES := 200
## After the last game message, how long the stragglers may take before they count as lost.
const GAME_DRAIN_MSEC := 15000


func _initialize() -> void:
	var args := {"suite": "core", "role": "offer", "port": "0"}
	for arg in OS.get_cmdline_user_args():
		if arg.begins_with("--") and arg.contains("="):
			args[arg.substr(2).get_slice("=", 0)] = arg.get_slice("=", 1)
	match args["suite"]:
		"core":
			_core()
		"idle":
			_idle()
		"scale":
			var extra := {}
			if args.has("max-message-size"):
				extra["maxMessageSize"] = int(args["max-message-size"])
			_scale(extra)
		"remote":
			_remote(args["role"], int(args["port"]))
		"lossy":
			_lossy(args)
		"echo":
			_echo(int(args.get("samples", "20000")))
	quit(0)


static func report(metric: String, value: float, unit: String, extra := {}) -> void:
	var entry := {"stack": "webrtc-rs (this addon)", "metric": metric, "value": value, "unit": unit}
	entry.merge(extra)
	print("BENCH ", JSON.stringify(entry))


## Two connected peers with a negotiated channel each side (same id), polled until open.
static func connected_pair(options: Dictionary, config := {}) -> Array:
	var peers := Harness.pair(config)
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
	_report_round_trips(_tight_echo(pair, RTT_SAMPLES), "tight loop")
	_report_round_trips(_framed_echo(pair, FRAME_RTT_SAMPLES), "60 Hz frames")


static func _report_round_trips(sorted_usec: Array[float], pacing: String) -> void:
	report("rtt_p50_us", sorted_usec[sorted_usec.size() / 2], "µs", {"pacing": pacing})
	report("rtt_p99_us", sorted_usec[int(sorted_usec.size() * 0.99)], "µs", {"pacing": pacing})


## [param samples] 64-byte round trips, each side polled in a tight loop; returns their
## durations in µs, sorted.
static func _tight_echo(pair: Array, samples: int) -> Array[float]:
	return _echo_rounds(pair, samples, 0)


## [param samples] 64-byte round trips as a game makes them: each side polls once per frame,
## then the frame sleeps to its 60 Hz slot. Returns their durations in µs, sorted.
static func _framed_echo(pair: Array, samples: int) -> Array[float]:
	return _echo_rounds(pair, samples, FRAME_USEC)


## Round trips of a 64-byte ping from pair[2] to pair[3] and back; each pass polls both sides
## and, with [param frame_usec] > 0, then sleeps out the rest of that frame.
static func _echo_rounds(pair: Array, samples: int, frame_usec: int) -> Array[float]:
	var a: WebRTCPeerConnection = pair[0]
	var b: WebRTCPeerConnection = pair[1]
	var ca: WebRTCDataChannel = pair[2]
	var cb: WebRTCDataChannel = pair[3]
	var ping := PackedByteArray()
	ping.resize(64)
	var rounds: Array[float] = []
	for i in samples:
		var started := Time.get_ticks_usec()
		ca.put_packet(ping)
		while true:
			var pass_start := Time.get_ticks_usec() if frame_usec > 0 else 0
			b.poll()
			if cb.get_available_packet_count() > 0:
				cb.put_packet(cb.get_packet())
			a.poll()
			if ca.get_available_packet_count() > 0:
				ca.get_packet()
				break
			if frame_usec > 0:
				OS.delay_usec(maxi(0, frame_usec - (Time.get_ticks_usec() - pass_start)))
		rounds.append(Time.get_ticks_usec() - started)
	rounds.sort()
	return rounds


func _echo(samples: int) -> void:
	var pair := connected_pair({})
	if pair.is_empty():
		return
	var cpu_before := _network_thread_nsec()
	var tight := _tight_echo(pair, samples)
	var cpu := _network_thread_nsec() - cpu_before
	_report_round_trips(tight, "tight loop")
	if cpu_before >= 0:
		report("network_cpu_us_per_rtt", cpu / 1000.0 / samples, "µs")
	close_pair(pair)


## CPU time so far of this process's threads named "webrtc-rs" (the addon's runtime), in ns;
## -1 where /proc does not tell.
static func _network_thread_nsec() -> int:
	var total := -1
	for tid in DirAccess.get_directories_at("/proc/self/task"):
		var comm := FileAccess.open("/proc/self/task/%s/comm" % tid, FileAccess.READ)
		if comm == null or comm.get_line().strip_edges() != "webrtc-rs":
			continue
		var stat := FileAccess.open("/proc/self/task/%s/schedstat" % tid, FileAccess.READ)
		if stat != null:
			total = maxi(total, 0) + int(stat.get_line().get_slice(" ", 0))
	return total


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


## `count` connected peers in this process, as pairs.
func _many(count: int, config := {}) -> Array:
	var pairs := []
	for i in count / 2:
		var pair := connected_pair({}, config)
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


## CPU seconds of a thread, from its schedstat (exact, unlike the tick counts in stat).
static func thread_cpu_seconds(tid: String) -> float:
	var lines := proc_lines("/proc/self/task/%s/schedstat" % tid)
	if lines.is_empty():
		return 0.0
	return lines[0].get_slice(" ", 0).to_int() / 1e9


## CPU seconds of the whole process, of the plugin's runtime threads (named "webrtc-rs") and
## of the game thread (the one running this script).
static func cpu_seconds() -> Dictionary:
	var totals := {"process": 0.0, "webrtc-rs": 0.0, "game": 0.0}
	var main_tid := str(OS.get_process_id())
	for tid in DirAccess.get_directories_at("/proc/self/task"):
		var seconds := thread_cpu_seconds(tid)
		totals["process"] += seconds
		var comm := proc_lines("/proc/self/task/%s/comm" % tid)
		if not comm.is_empty() and comm[0] == "webrtc-rs":
			totals["webrtc-rs"] += seconds
		elif tid == main_tid:
			totals["game"] += seconds
	return totals


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
	# The same 60 Hz frame loop with nothing in it, with the calls a game makes on every
	# connection each frame, and with as many calls of a plain engine method on the same
	# objects (what GDScript's dispatch alone costs). The game-thread differences are the calls.
	var bare := _idle_frames(pairs, "")
	var polled := _idle_frames(pairs, "plugin")
	var engine := _idle_frames(pairs, "engine")
	# The network threads do the same work in all three loops: their mean over all of them.
	var network: float = (bare["webrtc-rs"] + polled["webrtc-rs"] + engine["webrtc-rs"]) / 3.0
	report("idle_64_cpu_percent_of_core", network, "%",
		{"part": "webrtc-rs threads", "seconds": IDLE_SECONDS * 3})
	report("idle_64_cpu_percent_of_core", maxf(0.0, polled["game"] - bare["game"]), "%",
		{"part": "calls on the game thread"})
	report("idle_64_cpu_percent_of_core", maxf(0.0, engine["game"] - bare["game"]), "%",
		{"part": "engine calls on the game thread"})
	report("idle_64_cpu_percent_of_core", polled["process"], "%", {"part": "process"})
	report("threads", count_entries("/proc/self/task"), "threads",
		{"peers": 64, "before_first_peer": threads_before})
	for pair in pairs:
		close_pair(pair)


## Runs a 60 Hz frame loop for IDLE_SECONDS. Each frame calls poll() on both connections and
## get_available_packet_count() on both channels of every pair ("plugin"), get_instance_id()
## on the same four objects ("engine"), or nothing. Returns each part's CPU in % of one core.
func _idle_frames(pairs: Array, calls: String) -> Dictionary:
	var before := cpu_seconds()
	var started := Time.get_ticks_usec()
	var frames := 0
	while Time.get_ticks_usec() - started < IDLE_SECONDS * 1000000:
		var frame_start := Time.get_ticks_usec()
		if calls == "plugin":
			for pair in pairs:
				pair[0].poll()
				pair[1].poll()
				pair[2].get_available_packet_count()
				pair[3].get_available_packet_count()
		elif calls == "engine":
			for pair in pairs:
				pair[0].get_instance_id()
				pair[1].get_instance_id()
				pair[2].get_instance_id()
				pair[3].get_instance_id()
		frames += 1
		OS.delay_usec(maxi(0, FRAME_USEC - (Time.get_ticks_usec() - frame_start)))
	var seconds := (Time.get_ticks_usec() - started) / 1e6
	var after := cpu_seconds()
	var percent := {"frames": frames}
	for part in after:
		percent[part] = (after[part] - before[part]) / seconds * 100.0
	return percent


func _scale(config: Dictionary) -> void:
	var rss_before := proc_status("VmRSS")
	var fds_before := count_entries("/proc/self/fd")
	var threads_before := count_entries("/proc/self/task")
	var pairs := _many(256, config)
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
	report("rss_kb_per_peer", float(rss - rss_before) / 256, "KB", {"peers": 256, "rss_kb": rss,
		"max_message_size": config.get("maxMessageSize", 65536)})
	report("fds_per_peer", float(fds - fds_before) / 256, "fds",
		{"peers": 256, "max_message_size": config.get("maxMessageSize", 65536)})
	report("threads", count_entries("/proc/self/task"), "threads",
		{"peers": 256, "before_first_peer": threads_before})
	for pair in pairs:
		close_pair(pair)


## One side of the two-process run. The offerer listens for the signaling link, sends, and waits
## for the answerer's "done" after each message size; the answerer times what arrives.
func _remote(role: String, port: int) -> void:
	var link := SignalingLink.new()
	if not link.open(role, port):
		push_error("bench: no signaling link on port %d" % port)
		return
	var pc := WebRTCPeerConnection.new()
	pc.initialize(Harness.LOOPBACK)
	pc.session_description_created.connect(func(type, sdp):
		pc.set_local_description(type, sdp)
		link.send({"type": type, "sdp": sdp}))
	pc.ice_candidate_created.connect(func(media, index, name):
		link.send({"media": media, "index": index, "name": name}))
	var channel := pc.create_data_channel("bench", {"negotiated": true, "id": 1})
	var step := func() -> void:
		pc.poll()
		for message in link.receive():
			if message.has("sdp"):
				pc.set_remote_description(message["type"], message["sdp"])
			else:
				pc.add_ice_candidate(message["media"], int(message["index"]), message["name"])
	if role == "offer":
		pc.create_offer()
	var deadline := Time.get_ticks_msec() + 10000
	while channel.get_ready_state() != WebRTCDataChannel.STATE_OPEN:
		step.call()
		if Time.get_ticks_msec() > deadline:
			push_error("bench: two-process channel did not open")
			return
	for size in [16384, 1024]:
		if role == "offer":
			_remote_send(channel, step, size)
		else:
			_remote_receive(channel, step, size)
	# Let the last acknowledgement leave before closing.
	deadline = Time.get_ticks_msec() + 5000
	while channel.get_buffered_amount() > 0 and Time.get_ticks_msec() < deadline:
		step.call()
	Harness.unlink([pc])
	pc.close()


func _lossy(args: Dictionary) -> void:
	var relay_args := ["--loss", args.get("loss", "0"), "--delay", args.get("delay", "0"),
		"--seed", args.get("seed", "1")]
	if args.has("burst"):
		relay_args.append_array(["--burst", args["burst"]])
	var relay := OS.execute_with_pipe(args.get("relay", ""), relay_args)
	if relay.is_empty():
		push_error("bench: cannot start the relay '%s'" % args.get("relay", ""))
		return
	var pipe: FileAccess = relay["stdio"]
	var ready := pipe.get_line().split(" ")
	if ready.size() != 3 or ready[0] != "READY":
		push_error("bench: the relay did not say READY")
		return
	var a := WebRTCPeerConnection.new()
	var b := WebRTCPeerConnection.new()
	a.initialize(Harness.LOOPBACK)
	b.initialize(Harness.LOOPBACK)
	# Each side learns the relay's address instead of the other's: the relay is the only path.
	Harness.link(a, b, ready[2], ready[1])
	var opts := {"negotiated": true, "id": 1}
	var pair := [a, b, a.create_data_channel("bench", opts), b.create_data_channel("bench", opts)]
	a.create_offer()
	var deadline := Time.get_ticks_msec() + 30000
	while pair[2].get_ready_state() != WebRTCDataChannel.STATE_OPEN \
			or pair[3].get_ready_state() != WebRTCDataChannel.STATE_OPEN:
		a.poll()
		b.poll()
		OS.delay_usec(IDLE_WAIT_USEC)
		if Time.get_ticks_msec() > deadline:
			push_error("bench: channel did not open through the relay")
			return
	var extra := {"loss": float(args.get("loss", "0")), "delay_ms": int(args.get("delay", "0")),
		"pattern": args.get("pattern", "bulk")}
	if args.has("burst"):
		extra["burst"] = args["burst"]
	var seconds := float(args.get("seconds", "10"))
	if extra["pattern"] == "game":
		_lossy_game(pair, seconds, extra)
	else:
		_lossy_bulk(pair, seconds, extra)
	pipe.store_line("stats")
	pipe.flush()
	report_relay(pipe.get_line(), extra)
	pipe.store_line("quit")
	pipe.flush()
	close_pair(pair)


## 16 KiB messages kept flowing for `seconds`: what arrived in that time, per second.
static func _lossy_bulk(pair: Array, seconds: float, extra: Dictionary) -> void:
	var tx: WebRTCDataChannel = pair[2]
	var rx: WebRTCDataChannel = pair[3]
	var message := PackedByteArray()
	message.resize(LOSSY_MESSAGE)
	var sent := 0
	var received := 0
	var end := Time.get_ticks_usec() + int(seconds * 1e6)
	while Time.get_ticks_usec() < end:
		sent = keep_full(tx, message, sent, 1 << 60)
		pair[0].poll()
		pair[1].poll()
		if rx.get_available_packet_count() == 0:
			OS.delay_usec(IDLE_WAIT_USEC)
		while rx.get_available_packet_count() > 0:
			received += rx.get_packet().size()
	report("lossy_kb_s", received / seconds / 1000.0, "KB/s", extra.merged({"message": LOSSY_MESSAGE}))


## GAME_RATE messages a second for `seconds`, each carrying its send time: the latency of each
## from put_packet() to get_packet() on the other side.
static func _lossy_game(pair: Array, seconds: float, extra: Dictionary) -> void:
	var tx: WebRTCDataChannel = pair[2]
	var rx: WebRTCDataChannel = pair[3]
	var total := int(seconds * GAME_RATE)
	var latencies: Array[float] = []
	var sent := 0
	var next := Time.get_ticks_usec()
	var drain_deadline := 0
	while latencies.size() < total:
		var now := Time.get_ticks_usec()
		if sent < total and now >= next:
			var message := PackedByteArray()
			message.resize(GAME_BYTES)
			message.encode_s64(0, now)
			tx.put_packet(message)
			sent += 1
			next += 1000000 / GAME_RATE
			if sent == total:
				drain_deadline = Time.get_ticks_msec() + GAME_DRAIN_MSEC
		pair[0].poll()
		pair[1].poll()
		while rx.get_available_packet_count() > 0:
			var packet := rx.get_packet()
			latencies.append((Time.get_ticks_usec() - packet.decode_s64(0)) / 1000.0)
		if sent == total and Time.get_ticks_msec() > drain_deadline:
			break
		OS.delay_usec(IDLE_WAIT_USEC)
	report_latencies(latencies, total, extra)


## The game pattern's figures: delivered fraction and latency quantiles (ms).
static func report_latencies(latencies: Array[float], total: int, extra: Dictionary) -> void:
	report("game_delivered", float(latencies.size()) / total, "fraction", extra)
	if latencies.is_empty():
		return
	latencies.sort()
	var quantiles := {"p50": latencies[latencies.size() / 2],
		"p99": latencies[mini(latencies.size() - 1, int(latencies.size() * 0.99))],
		"p99.9": latencies[mini(latencies.size() - 1, int(latencies.size() * 0.999))],
		"max": latencies[-1]}
	for quantile in quantiles:
		report("game_latency_ms", quantiles[quantile], "ms", extra.merged({"quantile": quantile}))


## The relay's packet counts for one lossy run: data packets (from A) and what came back.
static func report_relay(stats: String, extra: Dictionary) -> void:
	var counts := {}
	for field in stats.trim_prefix("STATS ").split(" ", false):
		counts[field.get_slice("=", 0)] = int(field.get_slice("=", 1))
	if counts.has("from_a") and counts.has("from_b"):
		report("packets_back_per_packet_out", float(counts["from_b"]) / maxi(1, counts["from_a"]),
			"ratio", extra)


## Announces the size as text, keeps the channel full until THROUGHPUT_BYTES went out, then
## waits for the receiver's acknowledgement.
static func _remote_send(channel: WebRTCDataChannel, step: Callable, size: int) -> void:
	put_text(channel, "begin %d" % size)
	var message := PackedByteArray()
	message.resize(size)
	var sent := 0
	var deadline := Time.get_ticks_msec() + 120000
	while Time.get_ticks_msec() < deadline:
		sent = keep_full(channel, message, sent, THROUGHPUT_BYTES)
		step.call()
		while channel.get_available_packet_count() > 0:
			if channel.get_packet().get_string_from_utf8() == "done %d" % size:
				return
		OS.delay_usec(IDLE_WAIT_USEC)
	push_error("bench: no acknowledgement for %d-byte messages" % size)


## Times THROUGHPUT_BYTES of `size`-byte messages from the "begin" marker to the last byte.
static func _remote_receive(channel: WebRTCDataChannel, step: Callable, size: int) -> void:
	var received := -1
	var started := 0
	var last := 0
	var longest_gap := 0
	var deadline := Time.get_ticks_msec() + 120000
	while received < THROUGHPUT_BYTES and Time.get_ticks_msec() < deadline:
		step.call()
		if channel.get_available_packet_count() == 0:
			OS.delay_usec(IDLE_WAIT_USEC)
		while channel.get_available_packet_count() > 0:
			var packet := channel.get_packet()
			var now := Time.get_ticks_usec()
			if received < 0:
				if channel.was_string_packet() and packet.get_string_from_utf8() == "begin %d" % size:
					received = 0
					started = now
					last = now
			else:
				received += packet.size()
				longest_gap = maxi(longest_gap, now - last)
				last = now
	if received < THROUGHPUT_BYTES:
		push_error("bench: %d-byte messages did not all arrive" % size)
		return
	var seconds := (Time.get_ticks_usec() - started) / 1e6
	report("reliable_mb_s", THROUGHPUT_BYTES / seconds / 1e6, "MB/s",
		{"message": size, "processes": 2, "longest_gap_ms": longest_gap / 1000.0})
	put_text(channel, "done %d" % size)


## Sends `text` as a text message on a channel that otherwise carries binary ones.
static func put_text(channel: WebRTCDataChannel, text: String) -> void:
	channel.write_mode = WebRTCDataChannel.WRITE_MODE_TEXT
	channel.put_packet(text.to_utf8_buffer())
	channel.write_mode = WebRTCDataChannel.WRITE_MODE_BINARY


## Signaling between the two bench processes: one JSON object per line over loopback TCP.
class SignalingLink:
	var server := TCPServer.new()
	var tcp: StreamPeerTCP
	var pending := ""

	## The offerer listens and takes one connection; the answerer connects, retrying until the
	## offerer is up. Either gives up after 10 s.
	func open(role: String, port: int) -> bool:
		var deadline := Time.get_ticks_msec() + 10000
		if role == "offer" and server.listen(port, "127.0.0.1") != OK:
			return false
		while Time.get_ticks_msec() < deadline:
			if role == "offer":
				if server.is_connection_available():
					tcp = server.take_connection()
					return true
			else:
				if tcp == null or tcp.get_status() in [StreamPeerTCP.STATUS_NONE, StreamPeerTCP.STATUS_ERROR]:
					tcp = StreamPeerTCP.new()
					tcp.connect_to_host("127.0.0.1", port)
				tcp.poll()
				if tcp.get_status() == StreamPeerTCP.STATUS_CONNECTED:
					return true
			OS.delay_msec(5)
		return false

	func send(message: Dictionary) -> void:
		tcp.put_data((JSON.stringify(message) + "\n").to_utf8_buffer())

	func receive() -> Array:
		tcp.poll()
		if tcp.get_status() != StreamPeerTCP.STATUS_CONNECTED:
			return []
		var available := tcp.get_available_bytes()
		if available > 0:
			pending += tcp.get_utf8_string(available)
		var messages := []
		while pending.contains("\n"):
			var line := pending.get_slice("\n", 0)
			pending = pending.substr(line.length() + 1)
			var parsed = JSON.parse_string(line)
			if parsed is Dictionary:
				messages.append(parsed)
		return messages
