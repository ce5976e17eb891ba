#!/usr/bin/env bash
# Builds the release server and the release page, then runs each benchmark against a
# server of its own on 127.0.0.1 with an empty data folder, and stops that server.
# Each figure is a ratio against a reference measured in the same run.
#
# Environment:
#   BENCH                  benchmarks to run, from "encrypt transfer memory" (default: all three)
#   BENCH_ENCRYPT_SIZE     encryption benchmark size (default 256M)
#   BENCH_ENCRYPT_ROUNDS   measured rounds of the encryption benchmark (default 3)
#   BENCH_TRANSFER_SIZE    whole-transfer file size (default 1G)
#   BENCH_TRANSFER_CURL_ROUNDS  runs of each curl direction, median taken (default 3)
#   BENCH_MEMORY_SIZE      memory benchmark file size (default 4G)
#   BENCH_SKIP_BUILD=1     use target/release/dtc-server and dist/ as they are
#   BENCH_TMPDIR           where the temporary folder goes (default /tmp); the run
#                          needs about three times the largest file size free there
#
# Sizes take bytes or a number with K, M or G (powers of 1024).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

benchmarks="${BENCH:-encrypt transfer memory}"
for name in $benchmarks; do
  case "$name" in
    encrypt | transfer | memory) ;;
    *)
      echo "unknown benchmark '$name' in BENCH; choose from: encrypt transfer memory" >&2
      exit 2
      ;;
  esac
done

if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  echo "== building the release server and page"
  cargo build --release -p dtc-server
  trunk build --release --offline
fi
server_bin="${CARGO_TARGET_DIR:-$repo/target}/release/dtc-server"
if [[ ! -x "$server_bin" ]]; then
  echo "no server binary at $server_bin; run without BENCH_SKIP_BUILD=1" >&2
  exit 1
fi

tmp="$(mktemp -d "${BENCH_TMPDIR:-/tmp}/dtc-bench-XXXXXX")"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
cleanup() {
  stop_server
  rm -rf "$tmp"
}
trap cleanup EXIT

# Starts a server with an empty data folder in "$tmp/$1" and sets base_url and
# server_pid. Each benchmark gets its own, so that one benchmark's database and
# server memory do not carry over into the next.
start_server() {
  local folder="$tmp/$1"
  mkdir -p "$folder/data"
  local port
  port="$(node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });")"
  base_url="http://127.0.0.1:$port"
  # Limits far above any benchmark size, so that only the transfer itself is measured.
  "$server_bin" --addr "127.0.0.1:$port" --data-dir "$folder/data" --site-dir "$repo/dist" \
    --max-file-size $((64 * 1024 * 1024 * 1024)) --quota-bytes $((1024 * 1024 * 1024 * 1024)) \
    >"$folder/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    if curl -fsS -o /dev/null "$base_url/healthz" 2>/dev/null; then
      echo "server:    $server_bin on $base_url, pid $server_pid"
      return 0
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server exited at start-up; its log:" >&2
      cat "$folder/server.log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "the server did not respond to GET $base_url/healthz within 10 s" >&2
  return 1
}

echo "== machine"
echo "date:      $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu:       $(sed -n 's/^model name\s*:\s*//p' /proc/cpuinfo | head -n 1)"
echo "cores:     $(nproc)"
echo "memory:    $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1024 / 1024 }' /proc/meminfo)"
# Debian's chromium wrapper script prints a shell warning on stderr; the version is on stdout.
echo "chromium:  $(/usr/bin/chromium --version 2>/dev/null)"

status=0
for name in $benchmarks; do
  echo "== $name"
  echo "load:      $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min averages before it)"
  start_server "$name"
  BENCH_BASE_URL="$base_url" BENCH_SERVER_PID="$server_pid" BENCH_TMP="$tmp/$name" \
    node "$repo/bench/$name.mjs" || status=$?
  stop_server
  rm -rf "${tmp:?}/$name"
  echo "load:      $(cut -d ' ' -f 1-3 /proc/loadavg) (1, 5, 15 min averages after it)"
done
exit "$status"
