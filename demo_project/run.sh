#!/usr/bin/env bash
# The main job: builds the addon, provisions Godot like the tests do, runs the demo headless.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
tests/tools/build-addon.sh demo_project
godot=$(tests/tools/provision-godot.sh)
exec timeout -k 5 120 "$godot" --headless --path demo_project
