"""Summarises the frame suite of tests/bench/run.sh into FRAME.md, and its targets into a
section of RESULTS.md (the rest of that file is report.py's).

    python frame_report.py RESULTS.jsonl OUTPUT_DIR

Each stack ran tests/godot/bench/frame_cost.gd in its own Godot project, with a busy loop per
core. Per call: the median over repetitions of each repetition's p50, p99 and p99.9, and the
largest max; the issue's targets with whether this run met them (ours).
"""

import json
import os
import platform
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from report import OURS, fmt, ratio, with_frame_block  # noqa: E402

NATIVE = "webrtc-native 1.2.1"
# frame_cost.gd's controls, timed beside the plugin's calls and never reaching either plugin: an
# engine call, and the engine waking a thread of its own that sleeps on a Semaphore.
CONTROL = "engine call (control)"
WAKE_CONTROL = "engine wake (control)"
CONTROLS = (CONTROL, WAKE_CONTROL)
SCENARIOS = {
    "state": "(a) one connection, a 100-byte unreliable state packet each way per frame",
    "bulk": "(b) as (a), beside a reliable 16 KiB download on the same connection, 1 MiB in flight",
    "mesh": "(c) 32 connections in this process, each as in (a)",
}
# Issue 24's targets for every call on the game thread (µs) and for frames of plugin work.
TARGET_P50, TARGET_P99, TARGET_P999, TARGET_MAX = 2, 20, 50, 1000
TARGET_GET_PACKET = {100: 1.0, 16384: 5.0}


def collect(path: Path):
    calls = defaultdict(lambda: defaultdict(list))
    frames = defaultdict(list)
    reads = defaultdict(list)
    server = defaultdict(list)
    failed = defaultdict(list)
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        metric = entry.get("metric")
        if metric == "call_us":
            samples = calls[(entry["stack"], entry["scenario"], entry["call"])]
            for quantile, key in (("p50", "value"), ("p99", "p99"), ("p999", "p999"), ("max", "max")):
                samples[quantile].append(entry[key])
        elif metric == "frame_work_us":
            frames[(entry["stack"], entry["scenario"])].append(entry)
        elif metric == "get_packet_us":
            reads[(entry["stack"], entry["size"])].append(entry)
        elif metric == "run_failed":
            failed[(entry["stack"], entry["scenario"])].append(entry["errors"])
        elif "clients" in entry:
            server[(entry["stack"], entry["clients"], metric)].append(entry)
    return calls, frames, reads, server, failed


def summary(samples):
    """p50, p99, p99.9 as medians over repetitions; max as the largest."""
    if not samples:
        return None
    return (statistics.median(samples["p50"]), statistics.median(samples["p99"]),
            statistics.median(samples["p999"]), max(samples["max"]))


def cells(stats):
    return " / ".join(fmt(v) for v in stats) if stats else "n/a"


def meets(stats):
    p50, p99, p999, top = stats
    return p50 <= TARGET_P50 and p99 <= TARGET_P99 and p999 <= TARGET_P999 and top <= TARGET_MAX


def call_table(calls, stacks, scenario):
    present = {call for (_, sc, call) in calls if sc == scenario}
    names = sorted(present - {"get_packet", *CONTROLS}) + [c for c in CONTROLS if c in present]
    header = "| call | " + " | ".join(f"{s}: p50 / p99 / p99.9 / max (µs)" for s in stacks)
    lines = [header + " | ours within targets |",
             "|" + " --- |" * (len(stacks) + 2)]
    for name in names:
        row = [summary(calls.get((stack, scenario, name))) for stack in stacks]
        ours = row[0]
        if name in CONTROLS:
            verdict = "— (not the plugin's)"
        else:
            verdict = "n/a" if ours is None else ("yes" if meets(ours) else "**no**")
        lines.append(f"| `{name}` | " + " | ".join(cells(s) for s in row) + f" | {verdict} |")
    return lines


