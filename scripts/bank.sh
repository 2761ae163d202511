#!/usr/bin/env bash
# The main job: install what is missing, build, then run the eventsrv daemon, the projector
# worker and the bank example's web front, and print the URL. Ctrl-C stops all three.
#
#   scripts/bank.sh [--port 8080] [--state-dir DIR]
source "$(dirname "$0")/lib.sh"

PORT=8080
STATE_DIR="$REPO/var/bank"
while (($#)); do
  case "$1" in
    --port) PORT="$2"; shift 2 ;;
    --state-dir) STATE_DIR="$2"; shift 2 ;;
    *) echo "usage: $0 [--port N] [--state-dir DIR]" >&2; exit 2 ;;
  esac
done

install_packages
build_release

SOCKET="$STATE_DIR/eventsrv.sock"
REGION="/dev/shm/eventsrv-bank.region"
mkdir -p "$STATE_DIR"
PHP=(php -n -d "extension=$EVENTSRV_EXT" -d "eventsrv.socket=$SOCKET" -d "eventsrv.region=$REGION")

pids=()
stop_all() {
  trap - INT TERM EXIT
  log "stopping"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

log "starting the daemon (data in $STATE_DIR/data)"
"$EVENTSRV_BIN" serve --data-dir "$STATE_DIR/data" --socket "$SOCKET" --region "$REGION" \
  --socket-mode 0600 &
pids+=($!)
for _ in $(seq 1 100); do [[ -S "$SOCKET" ]] && break; sleep 0.1; done
[[ -S "$SOCKET" ]] || { echo "the daemon did not start; see the messages above" >&2; exit 1; }

log "starting the projector worker"
"${PHP[@]}" "$REPO/php/bin/eventsrv-worker" "$REPO/examples/bank/worker.php" &
pids+=($!)

log "starting the bank example on http://127.0.0.1:$PORT/"
"${PHP[@]}" -S "127.0.0.1:$PORT" -t "$REPO/examples/bank/public" &
pids+=($!)

echo
echo "  eventsrv bank example: http://127.0.0.1:$PORT/"
echo "  status:                $EVENTSRV_BIN status --socket $SOCKET --region $REGION"
echo "  Ctrl-C stops daemon, worker and web server."
echo
wait -n "${pids[@]}"
