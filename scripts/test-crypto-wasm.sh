#!/usr/bin/env bash
# Runs the dtc-crypto tests (unit tests and the published-vector tests) compiled to
# wasm32-unknown-unknown in headless Chromium, driven over WebDriver by
# wasm-bindgen-test-runner. Exits non-zero if any test fails or the browser cannot start.
#
# Needs: the wasm32-unknown-unknown target, wasm-bindgen-test-runner 0.2.130 on PATH
# (the wasm-bindgen version in Cargo.lock), chromium and chromium-driver.
# Extra arguments go to `cargo test`, for example a test name filter.
set -euo pipefail

crate_dir="$(cd "$(dirname "$0")/../crypto" && pwd)"
cd "$crate_dir"

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# Chromium flags for a headless run without a sandbox or background network traffic.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$crate_dir/webdriver.json"
# Seconds per test binary; the runner's default of 20 is too short for the vector files
# and the multi-part contents tests in a debug build.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-600}"

exec cargo test -p dtc-crypto --target wasm32-unknown-unknown "$@"