def frames_over_1ms(runs):
    """Frames over 1 ms of plugin work, and frames in all, over a stack's repetitions."""
    return sum(r["frames_over_1ms"] for r in runs), sum(r["frames"] for r in runs)


def frame_table(frames, stacks):
    lines = ["| scenario | stack | plugin work per frame p50 / p99 / max (µs) | frames over 1 ms |",
             "| --- | --- | --- | --- |"]
    for scenario in SCENARIOS:
        for stack in stacks:
            runs = frames.get((stack, scenario))
            if not runs:
                continue
            over, total = frames_over_1ms(runs)
            lines.append(
                f"| {scenario} | {stack} | {fmt(statistics.median(r['value'] for r in runs))} / "
                f"{fmt(statistics.median(r['p99'] for r in runs))} / {fmt(max(r['max'] for r in runs))} | "
                f"{over} of {total} |")
    return lines


def failure_notes(failed, reps):
    """One line per stack and scenario whose runs gave no figures, with the errors they printed."""
    lines = []
    for (stack, scenario), runs in sorted(failed.items()):
        errors = next((errors for errors in runs if errors), [])
        said = "; ".join(f"`{error}`" for error in errors) or "no error"
        total = max(reps, len(runs))
        lines.append(f"- {stack}, {scenario}: {len(runs)} of {total} repetition(s) gave no "
                     f"figures (its rows above come from the others, if any); Godot reported {said}.")
    return lines + [""] if lines else []


def read_table(reads, stacks):
    lines = ["| message | " + " | ".join(f"{s} (µs per call)" for s in stacks)
             + " | the engine's own PacketPeerStream (µs per call) | engine call, for scale (µs)"
             " | target (ours) |",
             "|" + " --- |" * (len(stacks) + 4)]
    for size in sorted({size for (_, size) in reads}):
        row, engine, baseline = [], None, None
        for stack in stacks:
            runs = reads.get((stack, size), [])
            row.append(statistics.median(r["value"] for r in runs) if runs else None)
            if stack == OURS and runs:
                engine = median_of(runs, "engine_packet_peer_us")
                baseline = median_of(runs, "gdscript_call_baseline_us")
        target = TARGET_GET_PACKET.get(size)
        verdict = "—" if target is None or row[0] is None else (
            f"≤ {fmt(target)}: " + ("yes" if row[0] <= target else "**no**"))
        lines.append(f"| {size} B | " + " | ".join(fmt(v) for v in row) + f" | {fmt(engine)} | {fmt(baseline)} | {verdict} |")
    return lines


def median_of(runs, key="value"):
    return statistics.median(r[key] for r in runs) if runs else None


def server_table(server, stacks):
    """Per client count and stack: CPU per client, frame work, latencies, delivery."""
    lines = ["| clients | stack | whole process CPU per client (% of a core) | game thread CPU (%) "
             "| server frame work p50 / p99 (µs) | of it inside the plugin's calls p50 / p99 (µs) "
             "| input → server p50 / p99 (ms) "
             "| state → client p50 / p99 (ms) | reliable event p50 / p99 (ms) "
             "| delivered inputs / states / events |",
             "|" + " --- |" * 10]
    for clients in sorted({c for (_, c, _) in server}):
        for stack in stacks:
            get = lambda metric: server.get((stack, clients, metric), [])  # noqa: E731
            cpu, work = get("server_cpu_pct_per_client"), get("server_frame_work_us")
            in_calls = get("server_call_work_us")
            if not cpu:
                continue
            latency = {m: get(m) for m in ("input_latency_us", "state_latency_us", "event_latency_us")}
            ms = {m: (fmt(median_of(r) / 1000) if r else "n/a", fmt(median_of(r, "p99") / 1000) if r else "n/a")
                  for m, r in latency.items()}
            delivered = " / ".join(fmt(min(r["delivered"] for r in runs)) if runs else "n/a"
                                   for runs in latency.values())
            lines.append(
                f"| {clients} | {stack} | {fmt(median_of(cpu))} | {fmt(median_of(cpu, 'game_thread_pct'))} | "
                f"{fmt(median_of(work))} / {fmt(median_of(work, 'p99'))} | "
                f"{fmt(median_of(in_calls))} / {fmt(median_of(in_calls, 'p99'))} | "
                + " | ".join(f"{a} / {b}" for a, b in ms.values()) + f" | {delivered} |")
    return lines


