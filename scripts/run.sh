#!/usr/bin/env bash
# Sets up the tools, builds the pages and the server, and runs the app on
# http://127.0.0.1:8080 with its data in ./data (an embedded redb file).
# Extra arguments go to the server, for example `--max-file-size 1073741824`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

scripts/setup.sh build
cargo fetch --locked
trunk build --release --offline
cargo build --locked -p dtc-server
exec target/debug/dtc-server --addr 127.0.0.1:8080 --data-dir data --site-dir dist "$@"
