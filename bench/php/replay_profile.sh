#!/usr/bin/env bash
# Scenario 4 under a profiler: instructions per replayed event (callgrind counts them the same
# on a busy box, unlike wall time) and the wall/CPU time of the same replay.
#
#   bench/php/replay_profile.sh [EVENTS]    (default 100000; needs a release build and valgrind)
#
# Starts a private daemon, appends EVENTS bank events (bench/php/replay.php), runs
# `eventsrv-worker --replay --batch-size 10000` once under /usr/bin/time and once under
# callgrind, and prints instructions per event (PHP start-up included). Keeps nothing.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
EVENTS="${1:-100000}"
TMP="$(mktemp -d /var/tmp/eventsrv-replay-profile.XXXXXX)"
REGION="/dev/shm/eventsrv-replay-profile-$$.region"
SOCK="$TMP/eventsrv.sock"
PHP=(php -d "extension=$REPO/target/release/libeventsrv.so" -d memory_limit=-1
  -d "eventsrv.socket=$SOCK" -d "eventsrv.region=$REGION")
DAEMON_PID=""
cleanup() {
  [[ -n "$DAEMON_PID" ]] && { kill "$DAEMON_PID" 2>/dev/null; wait "$DAEMON_PID" 2>/dev/null; }
  rm -rf "$TMP" "$REGION" "$REGION".building-*
}
trap cleanup EXIT INT TERM

"$REPO/target/release/eventsrv" serve --data-dir "$TMP/data" --socket "$SOCK" --region "$REGION" \
  --region-size 4GiB --socket-mode 0600 >"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
for _ in $(seq 1 600); do
  [[ -S "$SOCK" ]] && "${PHP[@]}" -r 'exit(EventSrv\Native::ping() ? 0 : 1);' 2>/dev/null && break
  sleep 0.05
done
"${PHP[@]}" "$REPO/bench/php/replay.php" append "$EVENTS" >/dev/null
WORKER=("${PHP[@]}" "$REPO/php/bin/eventsrv-worker" "$REPO/bench/php/worker.php" --replay --batch-size 10000)
/usr/bin/time -f "$EVENTS events: wall %e s, user %U s, sys %S s" "${WORKER[@]}" 2>&1 | tail -3
valgrind --tool=callgrind --callgrind-out-file="$TMP/callgrind.out" "${WORKER[@]}" >/dev/null 2>&1
instructions=$(sed -n 's/^summary: //p' "$TMP/callgrind.out")
echo "$EVENTS events: $instructions instructions = $((instructions / EVENTS)) per event"
