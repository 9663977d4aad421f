#!/usr/bin/env bash
# Other platforms, proven as far as this machine allows, and the release package:
# - tools/release.sh builds Linux x86_64/x86_32/arm64/arm32, Windows x86_64/x86_32 and macOS
#   (universal) and writes the zip; the zip's manifest and files agree, and every library passes
#   rust/release-check for its platform (format, architecture, exports, linked libraries,
#   stripped, at most 12 MB; macOS: both slices, minimum OS, install name, no dynamic linker
#   command, a valid ad-hoc signature on arm64), shown to fail on a tampered signature;
# - Windows: a mingw program loads each DLL under Wine the way Godot does;
# - Android, iOS and Windows arm64: `cargo check` passes (tests/platforms/build.sh);
# - Linux arm64: Debian's arm64 Godot, emulated by qemu, runs a named subset of the headless
#   suite against the arm64 library from the zip;
# - an exported game: demo_project exported as a Linux release build with the zip's addon plays
#   lobbies through the signaling server with the same summary as the editor build.
# The core crate's tests on those platforms: core-tests.sh, which tests/run.sh runs while the
# builds still go on.
# Needs GODOT_BIN, the release builds of webrtc-signaling, udp-impair and release-check, and root
# privileges (chroot into the sid root). Prints "ok"/"FAIL" per check and
# "platforms: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
source "$repo/tools/host-target.sh"
: "${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}"
results="$repo/tests/results/platforms"
rm -rf "$results"
mkdir -p "$results"
source "$repo/tests/tools/verdict.sh"
source "$repo/tests/platforms/common.sh" || {
    echo "platforms: 0 passed, 1 failed"
    exit 1
}

# --- the release package --------------------------------------------------------------------
# tests/run.sh has built it in the background; run on its own, this script builds first.
[[ ${PLATFORMS_BUILT:-} == 1 ]] || "$repo/tests/platforms/build.sh"
checker="$host_target/release/release-check"
built release
status=$?
zip=$(ls "$build"/dist/webrtc_rs-*.zip 2>/dev/null | head -n1)
grep -E "^release: " "$build/release.log" | sed 's/^/  /'
verdict $status "tools/release.sh builds every platform this machine builds and writes the zip"
if [[ $status -ne 0 || ! -f $zip ]]; then
    tail -n 30 "$build/release.log"
    echo "platforms: $passed passed, $((failed + 1)) failed"
    exit 1
fi
python3 "$repo/tests/platforms/check_release.py" "$zip" "$checker" | sed 's/^/  /'
verdict "${PIPESTATUS[0]}" "the zip's manifest names exactly its libraries; each passes the release check for its platform"
unpacked="$results/unpacked"
python3 -m zipfile -e "$zip" "$unpacked"
lib="$unpacked/addons/webrtc_rs/lib"