# The client count of run.sh's runs that pair one stack's server with the other's clients.
MIXED_CLIENTS = 32


def mixed_table(server, stacks):
    """State and event latency for each stack's server with each stack's clients; nothing when
    no mixed pair ran. A mixed pair's label is the one run.sh's frame_runs gives it."""
    lines = ["| server | clients | state → client p50 / p99 (ms) | reliable event p50 / p99 (ms) |",
             "|" + " --- |" * 4]
    mixed_rows = 0
    for server_stack in stacks:
        for client_stack in stacks:
            label = (server_stack if server_stack == client_stack
                     else f"server {server_stack}, clients {client_stack}")
            cells = []
            for metric in ("state_latency_us", "event_latency_us"):
                runs = server.get((label, MIXED_CLIENTS, metric), [])
                if not runs:
                    break
                cells.append(f"{fmt(median_of(runs) / 1000)} / {fmt(median_of(runs, 'p99') / 1000)}")
            if len(cells) == 2:
                lines.append(f"| {server_stack} | {client_stack} | {cells[0]} | {cells[1]} |")
                mixed_rows += server_stack != client_stack
    return lines if mixed_rows else []


# Issue 24's targets for the dedicated server, at these client counts.
TARGET_CLIENTS = (32, 128)
TARGET_CPU_RATIO = 0.7
TARGET_FRAME_WORK_RATIO = 0.25
LATENCIES = (("input_latency_us", "inputs reach the server"),
             ("state_latency_us", "states reach the clients"),
             ("event_latency_us", "reliable events reach the clients"))


def letter(scenario):
    """A scenario's letter as the tables name it: "(a)" for `state`."""
    return SCENARIOS[scenario].split(" ", 1)[0]


def verdict(met):
    return "n/a" if met is None else ("yes" if met else "**no**")


