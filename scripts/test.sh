#!/usr/bin/env bash
# Every test: install what is missing, build release, run the Rust tests (format, daemon,
# end-to-end acceptance tests with real PHP processes), the extension's PHP tests and the
# PHP userland's PHPUnit suite.
source "$(dirname "$0")/lib.sh"

install_packages
build_release
cd "$REPO"

log "Rust tests (format crate, daemon, end-to-end with real PHP processes)"
EVENTSRV_EXTENSION="$EVENTSRV_EXT" cargo test --release --workspace --exclude eventsrv-ext

log "extension tests (PHP scripts against eventsrv.so)"
EXT="$EVENTSRV_EXT" EVENTSRV_BIN="$EVENTSRV_BIN" bash crates/ext/tests/run.sh

log "PHP userland tests (PHPUnit)"
phpunit -c php/phpunit.xml.dist

log "bank example tests (PHPUnit, eventsrv's test helpers, no daemon)"
phpunit -c examples/bank/phpunit.xml.dist
