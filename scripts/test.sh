#!/usr/bin/env bash
# Every test: install what is missing, build release, then run each suite, keep going when one
# fails, and end with one summary line. Suites:
#   rust       format crate, daemon, crash/fault suites, end-to-end tests with real PHP
#              processes, Laravel/Symfony apps behind nginx + php-fpm
#   extension  PHP scripts against eventsrv.so
#   php        the userland's PHPUnit suite
#   bank       the bank example's PHPUnit suite (eventsrv's test helpers, no daemon)
#   fuzz       a bounded libFuzzer run of every decoder ($EVENTSRV_FUZZ_SECONDS per target)
source "$(dirname "$0")/lib.sh"

install_packages
build_release
cd "$REPO"

passed=0
failed=0
failures=()
suite() {
  local name="$1"
  shift
  log "suite $name: $*"
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    failures+=("$name")
  fi
}

suite rust env EVENTSRV_EXTENSION="$EVENTSRV_EXT" \
  cargo test --release --workspace --exclude eventsrv-ext
suite extension env EXT="$EVENTSRV_EXT" EVENTSRV_BIN="$EVENTSRV_BIN" \
  bash crates/ext/tests/run.sh
suite php phpunit -c php/phpunit.xml.dist
suite bank phpunit -c examples/bank/phpunit.xml.dist
suite fuzz bash scripts/fuzz.sh "${EVENTSRV_FUZZ_SECONDS:-15}"

if ((failed)); then
  log "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
((failed == 0))