def target_rows(calls, frames, reads, server, stacks):
    """The issue's targets, one row each: what ours measured, webrtc-native's beside it when it
    ran, and whether ours met the target in this run."""
    native = NATIVE in stacks
    rows = []

    def add(figure, ours, theirs, target, met, shown=fmt):
        rows.append(f"| {figure} | {shown(ours)} | {shown(theirs) if native else '—'} | "
                    f"{ratio(ours, theirs) if native else '—'} | {target} | {verdict(met)} |")

    def server_median(stack, clients, metric, key="value"):
        return median_of(server.get((stack, clients, metric), []), key)

    def at_most(metric, label, share, target):
        """Rows for a server figure of ours that must stay within `share` of webrtc-native's."""
        for clients in TARGET_CLIENTS:
            ours = server_median(OURS, clients, metric)
            theirs = server_median(NATIVE, clients, metric)
            if ours is not None:
                met = ours <= share * theirs if native and theirs else None
                add(label.format(clients=clients), ours, theirs, target, met)

    at_most("server_cpu_pct_per_client", "server CPU per client, {clients} clients (% of a core)",
            TARGET_CPU_RATIO, f"≤ {TARGET_CPU_RATIO}× webrtc-native's")
    for metric, label in LATENCIES:
        for clients in TARGET_CLIENTS:
            for key, quantile in (("value", "p50"), ("p99", "p99")):
                ours = server_median(OURS, clients, metric, key)
                theirs = server_median(NATIVE, clients, metric, key)
                if ours is None:
                    continue
                met = ours <= theirs if native and theirs is not None else None
                add(f"{label}, {clients} clients, {quantile} (ms)", ours, theirs,
                    "no later than webrtc-native's", met,
                    shown=lambda us: fmt(us / 1000) if us is not None else "n/a")
    at_most("server_frame_work_us", "server frame work p50, {clients} clients (µs)",
            TARGET_FRAME_WORK_RATIO, "≤ ¼ of webrtc-native's")
    for scenario in SCENARIOS:
        names = sorted({call for (stack, sc, call) in calls
                        if stack == OURS and sc == scenario} - {"get_packet", *CONTROLS})
        if not names:
            continue
        within = sum(meets(summary(calls[(OURS, scenario, name)])) for name in names)
        rows.append(f"| game-thread calls within every per-call target, {letter(scenario)} | "
                    f"{within} of {len(names)} | — | — | all | {verdict(within == len(names))} |")
    for scenario in ("state", "mesh"):
        counts = []
        for stack in stacks:
            runs = frames.get((stack, scenario), [])
            counts.append(frames_over_1ms(runs) if runs else None)
        if counts[0] is None:
            continue
        theirs = counts[1] if native and len(counts) > 1 else None
        rows.append(f"| frames over 1 ms of plugin work, {letter(scenario)} | {counts[0][0]} of "
                    f"{counts[0][1]} | {f'{theirs[0]} of {theirs[1]}' if theirs else '—'} | — | "
                    f"none | {verdict(counts[0][0] == 0)} |")
    for size, target in TARGET_GET_PACKET.items():
        ours = median_of(reads.get((OURS, size), []))
        theirs = median_of(reads.get((NATIVE, size), []))
        if ours is not None:
            add(f"`get_packet()` of {size} B, read back to back (µs)", ours, theirs,
                f"≤ {fmt(target)} µs", ours <= target)
    if not rows:
        return []
    return ["| figure | ours | webrtc-native 1.2.1 | ours/theirs | target | met |",
            "| --- | --- | --- | --- | --- | --- |"] + rows


