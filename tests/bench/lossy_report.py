"""Summarises the lossy suite of tests/bench/run.sh into LOSSY.md and lossy_chart.png.

    python lossy_report.py RESULTS.jsonl OUTPUT_DIR

Both stacks ran through the same udp-impair relay (seeded loss on both directions, fixed
one-way delay), alternating within each repetition. Medians over repetitions, spread as
min–max, the ratio ours/theirs and the issue's targets with whether this run met them.
"""

import json
import os
import platform
import statistics
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from report import OURS, THEIRS, describe, fmt  # noqa: E402

# The game pattern of tests/godot/bench/bench.gd and ldc_bench.mjs, for the headings.
GAME_RATE = 20
GAME_BYTES = 200


def collect(path: Path):
    """{(stack, metric, pattern, loss, delay, quantile, burst): [values over repetitions]}."""
    values = defaultdict(list)
    for line in path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "loss" not in entry:
            continue
        key = (entry["stack"], entry["metric"], entry.get("pattern"), entry["loss"],
               entry["delay_ms"], entry.get("quantile"), entry.get("burst"))
        values[key].append(entry["value"])
    return values


def cell(values, stack, *key):
    return describe(values.get((stack, *key), []))


def ratio(ours, theirs):
    return f"{ours / theirs:.2f}×" if ours is not None and theirs else "—"


def verdict(ok):
    return "yes" if ok else "**no**"


