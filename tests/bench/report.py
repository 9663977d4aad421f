"""Summarises tests/bench/run.sh's raw figures into RESULTS.md and chart.png.

    python report.py RESULTS.jsonl OUTPUT_DIR

Medians over repetitions (open time: over every sample), spread as min–max, the ratio
ours/theirs, and the issue's targets with whether this run met them. Prints the table too.
The section frame_report.py writes into RESULTS.md is kept.
"""

import json
import os
import platform
import statistics
import sys
import textwrap
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS = "webrtc-rs (this addon)"
THEIRS = "libdatachannel (node-datachannel)"

# (metric, what the entry must match, label, better, target description, target check).
# A key an entry or a row leaves out takes its value from DEFAULTS.
DEFAULTS = {"processes": 1, "part": "process", "max_message_size": 65536, "cores": "all"}
AT_LEAST_THEIRS = ("≥ 1.0× libdatachannel", lambda ours, theirs: theirs and ours >= theirs)
ROWS = [
    ("reliable_mb_s", {"message": 16384}, "reliable throughput, 16 KiB messages, one process (MB/s)",
     "higher", *AT_LEAST_THEIRS),
    ("reliable_mb_s", {"message": 1024}, "reliable throughput, 1 KiB messages, one process (MB/s)",
     "higher", *AT_LEAST_THEIRS),
    ("reliable_mb_s", {"message": 16384, "processes": 2},
     "reliable throughput, 16 KiB messages, two processes (MB/s)", "higher", *AT_LEAST_THEIRS),
    ("reliable_mb_s", {"message": 1024, "processes": 2},
     "reliable throughput, 1 KiB messages, two processes (MB/s)", "higher", *AT_LEAST_THEIRS),
    ("unreliable_mb_s", {"message": 1024}, "unreliable throughput, 1 KiB (MB/s)", "higher", "", None),
    ("unreliable_delivered", {"message": 1024}, "unreliable delivered fraction", "higher", "", None),
    ("open_ms", {}, "new() to channel OPEN (ms)", "lower", "≤ 20 ms", lambda ours, theirs: ours <= 20),
    ("rtt_p50_us", {"pacing": "tight loop"}, "64 B echo p50, tight poll loop / theirs event driven (µs)",
     "lower", "≤ 250 µs", lambda ours, theirs: ours <= 250),
    ("rtt_p99_us", {"pacing": "tight loop"}, "64 B echo p99, tight poll loop / theirs event driven (µs)",
     "lower", "≤ 1000 µs", lambda ours, theirs: ours <= 1000),
    ("reliable_mb_s", {"message": 16384, "cores": 1},
     "reliable throughput, 16 KiB messages, one process held to one core (MB/s)", "higher",
     *AT_LEAST_THEIRS),
    ("reliable_mb_s", {"message": 1024, "cores": 1},
     "reliable throughput, 1 KiB messages, one process held to one core (MB/s)", "higher",
     *AT_LEAST_THEIRS),
    ("open_ms", {"cores": 1}, "new() to channel OPEN, one core (ms)", "lower", "≤ 20 ms",
     lambda ours, theirs: ours <= 20),
    ("rtt_p50_us", {"pacing": "tight loop", "cores": 1},
     "64 B echo p50, one core, tight poll loop / theirs event driven (µs)", "lower", "≤ 250 µs",
     lambda ours, theirs: ours <= 250),
    ("rtt_p99_us", {"pacing": "tight loop", "cores": 1},
     "64 B echo p99, one core, tight poll loop / theirs event driven (µs)", "lower", "≤ 1000 µs",
     lambda ours, theirs: ours <= 1000),
    ("rtt_p50_us", {"pacing": "60 Hz frames"}, "64 B echo p50, polled at 60 Hz (µs)", "lower", "", None),
    ("rtt_p99_us", {"pacing": "60 Hz frames"}, "64 B echo p99, polled at 60 Hz (µs)", "lower", "", None),
    ("idle_poll_ns", {}, "poll() with nothing to do (ns, GDScript call included)", "lower",
     "≤ 1000 ns", lambda ours, theirs: ours <= 1000),
    ("available_packet_count_ns", {}, "get_available_packet_count() (ns)", "lower", "", None),
    ("receive_ns_per_packet", {"message": 1024}, "receive cost per 1 KiB packet (ns)", "lower", "", None),
    ("receive_ns_per_packet", {"message": 16384}, "receive cost per 16 KiB packet (ns)", "lower", "", None),
    ("idle_64_cpu_percent_of_core", {"part": "webrtc-rs threads"},
     "64 idle connected peers: the plugin's network threads (% of one core)", "lower", "< 1 %",
     lambda ours, theirs: ours < 1),
    ("idle_64_cpu_percent_of_core", {"part": "calls on the game thread"},
     "64 idle peers: poll() + get_available_packet_count() per frame at 60 Hz, game thread (% of one core)",
     "lower", "", None),
    ("idle_64_cpu_percent_of_core", {"part": "engine calls on the game thread"},
     "… the same number of get_instance_id() calls, for scale (% of one core)", "lower", "", None),
    ("idle_64_cpu_percent_of_core", {}, "64 idle peers polled at 60 Hz: whole Godot process (% of one core)",
     "lower", "", None),
    ("rss_kb_per_peer", {}, "RSS per connected peer at 256 peers (KB)", "lower",
     "≤ 256 KB", lambda ours, theirs: ours <= 256),
    ("rss_kb_per_peer", {"max_message_size": 262144},
     "RSS per connected peer at 256 peers, maxMessageSize 256 KiB (KB)", "lower", "", None),
    ("fds_per_peer", {}, "file descriptors per peer at 256 peers", "lower", "", None),
]


