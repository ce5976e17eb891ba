#!/usr/bin/env bash
# Runs the server behind real nginx with TLS and checks it over HTTPS. nginx runs
# deploy/nginx.conf with only the paths, ports, certificate and user changed. curl
# checks the HSTS header, the session cookie, the redirect from HTTP and nginx's body
# limit on the part routes, then the Playwright transfer, share-link and download
# specs run in Chromium through nginx.
#
# Needs Debian's nginx and openssl (scripts/setup.sh test installs them), the debug
# server build and the pages. Environment: E2E_SERVER_BIN (default
# target/debug/dtc-server), E2E_SITE_DIR (default dist), NGINX_TEST_TLS_PORT (18444),
# NGINX_TEST_HTTP_PORT (18480) and NGINX_TEST_SERVER_PORT (18084).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

server_bin=${E2E_SERVER_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/dtc-server}
site_dir=$(cd "${E2E_SITE_DIR:-$root/dist}" && pwd)
tls_port=${NGINX_TEST_TLS_PORT:-18444}
http_port=${NGINX_TEST_HTTP_PORT:-18480}
server_port=${NGINX_TEST_SERVER_PORT:-18084}
base_url="https://127.0.0.1:$tls_port"
# The same limit as end2end/playwright.config.ts, which the too-large spec relies on.
max_file_size=$((24 * 1024 * 1024))

log() { printf '[test-nginx] %s\n' "$*"; }
fail() {
  printf '[test-nginx] FAILED: %s\n' "$*" >&2
  exit 1
}

for tool in nginx openssl curl; do
  command -v "$tool" >/dev/null 2>&1 || fail "$tool is missing; run scripts/setup.sh test"
done
[ -x "$server_bin" ] || fail "no server binary at $server_bin; run cargo build -p dtc-server"
[ -f "$site_dir/index.html" ] || fail "no pages in $site_dir; run trunk build --release --offline"

