#!/usr/bin/env python3
"""macos-sdk.py ZIG_WHEEL OUT: writes a minimal macOS SDK into OUT, enough to link the plugin
for x86_64 and arm64 macOS with clang and ld64.lld on Linux.

Apple's SDK cannot be downloaded here. Linking a library needs only the text stubs (.tbd) of
the system libraries it links against, and C code (ring's) needs the C library's headers:

- usr/lib/libSystem.tbd and usr/include: zig's copies of Apple's (the `ziglang` wheel from
  PyPI, pinned by the caller). zig names Apple silicon `arm64e` where Apple's own stubs list
  `arm64` and `arm64e`; lld reads only what Apple's do, so each target list is rewritten to
  the macOS targets lld knows, `arm64e` counted as `arm64` (the same system libraries serve
  both).
- usr/lib/libiconv.tbd and the CoreFoundation and SystemConfiguration frameworks: stubs
  written here from the symbol lists in tools/macos-stubs/<name>.txt. Each list holds only
  symbols the build takes from that library, each a documented symbol of it; a dependency
  that starts to use another one makes the link fail naming it, and it is added there.
"""
import json
import pathlib
import re
import shutil
import sys
import zipfile

STUBS = pathlib.Path(__file__).resolve().parent / "macos-stubs"
# Where each stubbed library lives on a Mac (its install name) and where the SDK keeps it.
LIBRARIES = {
    "CoreFoundation": (
        "/System/Library/Frameworks/CoreFoundation.framework/Versions/A/CoreFoundation",
        "System/Library/Frameworks/CoreFoundation.framework/CoreFoundation.tbd",
    ),
    "SystemConfiguration": (
        "/System/Library/Frameworks/SystemConfiguration.framework/Versions/A/SystemConfiguration",
        "System/Library/Frameworks/SystemConfiguration.framework/SystemConfiguration.tbd",
    ),
    "libiconv": ("/usr/lib/libiconv.2.dylib", "usr/lib/libiconv.tbd"),
}
TARGETS = "[ x86_64-macos, arm64-macos ]"


def macos_targets(match: re.Match) -> str:
    """A tbd target list with only the macOS targets lld knows, arm64e as arm64."""
    kept = []
    for target in match.group(1).replace("\n", " ").split(","):
        arch, _, platform = target.strip().partition("-")
        if platform != "macos" or arch not in ("x86_64", "arm64", "arm64e"):
            continue
        name = f"{'arm64' if arch == 'arm64e' else arch}-macos"
        if name not in kept:
            kept.append(name)
    return "targets: [ " + ", ".join(kept) + " ]"


def stub(name: str, install_name: str, symbols: list[str]) -> str:
    listed = ", ".join(f"'{symbol}'" for symbol in symbols)
    return (
        "--- !tapi-tbd\n"
        "tbd-version: 4\n"
        f"targets: {TARGETS}\n"
        f"install-name: '{install_name}'\n"
        "exports:\n"
        f"  - targets: {TARGETS}\n"
        f"    symbols: [ {listed} ]\n"
        "...\n"
    )


def main() -> int:
    wheel, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    (out / "usr/lib").mkdir(parents=True)
    with zipfile.ZipFile(wheel) as archive:
        system = archive.read("ziglang/lib/libc/darwin/libSystem.tbd").decode()
        headers = "ziglang/lib/libc/include/any-darwin-any/"
        for entry in archive.namelist():
            if entry.startswith(headers) and not entry.endswith("/"):
                target = out / "usr/include" / entry[len(headers):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(entry))
    system = re.sub(r"targets:\s*\[([^\]]*)\]", macos_targets, system)
    # libc and libm are names for libSystem, as in Apple's SDK.
    for name in ("libSystem", "libc", "libm"):
        (out / f"usr/lib/{name}.tbd").write_text(system)
    for name, (install_name, path) in LIBRARIES.items():
        symbols = [line.split("#")[0].strip() for line in (STUBS / f"{name}.txt").read_text().splitlines()]
        symbols = sorted(symbol for symbol in symbols if symbol)
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        (out / path).write_text(stub(name, install_name, symbols))
        print(f"{name}: {len(symbols)} symbols")
    # clang reads the SDK's version from here (and ignores the file without both keys).
    (out / "SDKSettings.json").write_text(json.dumps({"Version": "11.0", "MaximumDeploymentTarget": "11.0.99"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
