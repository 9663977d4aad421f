#!/usr/bin/env bash
# Prints what the patched copies here change in the crates.io originals (cargo's registry copy,
# fetched on demand), and with --check verifies that every changed file carries the
# "godot-webrtc-rs patch <ID>" marker that PATCHES.md lists. Exits non-zero when a check fails.
#   third_party/webrtc-rs/diff.sh [--check]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
check=${1:-}

# The registry copies exist once cargo has fetched the originals (the workspace depends on
# them through [patch], so `cargo fetch` brings them).
registry=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ 2>/dev/null | head -n1)
status=0
for crate_dir in "$here"/*/; do
    crate=$(basename "$crate_dir")
    version=$(sed -nE 's/^version = "([^"]+)"$/\1/p' "$crate_dir/Cargo.toml" | head -n1)
    original="$registry$crate-$version"
    if [[ ! -d $original ]]; then
        (cd "$repo" && cargo fetch >/dev/null 2>&1)
        if [[ ! -d $original ]]; then
            # A patched crate is not in the lockfile; ask cargo for its original directly.
            tmp=$(mktemp -d)
            (cd "$tmp" && cargo init -q --name fetch-original && cargo add -q "$crate@=$version" \
                && cargo fetch -q) >/dev/null 2>&1
            rm -rf "$tmp"
        fi
    fi
    [[ -d $original ]] || { echo "cannot find $crate $version in cargo's registry"; status=1; continue; }
    diff -ru -x Cargo.toml -x Cargo.lock -x examples -x '.*' -x Cargo.toml.orig -x codecov.yml \
        -x scripts "$original" "${crate_dir%/}" >"/tmp/webrtc-rs-$crate.diff"
    if [[ $check != --check ]]; then
        cat "/tmp/webrtc-rs-$crate.diff"
        continue
    fi
    # Every changed file must carry the marker next to its changes.
    unmarked=$(awk '
        /^diff -ru/ { if (file != "" && !marked) print file; file = $NF; marked = 0; next }
        /^\+.*godot-webrtc-rs patch/ { marked = 1 }
        END { if (file != "" && !marked) print file }
    ' "/tmp/webrtc-rs-$crate.diff")
    files=$(grep -c '^diff -ru' "/tmp/webrtc-rs-$crate.diff")
    hunks=$(grep -c '^@@' "/tmp/webrtc-rs-$crate.diff")
    if [[ -n $unmarked ]]; then
        echo "FAIL $crate: changed files without a 'godot-webrtc-rs patch' marker:"
        echo "$unmarked" | sed 's/^/     /'
        status=1
    else
        echo "ok   $crate: $files files, $hunks hunks changed, each file marked"
    fi
done
exit "$status"