# The signature check can fail: one flipped byte in the arm64 slice's code must be caught.
macos="$lib/libwebrtc_godot.macos.framework/libwebrtc_godot.macos"
python3 - "$macos" "$results/tampered.macos" <<'TAMPER'
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
count, = struct.unpack_from(">I", data, 4)
for i in range(count):
    cputype, _, offset, size, _ = struct.unpack_from(">iiIII", data, 8 + 20 * i)
    if cputype == 0x0100000C:  # CPU_TYPE_ARM64
        data[offset + size // 3] ^= 0xFF
open(sys.argv[2], "wb").write(data)
TAMPER
tampered=$("$checker" macos "$results/tampered.macos" | grep -E "^problem: signature invalid")
[[ -n $tampered ]]
verdict $? "the release check refuses a macOS library with one byte changed after signing" "$tampered"

built checks.other
status=$?
built checks.linux || status=1
grep -hE "^== " "$build"/checks.*.log | sed 's/^== /  checked /'
verdict $status "cargo check passes for Android arm64 and iOS arm64 (the addon), Android x86_64, the iOS simulator and Windows arm64 (the core crate)"

# --- the hosted workflow ------------------------------------------------------------------------
# It runs tools/release.sh for what needs runners of its own; actionlint checks its structure and
# expressions, shellcheck its steps' scripts. Both must also catch a misspelt copy.
workflow_dir="$repo/tests/platforms/workflow"
python=$("$repo/tests/tools/python-venv.sh" "$repo/tests/platforms/requirements.txt" platforms-venv) || python=""
if (cd "$workflow_dir" && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund >/dev/null 2>&1; }) \
    && [[ -n $python ]]; then
    sed -e 's/runs-on: macos-14/runs-onn: macos-14/' -e 's/--libraries-only --out out/--libraries-only --out $out_dir/' \
        "$repo/.github/workflows/release.yml" >"$results/misspelt.yml"
    (cd "$workflow_dir" && node lint.mjs "$repo"/.github/workflows/*.yml) | sed 's/^/  /' \
        && PATH="$(dirname "$python"):$PATH" "$python" "$workflow_dir/run_steps.py" "$repo"/.github/workflows/*.yml | sed 's/^/  /' \
        && ! (cd "$workflow_dir" && node lint.mjs "$results/misspelt.yml") >/dev/null \
        && ! PATH="$(dirname "$python"):$PATH" "$python" "$workflow_dir/run_steps.py" "$results/misspelt.yml" >/dev/null
    status=$?
else
    status=1
fi
verdict $status "the release workflow passes actionlint and shellcheck (which catch a misspelt copy)"

# --- Windows ----------------------------------------------------------------------------------
cp "$repo/tests/platforms/load_library.c" "$results/"
for arch in x86_64 x86_32; do
    mingw=$([[ $arch == x86_64 ]] && echo x86_64 || echo i686)-w64-mingw32-gcc-posix
    cp "$lib/webrtc_godot.windows.$arch.dll" "$results/"
    if in_root "$mingw" -O2 -o "load_library.$arch.exe" load_library.c >"$results/load_library.$arch.log" 2>&1 \
        && in_root wine64 "load_library.$arch.exe" "webrtc_godot.windows.$arch.dll" gdext_rust_init >>"$results/load_library.$arch.log" 2>&1; then
        status=0
    else
        status=1
    fi
    grep -E "loaded|failed" "$results/load_library.$arch.log" | sed 's/^/  /'
    verdict $status "a Windows $arch program loads the DLL under Wine and finds gdext_rust_init"
done

# Why webrtc-rs patch Q1 exists, shown on its own: Wine's answer to the question quinn-udp asked.
cp "$repo/tests/platforms/v6only.c" "$results/"
in_root x86_64-w64-mingw32-gcc-posix -O2 -o v6only.exe v6only.c -lws2_32 >"$results/v6only.log" 2>&1 \
    && in_root wine64 v6only.exe >>"$results/v6only.log" 2>&1
echo "  Wine: $(grep -h "getsockopt" "$results/v6only.log")"

# --- Linux arm64 --------------------------------------------------------------------------------
if arm_godot=$("$repo/tests/tools/provision-arm64-godot.sh" 2>"$results/provision-arm64.log"); then
    project="$results/godot-arm64"
    "$repo/tests/tools/test-project.sh" "$project" "$lib/libwebrtc_godot.linux.arm64.so"
    start=$SECONDS
    GODOT_BIN="$arm_godot" GODOT_PROJECT="$project" GODOT_LOGS="$results/godot-arm64-logs" GODOT_TIME_FACTOR=3 \
        "$repo/tests/run-godot-tests.sh" test_extension_class test_handshake test_multiplayer_mesh | sed 's/^/  /'
    status=${PIPESTATUS[0]}
    # The arm64 engine loaded the arm64 library: gdext prints this line when it initializes.
    grep -h "^Initialize godot-rust" "$results/godot-arm64-logs/test_extension_class.log" | sed 's/^/  arm64: /'
    grep -q "^Initialize godot-rust" "$results/godot-arm64-logs/test_extension_class.log" || status=1
    echo "FIGURE arm64 Godot under qemu, 3 scenes: $((SECONDS - start)) s"
else
    tail -n 20 "$results/provision-arm64.log"
    status=1
fi
verdict $status "Linux arm64: Debian's arm64 Godot under qemu passes class resolution, handshake and the multiplayer mesh"

# --- an exported game ---------------------------------------------------------------------------
export_dir="$results/export"
game_project="$results/demo-export"
cp -r "$repo/demo_project" "$game_project"
rm -rf "$game_project/addons/webrtc_rs" "$game_project/.godot" "$game_project/.logs"
mkdir -p "$game_project/addons" "$game_project/.godot" "$export_dir"
cp -r "$unpacked/addons/webrtc_rs" "$game_project/addons/"
echo "res://addons/webrtc_rs/webrtc_rs.gdextension" >"$game_project/.godot/extension_list.cfg"
cat >"$game_project/export_presets.cfg" <<PRESET
[preset.0]

name="Linux"
platform="Linux"
runnable=true
export_filter="all_resources"
include_filter=""
exclude_filter=""
export_path="$export_dir/demo.x86_64"

[preset.0.options]

custom_template/release="$root/usr/bin/godot-template-release"
binary_format/embed_pck=false
binary_format/architecture="x86_64"
PRESET
"$GODOT_BIN" --headless --path "$game_project" --export-release "Linux" "$export_dir/demo.x86_64" \
    >"$results/export.log" 2>&1
status=$?
ls -l "$export_dir" | sed 's/^/  /'
[[ $status -eq 0 && -x $export_dir/demo.x86_64 && -f $export_dir/demo.pck \
    && -f $export_dir/libwebrtc_godot.linux.x86_64.so ]] || status=1
grep -qE "SCRIPT ERROR|^ERROR" "$results/export.log" && status=1
verdict $status "demo_project exports as a Linux release build, with the addon's library beside it"

if [[ $status -eq 0 ]]; then
    # The release template is a sid binary: it runs in the sid root, unmodified (the root's
    # network is the host's, so it reaches the signaling server on loopback).
    game="$results/demo-game.sh"
    cat >"$game" <<GAME
#!/bin/sh
exec "$repo/tools/in-root.sh" --bind "$export_dir:/game" /game/demo.x86_64 "\$@"
GAME
    chmod +x "$game"
    source "$repo/tests/tools/lobby.sh"
    start_signaling "$results" || exit 1
    trap stop_signaling EXIT
    # What a SUMMARY says about the game, without the ids, timings and routes that differ per
    # run; the editor build's runs in the demo suite must say exactly this for every player.
    outcome() { grep -h "^SUMMARY" "$1"/player-*.log | sed -E 's/ id=[0-9]+//; s/ (unreliable_(sent|received)|reliable_sent|rtt_ms_[a-z0-9]+|links)=[^ ]+//g' | sort; }
    for mode in mesh server; do
        LOBBY_GAME="$game" play_lobby "$results/exported-$mode" "$mode" 4 | sed 's/^/  /'
        status=${PIPESTATUS[0]}
        got=$(outcome "$results/exported-$mode")
        chat=$(sed -nE 's/.* reliable_received=([0-9]+)\/[0-9]+ .*/\1/p' <<<"$got" | head -n1)
        expected=$(for _ in 1 2 3 4; do
            echo "SUMMARY mode=$mode peers_seen=3/3 reliable_received=$chat/$chat left=- result=ok"
        done)
        [[ -n $chat && "$got" == "$expected" ]] || status=1
        verdict $status "the exported release game plays a $mode lobby of 4 with the editor build's summary" \
            "$(head -n1 <<<"$got")"
    done
fi

echo "platforms: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
