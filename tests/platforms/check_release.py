#!/usr/bin/env python3
"""check_release.py ZIP: checks a package written by tools/release.sh. Prints one line per
finding and "ok"/"FAIL" per library; exits non-zero on any problem.

- The layout: addons/webrtc_rs/ with the manifest, README.md, LICENSE, THIRD_PARTY.md.
- The manifest and the files agree: every library it names is in the zip, every library in the
  zip is named, and the platforms it leaves out are there as comments.
- Every library is stripped (no symbol table, no .debug_* section; ELF and PE read here) and at
  most 12 MB; its debug information is beside the zip, in debug/<name>.debug, and not empty.
"""
import pathlib
import re
import struct
import sys
import zipfile

ADDON = "addons/webrtc_rs/"
LIMIT = 12 * 1024 * 1024
ENTRY = re.compile(r'^\s*(;\s*)?([a-z0-9_.]+)\s*=\s*"([^"]+)"\s*$')


def elf_sections(data: bytes) -> list[str]:
    """Section names of a 64-bit little-endian ELF file."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab = headers[shstrndx][4]
    return [data[strtab + h[0]:data.index(b"\0", strtab + h[0])].decode() for h in headers]


def pe_sections(data: bytes) -> tuple[list[str], int]:
    """Section names of a PE file (long names resolved through the COFF string table) and the
    number of COFF symbols it still carries."""
    pe, = struct.unpack_from("<I", data, 0x3C)
    count, = struct.unpack_from("<H", data, pe + 6)
    symtab, symbols = struct.unpack_from("<II", data, pe + 12)
    optional_size, = struct.unpack_from("<H", data, pe + 20)
    first = pe + 24 + optional_size
    names = []
    for i in range(count):
        raw = data[first + i * 40:first + i * 40 + 8].rstrip(b"\0").decode()
        if raw.startswith("/") and symtab:
            offset = symtab + symbols * 18 + int(raw[1:])
            raw = data[offset:data.index(b"\0", offset)].decode()
        names.append(raw)
    return names, symbols


def check_library(name: str, data: bytes) -> list[str]:
    problems = []
    if len(data) > LIMIT:
        problems.append(f"{len(data)} bytes, over the 12 MB limit")
    if data[:4] == b"\x7fELF":
        sections = elf_sections(data)
        if ".symtab" in sections:
            problems.append("still has a symbol table (.symtab)")
    elif data[:2] == b"MZ":
        sections, symbols = pe_sections(data)
        if symbols:
            problems.append(f"still has {symbols} COFF symbols")
    else:
        return ["neither ELF nor PE"]
    debug = [s for s in sections if s.startswith(".debug_") or s.startswith(".zdebug_")]
    if debug:
        problems.append("still has debug sections " + ", ".join(debug))
    if ".gnu_debuglink" not in sections:
        problems.append("names no debug file (.gnu_debuglink)")
    return problems


def main() -> int:
    path = pathlib.Path(sys.argv[1])
    failures = 0
    with zipfile.ZipFile(path) as archive:
        files = {i.filename: i for i in archive.infolist() if not i.is_dir()}
        outside = [f for f in files if not f.startswith(ADDON)]
        for required in ("webrtc_rs.gdextension", "README.md", "LICENSE", "THIRD_PARTY.md"):
            if ADDON + required not in files:
                print(f"missing {ADDON}{required}")
                failures += 1
        if outside:
            print("outside addons/webrtc_rs/: " + ", ".join(outside))
            failures += 1
        named, commented = {}, {}
        manifest = archive.read(ADDON + "webrtc_rs.gdextension").decode()
        for line in manifest.splitlines():
            match = ENTRY.match(line)
            if match and "/" in match.group(3):
                (commented if match.group(1) else named)[match.group(2)] = match.group(3)
        libraries = {f[len(ADDON):] for f in files if f.startswith(ADDON + "lib/")}
        for key, lib in sorted(named.items()):
            if lib not in libraries:
                print(f"manifest entry {key} names {lib}, which the zip lacks")
                failures += 1
        for lib in sorted(libraries - set(named.values())):
            print(f"{lib} is in the zip but no manifest entry names it")
            failures += 1
        for key, lib in sorted(commented.items()):
            if lib in libraries:
                print(f"{key} is commented out though the zip holds {lib}")
                failures += 1
        print(f"manifest: {len(named)} entries for {len(libraries)} libraries, "
              f"{len(commented)} left as comments (bring your own build)")
        for lib in sorted(libraries):
            data = archive.read(ADDON + lib)
            problems = check_library(lib, data)
            debug = path.parent / "debug" / (pathlib.Path(lib).name + ".debug")
            if not debug.is_file() or debug.stat().st_size < 1024:
                problems.append(f"no debug file {debug}")
            verdict = "FAIL" if problems else "ok  "
            print(f"{verdict} {lib}: {len(data) / 1e6:.1f} MB stripped, debug file "
                  f"{debug.stat().st_size / 1e6 if debug.is_file() else 0:.1f} MB"
                  + ("; " + "; ".join(problems) if problems else ""))
            failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
