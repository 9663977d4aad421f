#!/usr/bin/env bash
# The patched webrtc-rs crates are the crates.io packages plus the ordered patch series in
# patches/, nothing else. This script makes that true and checks it.
#
#   series.sh check        rebuilds the crates from pristine packages + series in a scratch folder
#                          and compares them with the committed copies (the test command runs this)
#   series.sh write        rewrites the committed copies from pristine packages + series (after a
#                          patch is added, changed or dropped, or the versions below move)
#   series.sh each [FIRST] applies the series one patch at a time, from pristine, and after each
#                          runs the test suites of the crates that patch touches (patch FIRST and
#                          on; the ones before are applied but not tested): every patch builds and
#                          passes with only the patches before it
#   series.sh diff         prints what the copies change beyond pristine + series, as a patch to
#                          start the next file of the series with (then add its header)
#   series.sh pristine DIR unpacks the pristine packages into DIR
#
# "Pristine" is the .crate file cargo downloads from crates.io (its checksum checked against the
# index), unpacked, minus what the copies leave out: dot-files, Cargo.toml.orig, codecov.yml,
# scripts/, and examples/ with their [[example]] tables in Cargo.toml (media and binaries the
# plugin never builds), except the one example file webrtc's own tests include.
#
# A patch is a unified diff whose paths start with the crate's folder (a/rtc-sctp/src/...),
# applied from this folder with `git apply`; its header (the text before the first diff) says
# what it fixes and when it can go. PATCHES.md is the index.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

# The crates patched, in dependency order (each may depend on the ones before it).
crates=(quinn-udp@0.6.3 rtc-sctp@0.21.1 rtc-ice@0.21.1 rtc@0.21.1 webrtc@0.21.1)
# Example files the crates' own tests include (#[path]); every other example is left out.
kept_examples=(webrtc/examples/custom-runtime/my_runtime.rs)

die() {
    echo "FAIL series: $*"
    exit 1
}

# The .crate file of NAME@VERSION from cargo's download cache, fetched through a throwaway
# manifest (no [patch], so cargo downloads the originals) when it is not there yet.
cached_crate() {
    local file
    for file in "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/"$1.crate"; do
        [[ -f $file ]] && echo "$file" && return
    done
}

