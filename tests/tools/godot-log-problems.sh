#!/usr/bin/env bash
# Prints the lines of a Godot log that fail a run however it ended: a GDScript error, a Rust
# panic, an engine crash, or objects and resources still alive at exit (what gdext's own test
# runner refuses too). Exits 0 when it found any, 1 when the log is clean.
#   tests/tools/godot-log-problems.sh LOG...
set -uo pipefail
grep -hiE "SCRIPT ERROR|panicked|rust panic|Program crashed|SIGSEGV|leaked at exit|still in use at exit" "$@"
