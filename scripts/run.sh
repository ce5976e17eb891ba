#!/usr/bin/env bash
# Sets up the tools, builds the pages and the server, and runs the app on
# http://127.0.0.1:8080 with its data in ./data (an embedded redb file).
# Extra arguments go to the server and override these defaults, for example
# `--addr 127.0.0.1:9000` or `--max-file-size 1073741824`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh build
cargo fetch --locked
trunk build --release --offline
cargo build --locked -p dtc-server
# Defaults through the environment, so that a flag in "$@" wins over them.
export DTC_ADDR=${DTC_ADDR:-127.0.0.1:8080}
export DTC_DATA_DIR=${DTC_DATA_DIR:-$root/data}
export DTC_SITE_DIR=${DTC_SITE_DIR:-$root/dist}
exec "${CARGO_TARGET_DIR:-$root/target}/debug/dtc-server" "$@"