work=$(mktemp -d "${TMPDIR:-/tmp}/dtc-nginx.XXXXXX")
server_pid=
nginx_pid=
cleanup() {
  local status=$?
  if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    log "nginx error log:"; tail -n 20 "$work/error.log" 2>/dev/null || true
    log "server log:"; tail -n 20 "$work/server.log" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

log "making a self-signed certificate for 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

# The site file as deployed, with only its addresses and paths replaced. The IPv6
# listens go, since the test listens on 127.0.0.1 alone.
mkdir -p "$work/www" "$work/temp"
sed \
  -e "s#^\(\s*\)listen 80;#\1listen 127.0.0.1:$http_port;#" \
  -e "s#^\(\s*\)listen 443 ssl http2;#\1listen 127.0.0.1:$tls_port ssl http2;#" \
  -e '/listen \[::\]/d' \
  -e 's#server_name transfer\.example\.com;#server_name 127.0.0.1;#' \
  -e "s#/etc/letsencrypt/live/transfer\.example\.com/fullchain\.pem#$work/cert.pem#" \
  -e "s#/etc/letsencrypt/live/transfer\.example\.com/privkey\.pem#$work/key.pem#" \
  -e "s#proxy_pass http://127\.0\.0\.1:8080;#proxy_pass http://127.0.0.1:$server_port;#" \
  -e "s#root /var/www/html;#root $work/www;#" \
  "$root/deploy/nginx.conf" >"$work/site.conf"
if grep -v '^\s*#' "$work/site.conf" | grep -q -e example.com -e letsencrypt -e ':8080' -e '/var/www'; then
  fail "rendering deploy/nginx.conf left a deployment path or port in place"
fi

user_line=
if [ "$(id -u)" -eq 0 ]; then user_line="user root;"; fi
cat >"$work/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $work/nginx.pid;
error_log $work/error.log info;
daemon off;
events { worker_connections 256; }
http {
    access_log $work/access.log;
    client_body_temp_path $work/temp/body;
    proxy_temp_path $work/temp/proxy;
    fastcgi_temp_path $work/temp/fastcgi;
    uwsgi_temp_path $work/temp/uwsgi;
    scgi_temp_path $work/temp/scgi;
    # The http-level lines that docs/deploy.md adds to /etc/nginx/nginx.conf.
    ssl_protocols TLSv1.2 TLSv1.3;
    server_tokens off;
    include $work/site.conf;
}
EOF

log "starting the server on 127.0.0.1:$server_port"
"$server_bin" --addr "127.0.0.1:$server_port" --data-dir "$work/data" \
  --site-dir "$site_dir" --max-file-size "$max_file_size" \
  --https true --client-address-header X-Real-IP >"$work/server.log" 2>&1 &
server_pid=$!

log "starting nginx on 127.0.0.1:$tls_port (TLS) and :$http_port"
nginx -t -p "$work" -c "$work/nginx.conf" -e "$work/error.log" 2>>"$work/error.log" ||
  fail "nginx rejected the rendered configuration"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/error.log" &
nginx_pid=$!

ready=
for _ in $(seq 1 100); do
  if curl -fsk --max-time 2 "$base_url/healthz" 2>/dev/null | grep -qx ok; then
    ready=yes
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
  kill -0 "$nginx_pid" 2>/dev/null || fail "nginx exited"
  sleep 0.2
done
[ -n "$ready" ] || fail "$base_url/healthz did not answer ok within 20 s"

checks=0
check() {
  checks=$((checks + 1))
  log "ok: $*"
}

# --- curl checks over HTTPS ---

headers=$(curl -sk -D - -o /dev/null "$base_url/")
[ "$(grep -ci '^strict-transport-security:' <<<"$headers")" -eq 1 ] ||
  fail "expected one Strict-Transport-Security header, got: $headers"
check "one Strict-Transport-Security header"
grep -qi '^content-security-policy:' <<<"$headers" || fail "no Content-Security-Policy: $headers"
check "the server's Content-Security-Policy passes nginx"
grep -qix 'server: nginx\s*' <<<"$headers" || fail "Server header shows more than nginx: $headers"
check "nginx hides its version"

redirect=$(curl -s -D - -o /dev/null "http://127.0.0.1:$http_port/some/page?x=1")
grep -q '^HTTP/1.1 301' <<<"$redirect" || fail "no 301 from port $http_port: $redirect"
grep -qi '^location: https://127.0.0.1/some/page?x=1' <<<"$redirect" ||
  fail "redirect goes elsewhere: $redirect"
check "HTTP redirects to HTTPS"

# A registration with random key material: the server checks only lengths and that
# the public key is a P-256 point, and the session cookie comes with the response.
b64url() { basenc --base64url | tr -d '=\n'; }
openssl ecparam -name prime256v1 -genkey -noout -out "$work/identity.pem"
public_key=$(openssl ec -in "$work/identity.pem" -pubout -outform DER 2>/dev/null | tail -c 65 | b64url)
register_body=$(printf '{"request":{"username":"nginxcheck","salt":"%s","kdf":{"memory_kib":65536,"iterations":3,"parallelism":1},"login_key":"%s","public_key":"%s","wrapped_identity":"%s"}}' \
  "$(openssl rand 16 | b64url)" "$(openssl rand 32 | b64url)" "$public_key" "$(openssl rand 61 | b64url)")
registered=$(curl -sk -D - -o "$work/register.json" -X POST "$base_url/api/register" \
  -H "Origin: $base_url" -H 'Content-Type: application/json' --data "$register_body")
grep -q '^HTTP/[0-9.]* 200' <<<"$registered" ||
  fail "register through nginx failed: $registered $(cat "$work/register.json")"
cookie=$(grep -i '^set-cookie: __Host-dtc_session=' <<<"$registered" || true)
[ -n "$cookie" ] || fail "no __Host-dtc_session cookie: $registered"
grep -qi '; *Secure' <<<"$cookie" || fail "session cookie without Secure: $cookie"
check "session cookie __Host-dtc_session with Secure"

mib=$((1024 * 1024))
head -c $((5 * mib)) /dev/zero >"$work/5mib"
head -c $((5 * mib + 1)) /dev/zero >"$work/5mib+1"
put_part() {
  curl -sk -o "$work/put.body" -w '%{http_code}' -X PUT \
    "$base_url/api/files/AAAAAAAAAAAAAAAAAAAAAA/parts/0" \
    -H "Origin: $base_url" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$1"
}
status=$(put_part "$work/5mib")
# The server, not nginx, rejects this body: its JSON error names the part limit.
[ "$status" = 413 ] && grep -q '"code":"too_large"' "$work/put.body" ||
  fail "a 5 MiB part did not reach the server: $status $(head -c 300 "$work/put.body")"
check "a 5 MiB part body passes nginx (the server's own 413 answers it)"
status=$(put_part "$work/5mib+1")
[ "$status" = 413 ] && grep -q '<center>nginx</center>' "$work/put.body" ||
  fail "nginx did not reject 5 MiB + 1 byte: $status $(head -c 300 "$work/put.body")"
check "a body of 5 MiB + 1 byte gets nginx's 413"

# --- the browser specs through nginx ---

log "running the Playwright transfer, share-link and download specs through $base_url"
cd "$root/end2end"
# Traces and screenshots go to the temporary folder, apart from other runs.
E2E_BASE_URL="$base_url" npx playwright test --output "$work/test-results" \
  tests/transfer.spec.ts tests/link.spec.ts tests/download.spec.ts
check "Playwright transfer, share-link and download specs over HTTPS"

log "$checks passed, 0 failed"
