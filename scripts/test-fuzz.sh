#!/usr/bin/env bash
# Builds every fuzz target of fuzz/ with cargo-fuzz (libFuzzer, AddressSanitizer) and runs
# each for a bounded time, seeded from the vector files of crypto/tests/vectors. Prints the
# executions per target and exits non-zero if any target crashes or fails to build.
#
#   FUZZ_SECONDS   seconds per target (default 30)
#   FUZZ_TARGETS   space-separated targets to run (default: all of `cargo fuzz list`)
#
# The toolchain is stable: RUSTC_BOOTSTRAP=1 lets it accept the -Zsanitizer flag that
# cargo-fuzz passes. Crashes are written to fuzz/artifacts/<target>/.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
export PATH="$HOME/.cargo/bin:$PATH"

cargo_fuzz_version=0.13.2
seconds="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --version 2>/dev/null | grep -q " $cargo_fuzz_version\$"; then
    echo "[fuzz] installing cargo-fuzz $cargo_fuzz_version"
    cargo install --locked cargo-fuzz --version "$cargo_fuzz_version"
fi

export RUSTC_BOOTSTRAP=1
# One target dir for the repository; cargo-fuzz builds into its own target triple folder.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"

targets="${FUZZ_TARGETS:-$(cargo fuzz list)}"

echo "[fuzz] seeding corpora from crypto/tests/vectors"
seeds="$(mktemp -d)"
trap 'rm -rf "$seeds"' EXIT
python3 make_seeds.py "$seeds"

echo "[fuzz] building: $targets"
# shellcheck disable=SC2086
for target in $targets; do
    cargo fuzz build --release "$target"
done

failed=()
summary=()
for target in $targets; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    if [ -d "$seeds/$target" ]; then
        cp -n "$seeds/$target"/* "$corpus"/ 2>/dev/null || true
    fi
    log="$(mktemp)"
    echo "[fuzz] $target for ${seconds}s"
    if cargo fuzz run --release "$target" "$corpus" -- \
        -max_total_time="$seconds" \
        -print_final_stats=1 -close_fd_mask=1 >"$log" 2>&1; then
        status=ok
    else
        status=CRASH
        failed+=("$target")
        tail -n 40 "$log"
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')"
    summary+=("$(printf '%-28s %-6s %12s executions in %ss' "$target" "$status" "$runs" "$seconds")")
    rm -f "$log"
done

echo
echo "[fuzz] summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "[fuzz] crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
