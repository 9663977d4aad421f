#!/usr/bin/env python3
"""write-manifest.py SOURCE ADDON_DIR: writes ADDON_DIR/webrtc_rs.gdextension from SOURCE
(webrtc.gdextension at the repository root), keeping only the [libraries] entries whose library
(a file, or a macOS or iOS .framework folder) exists under ADDON_DIR. Each missing one stays as
a comment, so a user on that platform reads
why the addon does not load there and how to build the library (README, "Platforms").
Prints the platforms kept, one per line."""
import pathlib
import re
import sys

ENTRY = re.compile(r'^([a-z0-9_.]+)\s*=\s*"([^"]+)"\s*$')


def main() -> int:
    source, addon = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    out, kept, section = [], [], None
    for line in source.read_text().splitlines():
        if line.startswith("["):
            section = line.strip()
            if section == "[libraries]":
                out.append("; Entries in comments: no library for that platform in this package.")
                out.append("; Bring your own build: tools/release.sh, or the hosted workflow in")
                out.append("; .github/workflows/release.yml (see README.md, \"Platforms\").")
        match = ENTRY.match(line)
        if section == "[libraries]" and match:
            if (addon / match.group(2)).exists():
                kept.append(match.group(1))
            else:
                line = "; " + line
        out.append(line)
    (addon / "webrtc_rs.gdextension").write_text("\n".join(out) + "\n")
    print("\n".join(kept))
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
