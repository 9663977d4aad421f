# Sourced by the scripts that run this repository's host builds (needs $repo): sets
# host_target to the folder cargo builds them in, $CARGO_TARGET_DIR when set, as cargo does.
# shellcheck shell=bash disable=SC2034 # host_target is read by the scripts that source this
host_target=${CARGO_TARGET_DIR:-$repo/target}