def bulk_table(values, losses, delays):
    lines = [
        "| one-way delay | loss each way | ours KB/s (median) | ours spread | libdatachannel KB/s "
        "(median) | theirs spread | ours/theirs | target | met | packets back per data packet, "
        "ours / theirs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for delay in delays:
        for loss in losses:
            key = ("lossy_kb_s", "bulk", loss, delay, None, None)
            ours, ours_spread = cell(values, OURS, *key)
            theirs, theirs_spread = cell(values, THEIRS, *key)
            need = 1.2
            met = verdict(ours is not None and theirs and ours >= need * theirs)
            acks = ("packets_back_per_packet_out", "bulk", loss, delay, None, None)
            back = f"{fmt(cell(values, OURS, *acks)[0])} / {fmt(cell(values, THEIRS, *acks)[0])}"
            lines.append(f"| {delay} ms | {loss * 100:g} % | {fmt(ours)} | {ours_spread} | "
                         f"{fmt(theirs)} | {theirs_spread} | {ratio(ours, theirs)} | "
                         f"≥ {need}× | {met} | {back} |")
    return lines


def loss_label(loss, burst):
    return f"{loss * 100:g} %" + (f" in runs of {burst.replace('-', '–')}" if burst else "")


def game_table(values, conditions, delay):
    """One row per figure and loss condition at one one-way delay, with the targets: p99 within
    2 round trips + 30 ms at 1 and 3 %, at most 0.7x libdatachannel's p99 at 3 % (runs or not),
    and p99.9 and max no worse than libdatachannel's anywhere."""
    lines = [
        "| loss each way | figure | ours (median) | ours spread | libdatachannel (median) "
        "| theirs spread | ours/theirs | target | met |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    within = 2 * (2 * delay) + 30
    for loss, burst in conditions:
        rows = [("game_latency_ms", q, f"delivery latency {q} (ms)") for q in ("p50", "p99", "p99.9", "max")]
        rows.append(("game_delivered", None, "delivered fraction"))
        for metric, quantile, label in rows:
            key = (metric, "game", loss, delay, quantile, burst)
            ours, ours_spread = cell(values, OURS, *key)
            theirs, theirs_spread = cell(values, THEIRS, *key)
            targets = []
            if quantile == "p99" and burst is None and loss in (0.01, 0.03):
                targets.append((f"≤ {within} ms", ours is not None and ours <= within))
            if quantile == "p99" and loss == 0.03:
                targets.append(("≤ 0.7× theirs", ours is not None and theirs and ours <= 0.7 * theirs))
            if quantile in ("p99.9", "max"):
                targets.append(("≤ theirs", ours is not None and theirs is not None and ours <= theirs))
            if metric == "game_delivered":
                targets.append(("1.00", ours == 1.0))
            target = ", ".join(t for t, _ in targets) or "—"
            met = verdict(all(ok for _, ok in targets)) if targets else "—"
            lines.append(f"| {loss_label(loss, burst)} | {label} | {fmt(ours)} | {ours_spread} | "
                         f"{fmt(theirs)} | {theirs_spread} | {ratio(ours, theirs)} | {target} | {met} |")
    return lines


def chart(values, losses, delays, game_conditions, path: Path):
    fig, axes = plt.subplots(1, len(delays) + 1, figsize=(4.2 * (len(delays) + 2), 3.8),
                             gridspec_kw={"width_ratios": [1] * len(delays) + [2]}, squeeze=False)
    axes = axes[0]
    for axis, delay in zip(axes, delays):
        for stack, label, color in ((OURS, "ours", "#478cbf"), (THEIRS, "libdatachannel", "#999999")):
            points = [(loss * 100, describe(values.get((stack, "lossy_kb_s", "bulk", loss, delay, None, None), []))[0])
                      for loss in losses]
            points = [(x, y) for x, y in points if y is not None]
            # A log axis cannot show 0 %: the clean link is plotted at 0.1 % and labelled.
            axis.plot([max(x, 0.1) for x, _ in points], [y for _, y in points], "o-", label=label, color=color)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xticks([0.1, 0.5, 1, 3, 10], ["0", "0.5", "1", "3", "10"])
        axis.set_xlabel("loss each way (%)", fontsize=8)
        axis.set_ylabel("KB/s (higher is better)", fontsize=8)
        axis.set_title(f"reliable 16 KiB, {delay} ms one way", fontsize=9)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=7)
    axis = axes[-1]
    labels, ours, theirs = [], [], []
    for delay, loss, burst in game_conditions:
        key = ("game_latency_ms", "game", loss, delay, "p99", burst)
        labels.append(f"{delay} ms\n{loss * 100:g} %" + ("\nruns" if burst else ""))
        ours.append(describe(values.get((OURS, *key), []))[0] or 0)
        theirs.append(describe(values.get((THEIRS, *key), []))[0] or 0)
    positions = range(len(labels))
    axis.bar([p - 0.2 for p in positions], ours, 0.4, label="ours", color="#478cbf")
    axis.bar([p + 0.2 for p in positions], theirs, 0.4, label="libdatachannel", color="#999999")
    axis.set_xticks(list(positions), labels)
    axis.set_xlabel("loss each way", fontsize=8)
    axis.set_ylabel("ms (lower is better)", fontsize=8)
    axis.set_title("game pattern p99 delivery latency", fontsize=9)
    axis.tick_params(labelsize=7)
    axis.legend(fontsize=7)
    fig.suptitle("Through the same loss relay: webrtc-rs addon in Godot vs libdatachannel (medians)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    values = collect(source)
    bulk = {(k[3], k[4]) for k in values if k[1] == "lossy_kb_s"}
    game = {(k[4], k[3], k[6]) for k in values if k[2] == "game"}
    if not bulk and not game:
        print("lossy_report: no lossy figures in", source)
        return 1
    losses = sorted({loss for loss, _ in bulk})
    delays = sorted({delay for _, delay in bulk})
    # Each delay's uniform losses in order, then its runs.
    game_conditions = sorted(game, key=lambda c: (c[0], c[2] is not None, c[1]))
    game_delays = sorted({delay for delay, _, _ in game})
    reps = max((len(v) for k, v in values.items() if k[0] == OURS), default=0)
    lines = [
        "# Benchmark results through a lossy path",
        "",
        "Written by `tests/bench/run.sh` (`tests/bench/run.sh 3 lossy` for this part alone); "
        "figures from one run, not a pass/fail test. What limits them: [PROFILES.md](PROFILES.md).",
        f"Run: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {reps} repetitions, each with its own "
        f"relay seed shared by both stacks, stacks alternating; {platform.machine()}, "
        f"{os.cpu_count()} cores, Linux {platform.release()}.",
        "Path: both peers in one process on 127.0.0.1, the `udp-impair` relay as their only path "
        "(ICE candidates rewritten to it), dropping the given fraction of packets in each direction "
        "and delaying each by the given time. "
        f"Ours: Godot {os.environ.get('GODOT_VERSION', '?')} headless, this addon, polled from GDScript "
        "(100 µs sleep when idle). Theirs: libdatachannel through npm node-datachannel 0.33.4.",
        "",
        "## Reliable ordered throughput, 16 KiB messages, 10 s per run",
        "",
        "Bytes delivered to the receiving script in 10 s (slow start included) divided by 10 s. "
        "The relay itself tops out near 40 MB/s, so the 0 % rows measure it as much as the stacks.",
        "",
        *bulk_table(values, losses, delays),
        "",
        f"## Game pattern: {GAME_RATE} reliable ordered messages of {GAME_BYTES} B a second for 60 s",
        "",
        "Latency from the sender's send call to the receiving script, both in one process and one "
        "clock; the one-way delay is part of it. Losses in runs: the relay's `--burst 2-5`, each "
        "loss starting a run of 2 to 5 consecutive losses, runs as often as the average asks.",
    ]
    for delay in game_delays:
        conditions = [(loss, burst) for d, loss, burst in game_conditions if d == delay]
        lines += ["", f"### {delay} ms one way ({2 * delay} ms round trip)", "",
                  *game_table(values, conditions, delay)]
    text = "\n".join(lines) + "\n"
    (out / "LOSSY.md").write_text(text)
    print(text)
    chart(values, losses, delays, game_conditions, out / "lossy_chart.png")
    return 0

if __name__ == "__main__":
    sys.exit(main())