crate_file() {
    local name=${1%@*} version=${1#*@} found
    found=$(cached_crate "$name-$version")
    if [[ -z $found ]]; then
        local tmp spec deps=""
        tmp=$(mktemp -d)
        for spec in "${crates[@]}"; do
            deps+="${spec%@*} = \"=${spec#*@}\""$'\n'
        done
        printf '[package]\nname = "fetch-originals"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "lib.rs"\n[dependencies]\n%s' \
            "$deps" >"$tmp/Cargo.toml"
        touch "$tmp/lib.rs"
        (cd "$tmp" && cargo fetch -q) >&2 || die "cargo could not fetch the original packages"
        rm -rf "$tmp"
        found=$(cached_crate "$name-$version")
    fi
    [[ -n $found ]] || die "no $name $version in cargo's download cache"
    echo "$found"
}

# Unpacks every crate into DIR/<name>, trimmed as described above.
pristine() {
    local dir=$1 spec name version file keep
    mkdir -p "$dir"
    for spec in "${crates[@]}"; do
        name=${spec%@*} version=${spec#*@}
        file=$(crate_file "$spec")
        rm -rf "${dir:?}/$name" "$dir/$name-$version"
        tar -xzf "$file" -C "$dir"
        mv "$dir/$name-$version" "$dir/$name"
        (cd "$dir/$name" && rm -rf .[!.]* Cargo.toml.orig codecov.yml scripts)
        if [[ -d $dir/$name/examples ]]; then
            keep=()
            for file in "${kept_examples[@]}"; do
                [[ $file == "$name"/* ]] && keep+=(! -path "$dir/$file")
            done
            find "$dir/$name/examples" -type f "${keep[@]}" -delete
            find "$dir/$name/examples" -depth -type d -empty -delete
            # Cargo.toml's tables are separated by blank lines; drop the [[example]] ones.
            awk 'BEGIN { RS = ""; ORS = "\n\n" } !/^\[\[example\]\]\n/' "$dir/$name/Cargo.toml" |
                head -c -1 >"$dir/$name/Cargo.toml.trimmed"
            mv "$dir/$name/Cargo.toml.trimmed" "$dir/$name/Cargo.toml"
        fi
    done
}

# The crate folders a patch changes.
touched() {
    sed -nE 's#^diff --git a/([^/]+)/.*#\1#p' "$1" | sort -u
}

# git apply as a strict `patch` (no fuzz): run outside any repository (DIR may lie inside this
# checkout's target/), where it would otherwise take paths relative to the repository's root.
apply_patch() {
    local dir=$1 patch=$2
    (cd "$dir" && GIT_CEILING_DIRECTORIES=$(dirname "$dir") git apply --whitespace=nowarn -p1 "$patch") 2>&1 ||
        die "$(basename "$patch") does not apply to pristine + the patches before it"
}

series=("$here"/patches/*.patch)

# DIR := pristine + the whole series.
assemble() {
    local dir=$1 patch
    pristine "$dir"
    for patch in "${series[@]}"; do
        apply_patch "$dir" "$patch"
    done
}

check() {
    local tmp name status=0
    tmp=$(mktemp -d)
    assemble "$tmp"
    for spec in "${crates[@]}"; do
        name=${spec%@*}
        if ! diff -r "$tmp/$name" "$here/$name" >"$tmp/$name.diff"; then
            echo "FAIL series: the committed $name is not pristine ${spec#*@} + patches/ (run series.sh write, or add the change as a patch):"
            sed 's/^/     /' "$tmp/$name.diff" | head -n 40
            status=1
        fi
    done
    rm -rf "$tmp"
    [[ $status -eq 0 ]] || exit 1
    echo "ok   series: ${#series[@]} patches on pristine ${crates[*]} give the committed copies exactly"
}

# The copies' changes beyond the series, as a diff with the series' paths (a/<crate>/...).
diff_beyond() {
    local tmp name
    tmp=$(mktemp -d)
    assemble "$tmp/a"
    mkdir "$tmp/b"
    for spec in "${crates[@]}"; do
        name=${spec%@*}
        cp -r "$here/$name" "$tmp/b/$name"
    done
    # git diff --no-index exits 1 when there are differences, which is the point here.
    (cd "$tmp" && { git diff --no-index --no-prefix --src-prefix=a/ --dst-prefix=b/ a b || true; } |
        sed -E 's#^(diff --git |--- |\+\+\+ )a/a/#\1a/#; s# b/b/# b/#; s#^\+\+\+ b/b/#+++ b/#')
    rm -rf "$tmp"
}

write() {
    local tmp name
    tmp=$(mktemp -d)
    assemble "$tmp"
    for spec in "${crates[@]}"; do
        name=${spec%@*}
        rm -rf "${here:?}/$name"
        mv "$tmp/$name" "$here/$name"
    done
    rm -rf "$tmp"
    echo "wrote ${crates[*]} from pristine + ${#series[@]} patches"
}

# One tree, patched one step at a time: cargo rebuilds only the crates a step changed.
each() {
    local first=${1:-1} i=0 patch status=0
    # Outside the checkout, where cargo would take the crates for members of our workspace; at a
    # fixed path, so that a second run reuses the first one's build.
    local work=${TMPDIR:-/tmp}/godot-webrtc-rs-series-each
    rm -rf "$work" && mkdir -p "$work"
    pristine "$work/src"
    for patch in "${series[@]}"; do
        i=$((i + 1))
        apply_patch "$work/src" "$patch"
        ((i >= first)) || continue
        echo "== $(basename "$patch") (patches 1-$i applied)"
        # shellcheck disable=SC2046
        if "$repo/tests/tools/test-patched-crates.sh" --root "$work/src" $(touched "$patch"); then
            echo "ok   $(basename "$patch"): its crates' suites pass with only the patches before it"
        else
            echo "FAIL $(basename "$patch"): its crates' suites fail with only the patches before it"
            status=1
        fi
    done
    exit "$status"
}

case ${1:-check} in
    check) check ;;
    write) write ;;
    each) each "${2:-1}" ;;
    diff) diff_beyond ;;
    pristine) pristine "${2:?series.sh pristine DIR}" ;;
    *)
        echo "usage: series.sh check|write|each [FIRST]|diff|pristine DIR" >&2
        exit 2
        ;;
esac