def main() -> int:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    calls, frames, reads, server, failed = collect(source)
    if not frames:
        print("frame_report: no frame-cost figures in", source, file=sys.stderr)
        return 1
    stacks = [OURS] + ([NATIVE] if any(k[0] == NATIVE for k in frames) else [])
    reps = max(len(v) for v in frames.values())
    lines = [
        "# What each call costs the game thread",
        "",
        f"Written by `tests/bench/run.sh N frame` on {datetime.now(timezone.utc):%Y-%m-%d}: "
        f"{reps} repetition(s), {platform.machine()}, {os.cpu_count()} cores, Linux "
        f"{platform.release()}, Godot {os.environ.get('GODOT_VERSION', '?')} headless. "
        "`tests/godot/bench/frame_cost.gd` makes a 60 Hz game's calls from GDScript for 600 "
        "frames, each call timed on its own (`Time.get_ticks_usec()`: whole microseconds, so a "
        "p50 of 1 means \"under a microsecond or two\", GDScript's call included), while a busy "
        "loop per core at normal priority keeps the machine as loaded as a game that renders. "
        "Both stacks run the same script in the same Godot, each on a stand-in machine with a "
        "LAN card (a network namespace). The last two rows of each call table are controls "
        "that never reach the plugin. The first is the same timing around `get_instance_id()`, "
        "an engine call: its p99, p99.9 and max are what the machine alone (a preempted game "
        "thread, a stalled VM) adds to every row above it. The second is the engine waking a "
        "thread of its own, once a frame after the plugin's calls: `Semaphore.post()` to a "
        "`Thread` asleep in `Semaphore.wait()`. A `put_packet()` made while the network thread "
        "sleeps between frames, as in (a), must wake it too; this row is what that costs the "
        "engine itself on the same machine under the same load.",
        "",
        f"Targets (issue 24, ours): every call p50 ≤ {TARGET_P50} µs, p99 ≤ {TARGET_P99} µs, "
        f"p99.9 ≤ {TARGET_P999} µs, max ≤ {TARGET_MAX} µs; no frame over 1 ms of plugin work in "
        "(a) and (c).",
        "",
    ]
    targets = target_rows(calls, frames, reads, server, stacks)
    if targets:
        lines += ["## Issue 24's targets at a glance", "",
                  "Medians over the repetitions, from the tables below (the per-call targets "
                  "apply to each call's p50, p99, p99.9 and max together).", ""] + targets + [""]
    for scenario, title in SCENARIOS.items():
        if any(sc == scenario for (_, sc, _) in calls):
            lines += [f"## {title}", ""] + call_table(calls, stacks, scenario) + [""]
    lines += ["## Plugin work per frame", ""] + frame_table(frames, stacks) + [""]
    lines += failure_notes(failed, reps)
    lines += ["## `get_packet()` per message, read back to back", ""] + read_table(reads, stacks) + [
        "",
        "`PacketPeer.get_packet()` copies the packet into the `PackedByteArray` it returns one "
        "byte at a time (`PacketPeer::get_packet_buffer`), whichever peer supplies it; the "
        "engine's own PacketPeerStream, reading from memory, pays that copy too. It is most "
        "of a 16 KiB read: see PROFILES.md.",
        ""]
    if server:
        lines += [
            "## A dedicated server with N clients",
            "",
            "`tests/godot/bench/server_bench.gd`: one headless server process and N clients in a "
            "second one, on an otherwise idle machine; every client sends a 64-byte input at 30 Hz, "
            "the server polls at 60 Hz and sends each client a 100-byte state at 30 Hz and a "
            "reliable message once a second, for 20 s. Latency is one way, from the sender's "
            "system clock to the poll that read the packet. The clients spread their inputs "
            "evenly over the server's frame, so an input waits half a frame for the server's "
            "poll at the median (8.3 ms) and up to a whole one, plus its transit; the clients "
            "read every eighth of a frame, so a state's or an event's latency is its transit "
            "plus under 2.1 ms. The server's frame work is all its script does in a frame; "
            "the column after it is the part spent inside the plugin's calls (each timed on its "
            "own, the engine's dispatch included), and the rest is the benchmark's own GDScript, "
            "the same for both stacks. Medians over repetitions; delivery is the lowest. "
            "Targets (issue 24, ours at 32 and 128 clients): CPU per client ≤ 0.7× "
            "webrtc-native's, latency p50 and p99 no worse, frame work ≤ ¼ of webrtc-native's.",
            "",
        ] + server_table(server, stacks) + [""]
        mixed = mixed_table(server, stacks)
        if mixed:
            lines += [
                f"### Which side a state's latency is in ({MIXED_CLIENTS} clients)",
                "",
                "Each stack's server with each stack's clients (the same runs as above for a "
                "stack with its own clients, and one run per repetition for each mixed pair). A "
                "latency that follows the server's stack is spent between the server's "
                "`put_packet()` and the wire; one that follows the clients' stack, between the "
                "wire and the clients' `get_packet()`.",
                "",
            ] + mixed + [""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "FRAME.md").write_text("\n".join(lines))
    print("wrote", out / "FRAME.md")
    if targets:
        ended = datetime.fromtimestamp(source.stat().st_mtime, timezone.utc)
        block = [f"## The game thread and a dedicated server (frame suite, {reps} repetition(s), "
                 f"ended {ended:%Y-%m-%d %H:%M} UTC)", "",
                 "Issue 24's targets, beside webrtc-native when its build was found; every figure "
                 "and what each scenario is: [FRAME.md](FRAME.md).", ""] + targets
        results = out / "RESULTS.md"
        old_text = results.read_text() if results.exists() else ""
        results.write_text(with_frame_block(old_text, "\n".join(block)))
        print("updated", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
