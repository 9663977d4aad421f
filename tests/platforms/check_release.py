#!/usr/bin/env python3
"""check_release.py ZIP RELEASE_CHECK: checks a package written by tools/release.sh. Prints one
line per finding and "ok"/"FAIL" per library; exits non-zero on any problem.

- The layout: addons/webrtc_rs/ with the manifest, README.md, LICENSE, THIRD_PARTY.md.
- The manifest and the files agree: every library it names is in the zip, every library in the
  zip is named, and the platforms it leaves out are there as comments.
- Every library passes RELEASE_CHECK (rust/release-check: format, architecture, exports, the
  libraries it links, stripped, at most 12 MB, macOS rules and signature), run on it with the
  platform the manifest names it for; its debug information is beside the zip, in debug/, and
  not empty.
- A macOS framework has the Info.plist Godot's export reads, naming its binary.
"""
import pathlib
import plistlib
import re
import subprocess
import sys
import tempfile
import zipfile

ADDON = "addons/webrtc_rs/"
ENTRY = re.compile(r'^\s*(;\s*)?([a-z0-9_.]+)\s*=\s*"([^"]+)"\s*$')
# The keys Godot's macOS export requires of a framework's Info.plist before using it as is.
PLIST_KEYS = ("CFBundleExecutable", "CFBundleIdentifier", "CFBundlePackageType",
              "CFBundleInfoDictionaryVersion", "CFBundleName", "CFBundleSupportedPlatforms")


def platform_of(key: str) -> str:
    """The release check's platform for a manifest key: linux.release.x86_64 -> linux.x86_64."""
    parts = key.split(".")
    return parts[0] if len(parts) == 2 else f"{parts[0]}.{parts[2]}"


def binary_of(lib: str) -> str:
    """The file holding a library's code: the library itself, or a framework's binary."""
    if lib.endswith(".framework"):
        return f"{lib}/{pathlib.PurePath(lib).stem}"
    return lib


def check_framework(archive: zipfile.ZipFile, lib: str) -> list[str]:
    name = pathlib.PurePath(lib).stem
    try:
        plist = plistlib.loads(archive.read(f"{ADDON}{lib}/Resources/Info.plist"))
    except (KeyError, plistlib.InvalidFileException) as err:
        return [f"no readable Resources/Info.plist ({err})"]
    problems = [f"Info.plist lacks {key}" for key in PLIST_KEYS if key not in plist]
    if plist.get("CFBundleExecutable") != name:
        problems.append(f"Info.plist names {plist.get('CFBundleExecutable')!r}, not the binary {name!r}")
    return problems


def main() -> int:
    path, checker = pathlib.Path(sys.argv[1]), sys.argv[2]
    failures = 0
    with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as scratch:
        files = {i.filename for i in archive.infolist() if not i.is_dir()}
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
        # A library is a file directly in lib/, or a .framework folder there.
        libraries = {"/".join(f[len(ADDON):].split("/")[:2]) for f in files if f.startswith(ADDON + "lib/")}
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
        platforms = {lib: platform_of(key) for key, lib in named.items()}
        for lib in sorted(libraries):
            problems = []
            binary = binary_of(lib)
            if ADDON + binary not in files:
                print(f"FAIL {lib}: no binary {binary}")
                failures += 1
                continue
            extracted = pathlib.Path(archive.extract(ADDON + binary, scratch))
            result = subprocess.run([checker, platforms.get(lib, "?"), str(extracted)],
                                    capture_output=True, text=True, check=False)
            for line in (result.stdout + result.stderr).splitlines():
                print(f"     {line}")
            if result.returncode != 0:
                problems.append("the release check found problems")
            if lib.endswith(".framework"):
                problems += check_framework(archive, lib)
            debug = path.parent / "debug" / (pathlib.PurePath(lib).name + (".dSYM" if lib.endswith(".framework") else ".debug"))
            size = sum(f.stat().st_size for f in debug.rglob("*") if f.is_file()) if debug.is_dir() \
                else (debug.stat().st_size if debug.is_file() else 0)
            if size < 1024:
                problems.append(f"no debug information at {debug}")
            verdict = "FAIL" if problems else "ok  "
            print(f"{verdict} {lib}: {extracted.stat().st_size / 1e6:.1f} MB stripped, debug "
                  f"{size / 1e6:.1f} MB" + ("; " + "; ".join(problems) if problems else ""))
            failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