def collect(path: Path):
    values = defaultdict(list)
    threads = {}
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry["metric"] == "threads":
            threads[entry["peers"]] = (entry["value"], entry.get("before_first_peer"))
            continue
        # libdatachannel has no poll loop: its event-driven echo is compared with our tight loop.
        if entry.get("pacing") == "event driven":
            entry["pacing"] = "tight loop"
        for index, (metric, match, *_) in enumerate(ROWS):
            wanted = {**DEFAULTS, **match}
            if entry["metric"] == metric and all(
                entry.get(key, DEFAULTS.get(key)) == value for key, value in wanted.items()
            ):
                values[(entry["stack"], index)].append(entry["value"])
    return values, threads


def describe(samples):
    if not samples:
        return None, "n/a"
    median = statistics.median(samples)
    spread = f"{fmt(min(samples))}–{fmt(max(samples))}" if len(samples) > 1 else "one run"
    return median, spread


def fmt(value):
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def ratio(ours, theirs):
    """ours/theirs as the tables show it, or a dash when either is missing."""
    return f"{ours / theirs:.2f}×" if ours is not None and theirs else "—"


# RESULTS.md's section written by frame_report.py: kept when this script rewrites the file, so
# that a clean run and a frame run, made apart, both show.
FRAME_BLOCK_START = "<!-- the frame suite's targets, written by frame_report.py -->"
FRAME_BLOCK_END = "<!-- end of the frame suite's targets -->"


def frame_block(text):
    """The frame suite's section of a RESULTS.md text, markers included, or ''."""
    start, end = text.find(FRAME_BLOCK_START), text.find(FRAME_BLOCK_END)
    if start < 0 or end < start:
        return ""
    return text[start:end + len(FRAME_BLOCK_END)]


def with_frame_block(text, body):
    """`text` with its frame suite section replaced by `body` (appended when it had none)."""
    block = f"{FRAME_BLOCK_START}\n{body}\n{FRAME_BLOCK_END}"
    old = frame_block(text)
    if old:
        return text.replace(old, block)
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + block + "\n"


def main() -> int:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    values, threads = collect(source)
    reps = len(values.get((OURS, 0), []))
    lines = [
        "# Benchmark results",
        "",
        "Written by `tests/bench/run.sh`; figures from one run, not a pass/fail test. "
        "What limits them, and the profiles behind each change: [PROFILES.md](PROFILES.md). "
        "The other parts have a file each: through a lossy path, [LOSSY.md](LOSSY.md); the game "
        "thread's calls and a dedicated server, beside webrtc-native, [FRAME.md](FRAME.md); the "
        "signaling server, [SIGNALING.md](SIGNALING.md).",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {reps} alternating repetitions; "
        f"{platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; loopback in a "
        "private network namespace; both peers in one process unless the row says two processes "
        "(there each Godot loop sleeps 100 µs when it has nothing to do).",
        f"Ours: Godot {os.environ.get('GODOT_VERSION', '?')} headless, this addon (webrtc-rs 0.21.1, "
        "release build), driven from GDScript. Theirs: libdatachannel through npm node-datachannel "
        "0.33.4 (native API, event driven, Node).",
        "",
        "| figure | ours (median) | ours spread | libdatachannel (median) | theirs spread | ours/theirs | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    chart = []
    for index, (metric, match, label, better, target, met) in enumerate(ROWS):
        ours, ours_spread = describe(values.get((OURS, index), []))
        theirs, theirs_spread = describe(values.get((THEIRS, index), []))
        verdict = "—"
        if met is not None and ours is not None:
            verdict = "yes" if met(ours, theirs) else "**no**"
        lines.append(f"| {label} | {fmt(ours)} | {ours_spread} | {fmt(theirs)} | {theirs_spread} "
                     f"| {ratio(ours, theirs)} | {target or '—'} | {verdict} |")
        if ours is not None and theirs is not None:
            chart.append((label, ours, theirs, better))
    if threads:
        per_count = ", ".join(f"{value} with {peers} peers (before the first: {before})"
                              for peers, (value, before) in sorted(threads.items()))
        same = len({value for value, _ in threads.values()}) == 1
        lines += ["", f"Threads in the Godot process: {per_count}; "
                  f"{'independent of the number of peers' if same else '**varies with the peer count**'}."]
    text = "\n".join(lines) + "\n"
    results = out / "RESULTS.md"
    kept = frame_block(results.read_text()) if results.exists() else ""
    (out / "RESULTS.md").write_text(text + ("\n" + kept + "\n" if kept else ""))
    print(text)

    if chart:
        columns = 4
        rows = (len(chart) + columns - 1) // columns
        fig, axes = plt.subplots(rows, columns, figsize=(3.4 * columns, 3.4 * rows), squeeze=False)
        for axis in axes.flat[len(chart):]:
            axis.set_visible(False)
        for axis, (label, ours, theirs, better) in zip(axes.flat, chart):
            axis.bar(["ours", "libdatachannel"], [ours, theirs], color=["#478cbf", "#999999"])
            axis.set_title("\n".join(textwrap.wrap(label, 42)), fontsize=8)
            axis.tick_params(labelsize=7)
            axis.set_xlabel(f"{better} is better", fontsize=7)
        fig.suptitle("webrtc-rs addon in Godot vs libdatachannel (medians)", fontsize=10)
        fig.tight_layout()
        fig.savefig(out / "chart.png", dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
