#!/usr/bin/env bash
# Sets up the tools and runs every test. These are the native Rust tests (published
# vectors, crypto properties, server tests on real redb files), the crypto tests in
# headless Chromium, a bounded fuzzing run of every crypto parser, and the
# Playwright tests of the real build in Chromium.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

step() { printf '\n[test] %s\n' "$*"; }

scripts/setup.sh test
cargo fetch --locked

step "formatting"
cargo fmt --all --check

# The frontend is left out: it is a WASM crate, and building it next to the
# server would merge the two feature sets of dtc-app into one.
step "native tests"
cargo test --locked --workspace --exclude dtc-frontend

# The page code builds only with the csr feature, which cannot be unified with the
# server's ssr build in one cargo run, so its native tests run on their own.
step "native tests of the page code"
cargo test --locked -p dtc-app --features csr --lib
cargo test --locked -p dtc-frontend --lib

step "crypto tests in the WASM build, headless Chromium"
scripts/test-crypto-wasm.sh

step "fuzzing every crypto parser and decoder, ${FUZZ_SECONDS:-30} s per target"
scripts/test-fuzz.sh

step "building the pages and the server"
trunk build --release --offline
cargo build --locked -p dtc-server

step "end-to-end tests in Chromium"
export E2E_SERVER_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/dtc-server"
(cd end2end && npx playwright test)

step "end-to-end tests over HTTPS behind nginx, with the configuration of deploy/"
scripts/test-nginx.sh
