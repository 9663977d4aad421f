#!/usr/bin/env bash
# Playwright passes its own --disable-features list and Chromium keeps only the last such flag;
# this merges every --disable-features value into one before starting Debian's Chromium.
features=()
args=()
for arg in "$@"; do
    case "$arg" in
        --disable-features=*) features+=("${arg#--disable-features=}") ;;
        *) args+=("$arg") ;;
    esac
done
joined=$(IFS=,; echo "${features[*]}")
exec "${CHROMIUM:-/usr/bin/chromium}" "${args[@]}" ${joined:+"--disable-features=$joined"}
