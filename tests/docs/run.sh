#!/usr/bin/env bash
# The editor's help pages (rust/gdext/doc_classes, registered by rust/gdext/src/docs.rs) against
# what the addon really registers: Godot's headless doctool, run with its GDExtension option on
# a copy of the pages, merges them with the classes the loaded addon registers. The pages must
# come back unchanged (no method missing or extra, no signature different), with every class and
# method described, and the run must be clean.
# Needs $GODOT_BIN and the addon built into tests/godot. Ends with "docs: N passed, N failed".
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
godot=${GODOT_BIN:?set GODOT_BIN to a Godot 4 binary}
pages="$repo/rust/gdext/doc_classes"
logs="$repo/tests/results/docs"
rm -rf "$logs"
mkdir -p "$logs/dump/doc_classes"
cp "$pages"/*.xml "$logs/dump/doc_classes/"

source "$repo/tests/tools/verdict.sh"

timeout -k 5 120 "$godot" --headless --path "$repo/tests/godot" --doctool "$logs/dump" \
    --gdextension-docs >"$logs/doctool.log" 2>&1
status=$?
if "$repo/tests/tools/godot-log-problems.sh" "$logs/doctool.log"; then status=1; fi
verdict $status "Godot's doctool dumps the addon's classes (--doctool --gdextension-docs)"

status=0
for page in "$pages"/*.xml; do
    dumped="$logs/dump/doc_classes/$(basename "$page")"
    if ! diff -u "$page" "$dumped" >"$logs/$(basename "$page" .xml).diff" 2>&1; then
        status=1
        echo "  $(basename "$page") differs from what the addon registers:"
        head -n 20 "$logs/$(basename "$page" .xml).diff" | sed 's/^/    /'
    fi
done
dumped_classes=$(find "$logs/dump/doc_classes" -name '*.xml' | wc -l)
page_count=$(find "$pages" -name '*.xml' | wc -l)
[[ $dumped_classes -eq $page_count ]] || { status=1; echo "  $dumped_classes classes dumped, $page_count pages written"; }
verdict $status "every registered class, method and signature has its page, and nothing else"

status=0
python3 - "$logs/dump/doc_classes" <<'PY' || status=1
import sys, pathlib, xml.etree.ElementTree as ET
bare = []
for page in sorted(pathlib.Path(sys.argv[1]).glob("*.xml")):
    root = ET.parse(page).getroot()
    name = root.get("name")
    for tag in ("brief_description", "description"):
        if not (root.findtext(tag) or "").strip():
            bare.append(f"{name}: {tag}")
    for method in root.iter("method"):
        if not (method.findtext("description") or "").strip():
            bare.append(f"{name}.{method.get('name')}()")
for item in bare:
    print("  not described:", item)
sys.exit(1 if bare else 0)
PY
verdict $status "every class and method is described"

echo "docs: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
