"""Turns the interop logs into MATRIX.md: peer x direction x check -> pass/fail, as seen by
each side. A check that a side should have printed but did not counts as failed.

    python matrix.py LOGDIR OUTPUT.md

Prints one line per run and ends with "interop: N passed, N failed"; exits 1 on any failure.
"""

import datetime
import json
import platform
import re
import subprocess
import sys
from pathlib import Path

PEERS = ["libdatachannel", "aiortc", "werift", "chromium"]
DIRECTIONS = ["godot-offers", "peer-offers"]
DATA = ["connect", "text", "binary", "bulk_1mib", "unordered_lossy"]
# What the answering side sees of the offerer's in-band channels, and what the side that did
# not close sees of the close.
ANSWERER = ["inband_seen", "lossy_seen"]
# What Godot, answering, reads of the reliability the offerer asked for; not every peer's API
# exposes it, so only Godot reports it.
GODOT_ANSWERER = ["remote_reliability"]
CLOSE_SEEN = ["channel_close_seen", "connection_close_seen"]
CLOSER = ["remote_saw_channel_close"]
ORDER = ["mdns_candidate_accepted", "connect", "inband_seen", "lossy_seen", "remote_reliability",
         "text", "binary",
         "bulk_1mib", "unordered_lossy", "channel_close_seen", "remote_saw_channel_close",
         "connection_close_seen", "clean_exit"]
LINE = re.compile(r"^CHECK (\S+) (PASS|FAIL) ?(.*)$")

# Bugs of the other stack that a check runs into: (peer, direction, check, side) -> (the detail
# the failure must show, so anything else still fails, and the explanation). Such a failure is
# counted as a known bug, not as a pass; once the other stack is fixed the check passes again.
WERIFT_DCEP = ("werift 0.25.2 announces an unordered channel with maxRetransmits or "
               "maxPacketLifeTime as ordered: its DATA_CHANNEL_OPEN overwrites the 0x80 "
               "(unordered) bit of the channel type, while its DATA chunks are sent unordered")
KNOWN_BUGS = {
    ("werift", "peer-offers", "lossy_seen", "godot"): (r"^ordered=true id=\d+$", WERIFT_DCEP),
    ("werift", "peer-offers", "remote_reliability", "godot"): (
        r"^inband ordered=true maxRetransmits=65535 maxPacketLifeTime=65535, "
        r"lossy ordered=true maxRetransmits=0 maxPacketLifeTime=65535$", WERIFT_DCEP),
    ("werift", "peer-offers", "unordered_lossy", "godot"): (r"^[1-9]\d* of \d+ datagrams$",
                                                           WERIFT_DCEP),
}


def expected(side: str, direction: str) -> list[str]:
    offers = (side == "godot") == (direction == "godot-offers")
    checks = DATA + (CLOSER if offers else ANSWERER + CLOSE_SEEN)
    if side == "godot":
        # clean_exit: written by run.sh from the Godot log (no script error, panic or leak).
        checks = (["mdns_candidate_accepted"] + checks + ([] if offers else GODOT_ANSWERER)
                  + ["clean_exit"])
    return checks


def read_checks(path: Path) -> dict[str, tuple[bool, str]]:
    found = {}
    if path.exists():
        for line in path.read_text(errors="replace").splitlines():
            match = LINE.match(line.strip())
            if match:
                name, verdict, detail = match.groups()
                found[name] = (verdict == "PASS" and found.get(name, (True, ""))[0], detail)
    return found


def version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    logs, output = Path(sys.argv[1]), Path(sys.argv[2])
    here = Path(__file__).parent
    lock = json.loads((here / "package-lock.json").read_text())["packages"]
    rows, passed, failed, known = [], 0, 0, 0
    for peer in PEERS:
        for direction in DIRECTIONS:
            sides = {side: read_checks(logs / f"{peer}-{direction}.{side}.log")
                     for side in ("godot", "peer")}
            names = set()
            for side in sides:
                names |= set(expected(side, direction)) | set(sides[side])
            run_failed = 0
            for name in sorted(names, key=lambda n: ORDER.index(n) if n in ORDER else 99):
                cells = []
                for side in ("godot", "peer"):
                    wanted = name in expected(side, direction)
                    seen = sides[side].get(name)
                    if seen is None and not wanted:
                        cells.append("—")
                        continue
                    ok = seen is not None and seen[0]
                    detail = seen[1] if seen else "not reported"
                    bug = KNOWN_BUGS.get((peer, direction, name, side))
                    if not ok and bug and re.match(bug[0], detail):
                        known += 1
                        cells.append(f"known bug of {peer} ({detail}): {bug[1]}")
                        continue
                    passed += ok
                    failed += not ok
                    run_failed += not ok
                    cells.append(f"{'pass' if ok else '**FAIL**'} ({detail})")
                rows.append(f"| {peer} | {direction} | {name} | {cells[0]} | {cells[1]} |")
            print(f"{'ok  ' if run_failed == 0 else 'FAIL'} {peer} {direction}"
                  + (f": {run_failed} checks failed (logs: {logs})" if run_failed else ""))

    godot = version(["bash", "-c", '"$GODOT_BIN" --headless --version 2>/dev/null | tail -n1'])
    chromium = version(["/usr/bin/chromium", "--version"])
    python = sys.executable
    aiortc = version([python, "-c", "import aiortc; print(aiortc.__version__)"])
    text = [
        "# Interop matrix",
        "",
        "Written by `tests/interop/run.sh --record` (every run of `tests/run.sh` writes",
        "`tests/results/interop/MATRIX.md`); do not edit by hand.",
        f"Last run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
        f"{platform.system()} {platform.machine()}, loopback inside a private network namespace.",
        "",
        f"- Godot: {godot} with the webrtc_rs addon (webrtc-rs 0.21.1, patched: third_party/webrtc-rs)",
        f"- libdatachannel: node-datachannel "
        f"{lock['node_modules/node-datachannel']['version']} on Node {version(['node', '--version'])}",
        f"- Chromium: {chromium}, driven by playwright-core "
        f"{lock['node_modules/playwright-core']['version']}",
        f"- aiortc: {aiortc}",
        f"- werift: {lock['node_modules/werift']['version']} on Node {version(['node', '--version'])}",
        "",
        "Direction `godot-offers`: Godot creates the offer, the in-band channels, and closes first.",
        "`peer-offers`: the other peer does. Each side reports what it observed; `—` means that",
        "side has nothing to observe for the check. See `tests/interop/SCENARIO.md`.",
        "",
        f"**{passed} passed, {failed} failed**, and {known} checks ran into a known bug of the "
        "other stack (explained in the row).",
        "",
        "| peer | direction | check | seen by Godot | seen by the peer |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
    output.write_text("\n".join(text))
    print(f"interop: {passed} passed, {failed} failed ({known} known bugs of other stacks)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
