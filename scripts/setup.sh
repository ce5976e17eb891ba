#!/usr/bin/env bash
# Installs every tool the build and the tests need, each at a pinned version.
# Safe to run again: a tool that is already present at its version is skipped.
set -euo pipefail

TRUNK_VERSION=0.21.14
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

log() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_wasm_target() {
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then return; fi
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
}

install_trunk() {
  if trunk --version 2>/dev/null | grep -q " $TRUNK_VERSION\$"; then return; fi
  log "installing trunk $TRUNK_VERSION (about 6 minutes)"
  cargo install --locked trunk --version "$TRUNK_VERSION"
}

# The lock file published with wasm-bindgen-cli 0.2.130 pins webpki-roots 1.0.11,
# which the registry mirror lacks, so the crate is installed from its source with
# that one dependency moved to 1.0.10.
install_wasm_bindgen() {
  if wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION\$"; then return; fi
  log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
  cargo info "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" >/dev/null
  local crate
  crate=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "wasm-bindgen-cli-$WASM_BINDGEN_VERSION.crate" | head -n 1)
  if [ -z "$crate" ]; then
    echo "wasm-bindgen-cli-$WASM_BINDGEN_VERSION.crate is missing from the cargo cache" >&2
    exit 1
  fi
  local work
  work=$(mktemp -d)
  tar -xzf "$crate" -C "$work"
  (
    cd "$work/wasm-bindgen-cli-$WASM_BINDGEN_VERSION"
    cargo update -p webpki-roots --precise 1.0.10
    cargo install --locked --path . --target-dir "$work/target"
  )
  rm -rf "$work"
}

install_chromium() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return; fi
  log "installing Debian's chromium and chromium-driver"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
}

# nginx and openssl for scripts/test-nginx.sh, which runs the site behind a real TLS
# proxy. The package's own nginx service is not needed there; the test starts nginx
# itself with its own configuration.
install_nginx() {
  if command -v nginx >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then return; fi
  log "installing Debian's nginx and openssl"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx openssl
}

install_node() {
  if command -v npm >/dev/null 2>&1; then return; fi
  log "installing Debian's nodejs and npm"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
}

install_node_packages() {
  cd "$root/end2end"
  local stamp=node_modules/.installed-lock.sha256
  local want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  log "installing the end-to-end test packages (npm ci)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
}

# "build" installs what building and running the app needs; "test" adds the browser
# and the end-to-end test packages.
purpose=${1:-test}
case "$purpose" in
  build | test) ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

install_wasm_target
install_trunk
install_wasm_bindgen
if [ "$purpose" = test ]; then
  install_chromium
  install_nginx
  install_node
  install_node_packages
fi
log "tools for $purpose present"
