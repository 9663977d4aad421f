"""Reads one run of trace_stalls.sh: frame_cost.gd's output and the kernel's scheduler trace.

Prints the calls whose maximum was over a millisecond, then every time the game thread was off
its CPU for over a millisecond during the measured frames other than in its frame sleep: whether
it was still runnable (preempted) or asleep, how it left the CPU (a timer interrupt, a system
call, a lock), and what ran on that CPU meanwhile. Also counts its sleeps on a futex, which is
how a wait for a lock held by another thread shows.

    python3 stall_report.py RUN.log RUN.trace
"""

import json
import re
import sys
from collections import Counter

EVENT = re.compile(r"\s*.+?-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+): (sched_switch|sched_wakeup): (.*)$")
# The frame loop's sleeps last most of a frame; the set-up's polling sleeps 100 µs.
FRAME_SLEEP_S = 0.002
STALL_S = 0.001


def read_trace(path):
    """Scheduler events in order, each with the kernel stack recorded beside it."""
    events = []
    with open(path) as trace:
        for line in trace:
            match = EVENT.match(line)
            if match:
                tid, cpu, at, kind, fields = match.groups()
                events.append({"tid": int(tid), "cpu": int(cpu), "at": float(at), "kind": kind,
                               "fields": fields, "stack": []})
            elif line.startswith(" => ") and events:
                events[-1]["stack"].append(line[4:].strip())
    return events


def field(event, name):
    match = re.search(rf"\b{name}=(\S+)", event["fields"])
    return match.group(1) if match else ""


def absences(events, tid):
    """(switched out, woken or None, switched back in) for each time one thread left its CPU.

    The wake-up tells a sleep from the wait for a CPU that follows it: with every core busy, a
    100 µs sleep of the set-up's polling loop can keep a thread off its CPU for milliseconds.
    """
    triples, out, woken = [], None, None
    for event in events:
        if event["kind"] == "sched_wakeup" and field(event, "pid") == str(tid) and out is not None:
            woken = woken or event
        elif event["kind"] != "sched_switch":
            continue
        elif field(event, "prev_pid") == str(tid):
            out, woken = event, None
        elif field(event, "next_pid") == str(tid) and out is not None:
            triples.append((out, woken, event))
            out = None
    return triples


def sleeping(event):
    return any("do_nanosleep" in frame for frame in event["stack"])


def report(log_path, trace_path):
    with open(log_path) as log:
        for line in log:
            if line.startswith("BENCH "):
                figure = json.loads(line[6:])
                if figure.get("metric") == "call_us" and figure.get("max", 0) > 1000:
                    print(f"  {figure['call']}: max {figure['max']} µs")

    events = read_trace(trace_path)
    # The game thread is the one whose frame sleeps fill the run: no other thread of the run
    # sleeps in nanosleep for milliseconds, hundreds of times.
    frame_sleeps = Counter()
    for event in events:
        if event["kind"] == "sched_switch" and sleeping(event):
            frame_sleeps[int(field(event, "prev_pid"))] += 1
    if not frame_sleeps:
        print("  no thread slept in nanosleep: the trace holds no frame loop")
        return
    game = frame_sleeps.most_common(1)[0][0]
    triples = absences(events, game)
    frames = [out["at"] for out, woken, _ in triples
              if sleeping(out) and woken is not None and woken["at"] - out["at"] > FRAME_SLEEP_S]
    if not frames:
        print(f"  thread {game}: no frame sleeps found")
        return
    first, last = frames[0], frames[-1]
    measured = [(out, back) for out, _, back in triples if first <= out["at"] <= last]
    futex = sum(1 for out, _ in measured if any("futex" in frame for frame in out["stack"]))
    print(f"  game thread {game}: {len(frames)} frame sleeps over {last - first:.2f} s; "
          f"futex sleeps in them: {futex}")
    for out, back in measured:
        away = back["at"] - out["at"]
        if away <= STALL_S or sleeping(out):
            continue
        how = next((frame for frame in out["stack"] if frame.startswith(("asm_", "entry_SYSCALL"))
                    or "futex" in frame), "?")
        ran = [f"{field(event, 'next_comm')} (+{(event['at'] - out['at']) * 1000:.2f} ms)"
               for event in events
               if event["kind"] == "sched_switch" and event["cpu"] == out["cpu"]
               and out["at"] <= event["at"] < back["at"]]
        print(f"  off its CPU {away * 1000:.2f} ms, state {field(out, 'prev_state')}, via {how}; "
              f"that CPU ran {', '.join(ran)}")


if __name__ == "__main__":
    report(sys.argv[1], sys.argv[2])
