#!/usr/bin/env bash
# HTTP load test of the framework example apps on loopback (run by hand, not in CI):
# nginx + php-fpm serving examples/laravel and examples/symfony against ONE eventsrv daemon,
# the projector worker run by `artisan eventsrv:work`, wrk driving a mix of list (40%),
# detail (40%) and balance-change (20%) requests. The same apps reading and writing PDO SQLite
# (WAL, synchronous=FULL; one file per app) are the baseline. Afterwards every balance must lie
# between the sum of the writes the apps acknowledged and the sum of those sent (per store), or
# the script fails. tests/frameworks.rs runs it briefly in the test suite.
#
#   bench/http/run.sh [--duration SECONDS] [--connections N] [--accounts N]
#
# Prints a Markdown table (requests/s, latency percentiles) and keeps logs in the work dir.
source "$(dirname "$0")/../../scripts/lib.sh"

DURATION=10
CONNECTIONS=16
ACCOUNTS=20
FPM_CHILDREN=4
while (($#)); do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNECTIONS="$2"; shift 2 ;;
    --accounts) ACCOUNTS="$2"; shift 2 ;;
    *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
((DURATION >= 1 && DURATION <= 300)) || { echo "--duration must be 1..300 s" >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
FRAMEWORKS="$REPO/scripts/frameworks.sh"
"$FRAMEWORKS" check
[[ -x "$EVENTSRV_BIN" && -f "$EVENTSRV_EXT" ]] || { echo "build first: make build" >&2; exit 1; }

WORK="$(mktemp -d /tmp/eventsrv-http-bench.XXXXXX)"
chmod 0755 "$WORK" # nginx workers (nobody) reach the php-fpm sockets in here
REGION="/dev/shm/eventsrv-http-bench-$$.region"
SOCKET="$WORK/eventsrv.sock"
# Free loopback ports picked by the OS (nginx binds them right after).
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
LARAVEL_PORT="$(free_port)"
SYMFONY_PORT="$(free_port)"
pids=()
cleanup() {
  "$FRAMEWORKS" stop "$WORK/laravel" 2>/dev/null || true
  "$FRAMEWORKS" stop "$WORK/symfony" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -f "$REGION"
}
trap cleanup EXIT

log "daemon (data in $WORK/data)"
"$EVENTSRV_BIN" serve --data-dir "$WORK/data" --socket "$SOCKET" --region "$REGION" \
  --region-size 256MiB 2>"$WORK/daemon.log" &
pids+=($!)
for _ in $(seq 1 100); do [[ -S "$SOCKET" ]] && break; sleep 0.1; done
[[ -S "$SOCKET" ]] || { cat "$WORK/daemon.log" >&2; exit 1; }

for app in laravel symfony; do
  "$FRAMEWORKS" prepare "$app"
done
log "nginx + php-fpm ($FPM_CHILDREN children each): laravel :$LARAVEL_PORT, symfony :$SYMFONY_PORT"
"$FRAMEWORKS" serve laravel "$WORK/laravel" "$LARAVEL_PORT" "$EVENTSRV_EXT" "$SOCKET" "$REGION" "$FPM_CHILDREN"
"$FRAMEWORKS" serve symfony "$WORK/symfony" "$SYMFONY_PORT" "$EVENTSRV_EXT" "$SOCKET" "$REGION" "$FPM_CHILDREN"

log "projector worker: php artisan eventsrv:work"
"$FRAMEWORKS" php "$WORK/laravel" eventsrv:work >"$WORK/worker.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$LARAVEL_PORT/api/status" | grep -q '"workers":1' && break
  sleep 0.1
done

log "opening $ACCOUNTS accounts"
: >"$WORK/uuids.txt"
for i in $(seq 1 "$ACCOUNTS"); do
  curl -fsS -X POST -d "name=Account+$i" "http://127.0.0.1:$LARAVEL_PORT/api/accounts" \
    | sed -E 's/.*"uuid":"([^"]+)".*/\1/' >>"$WORK/uuids.txt"
  echo >>"$WORK/uuids.txt"
done
"$FRAMEWORKS" php "$WORK/laravel" bank:sqlite-sync
"$FRAMEWORKS" php "$WORK/symfony" bank:sqlite-sync

SCRIPT="$(dirname "$0")/mixed.lua"
# run LABEL PORT PREFIX ACK_FILE THREADS CONNECTIONS
run() {
  timeout $((DURATION + 60)) wrk -t"$5" -c"$6" -d"${DURATION}s" --timeout 30s -s "$SCRIPT" \
    "http://127.0.0.1:$2" -- "$3" "$WORK/uuids.txt" "$4" "$1" >"$WORK/wrk-${1// /_}.txt"
  grep '^RESULT|' "$WORK/wrk-${1// /_}.txt" >>"$WORK/results.txt"
}
: >"$WORK/results.txt"
log "wrk: ${DURATION}s per run, $CONNECTIONS connections"
run "laravel, eventsrv" "$LARAVEL_PORT" /api "$WORK/acked-eventsrv.txt" 2 "$CONNECTIONS"
run "laravel, PDO SQLite" "$LARAVEL_PORT" /sql/api "$WORK/acked-sqlite.txt" 2 "$CONNECTIONS"
run "symfony, eventsrv" "$SYMFONY_PORT" /api "$WORK/acked-eventsrv.txt" 2 "$CONNECTIONS"
run "symfony, PDO SQLite" "$SYMFONY_PORT" /sql/api "$WORK/acked-sqlite-symfony.txt" 2 "$CONNECTIONS"
half=$((CONNECTIONS / 2))
run "both at once: laravel" "$LARAVEL_PORT" /api "$WORK/acked-eventsrv.txt" 1 "$half" &
both=($!)
run "both at once: symfony" "$SYMFONY_PORT" /api "$WORK/acked-eventsrv.txt" 1 "$half" &
both+=($!)
wait "${both[@]}"

log "waiting for requests still in flight on the servers, then checking the balances"
# wrk stops at the deadline with requests outstanding; php-fpm finishes them anyway. Wait
# (bounded) until the committed position stops moving.
last=-1
for _ in $(seq 1 50); do
  now="$(curl -fsS "http://127.0.0.1:$LARAVEL_PORT/api/status" | sed -E 's/.*"committed":([0-9]+).*/\1/')"
  [[ "$now" == "$last" ]] && break
  last="$now"
  sleep 1
done
curl -fsS "http://127.0.0.1:$LARAVEL_PORT/api/accounts" >"$WORK/balances-eventsrv.json"
curl -fsS "http://127.0.0.1:$SYMFONY_PORT/api/accounts" >"$WORK/balances-eventsrv-symfony.json"
curl -fsS "http://127.0.0.1:$LARAVEL_PORT/sql/api/accounts" >"$WORK/balances-sqlite.json"
curl -fsS "http://127.0.0.1:$SYMFONY_PORT/sql/api/accounts" >"$WORK/balances-sqlite-symfony.json"
curl -fsS "http://127.0.0.1:$LARAVEL_PORT/api/status" >"$WORK/status.json"
python3 - "$WORK" <<'PY'
import json, sys, collections
work = sys.argv[1]
def sums(name):
    found = {"acked": collections.Counter(), "sent": collections.Counter()}
    for line in open(f"{work}/acked-{name}.txt"):
        kind, uuid, amount = line.split()
        found[kind][uuid] += int(amount)
    return found["acked"], found["sent"]
def balances(name):
    return {a["uuid"]: a["balance"] for a in json.load(open(f"{work}/balances-{name}.json"))["accounts"]}
ok = True
for store, files in (("eventsrv", ["eventsrv", "eventsrv-symfony"]), ("sqlite", ["sqlite"]),
                     ("sqlite-symfony", ["sqlite-symfony"])):
    acked, sent = sums(store)
    for name in files:
        got = balances(name)
        exact = sum(1 for u in got if got[u] == acked.get(u, 0))
        wrong = {u: (acked.get(u, 0), got[u], sent.get(u, 0)) for u in got
                 if not acked.get(u, 0) <= got[u] <= sent.get(u, 0)}
        print(f"{name}: {len(got)} accounts; sum of balances {sum(got.values())}, acknowledged {sum(acked.values())}, "
              f"sent {sum(sent.values())}; {exact} accounts exactly at the acknowledged sum, "
              f"{len(got) - exact} above it by writes whose answer the deadline cut off; "
              + ("every balance within [acknowledged, sent]: OK" if not wrong else f"OUT OF BOUNDS (acked, balance, sent): {wrong}"))
        ok = ok and not wrong
status = json.load(open(f"{work}/status.json"))
print(f"eventsrv positions: committed {status['committed']}, projected {status['projected']}, lag {status['lag']}")
sys.exit(0 if ok else 1)
PY

echo
echo "| run (wrk -c$CONNECTIONS, ${DURATION}s, mix 40% list / 40% detail / 20% write) | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | errors/non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
while IFS='|' read -r _ label requests rps p50 p90 p99 max failed; do
  echo "| $label | $requests | $rps | $p50 | $p90 | $p99 | $max | $failed |"
done <"$WORK/results.txt"
echo
echo "logs: $WORK"
