# Shared by the scripts in this folder: installing what is missing and building.
# Sourced, not run.

set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages eventsrv needs to build and test. php8.2-dev/cli + libclang-dev build the
# extension (ext-php-rs runs bindgen through libclang); phpunit + xml/mbstring run the PHP tests.
EVENTSRV_PACKAGES=(build-essential pkg-config git ca-certificates curl
  php8.2-dev php8.2-cli libclang-dev phpunit php8.2-xml php8.2-mbstring util-linux procps
  make systemd nginx php8.2-fpm php8.2-sqlite3 php8.2-intl php8.2-curl composer wrk
  php-laravel-framework php-symfony-framework-bundle php-symfony-console)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_packages() {
  local missing=()
  for package in "${EVENTSRV_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v cargo >/dev/null; then
    if [[ -x "$HOME/.cargo/bin/cargo" ]]; then
      export PATH="$HOME/.cargo/bin:$PATH"
    else
      log "installing the Rust toolchain (Debian's cargo)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo rustc >/dev/null
    fi
  fi
}

# One release build makes both the daemon (target/release/eventsrv) and the extension
# (target/release/libeventsrv.so, installed as eventsrv.so).
build_release() {
  log "cargo build --release (daemon + extension)"
  (cd "$REPO" && cargo build --release --workspace)
  cp -f "$REPO/target/release/libeventsrv.so" "$REPO/target/release/eventsrv.so"
}

EVENTSRV_BIN="$REPO/target/release/eventsrv"
EVENTSRV_EXT="$REPO/target/release/eventsrv.so"
