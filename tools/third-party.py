#!/usr/bin/env python3
"""third-party.py: prints THIRD_PARTY.md for the release package: every crate linked into the
webrtc-godot library (normal dependencies, any platform), with its version and licence, from
`cargo metadata`. The licence texts are in each crate's source on crates.io."""
import json
import subprocess
import sys


def main() -> int:
    meta = json.loads(subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True).stdout)
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = next(p["id"] for p in meta["packages"] if p["name"] == "webrtc-godot")
    seen, todo = set(), [root]
    while todo:
        node = nodes[todo.pop()]
        for dep in node["deps"]:
            if any(kind["kind"] is None for kind in dep["dep_kinds"]) and dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                todo.append(dep["pkg"])
    rows = sorted((packages[i]["name"], packages[i]["version"], packages[i].get("license") or "see its source")
                  for i in seen)
    print("# Third-party code in the webrtc_rs libraries\n")
    print("The libraries link these Rust crates statically (webrtc, rtc and rtc-sctp with the patches")
    print("listed in the repository's third_party/webrtc-rs/PATCHES.md). Each crate's licence text is")
    print("in its source package on crates.io.\n")
    print("| crate | version | licence |")
    print("| --- | --- | --- |")
    for name, version, licence in rows:
        print(f"| {name} | {version} | {licence} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
