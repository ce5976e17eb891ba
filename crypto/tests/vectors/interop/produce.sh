#!/usr/bin/env bash
# Writes new interop fixtures with the ignored `produce_fixture` test of tests/interop.rs:
# native.json from the native build, wasm.json from the WebAssembly build in headless
# Chromium (through scripts/test-crypto-wasm.sh). Then it runs the interop tests in both
# builds, so each decrypts the other's file. Exits non-zero if any step fails.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
cd "$root"

# Prints the JSON between the marker lines of a produce_fixture run.
extract() {
    awk '/INTEROP-FIXTURE-END/ {inside = 0} inside {print} /INTEROP-FIXTURE-BEGIN/ {inside = 1}'
}

write_fixture() {
    local name="$1" log="$2"
    local json
    json="$(extract <"$log")"
    if [ -z "$json" ]; then
        echo "no fixture in the output of the $name build:" >&2
        tail -n 40 "$log" >&2
        exit 1
    fi
    printf '%s\n' "$json" >"$here/$name.json"
    echo "wrote $here/$name.json"
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT

cargo test -p dtc-crypto --test interop -- --include-ignored --nocapture produce_fixture >"$log" 2>&1
write_fixture native "$log"

scripts/test-crypto-wasm.sh --test interop -- --include-ignored --nocapture produce_fixture >"$log" 2>&1
write_fixture wasm "$log"

cargo test -p dtc-crypto --test interop
scripts/test-crypto-wasm.sh --test interop

# The second implementation, written from docs/format.md alone, needs Python's
# `cryptography` package (44 or later, for Argon2id).
if python3 -c 'import cryptography.hazmat.primitives.kdf.argon2' 2>/dev/null; then
    python3 "$here/independent_decrypt.py" "$here/native.json" "$here/wasm.json"
else
    echo "skipped independent_decrypt.py: Python's cryptography package (44+) is missing" >&2
fi
