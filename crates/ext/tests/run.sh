#!/usr/bin/env bash
# Runs the extension's PHP test scripts against a built libeventsrv.so.
#   crates/ext/tests/run.sh            (uses target/debug/libeventsrv.so)
#   EXT=/path/libeventsrv.so crates/ext/tests/run.sh
# Scripts print "ok"/"FAIL" lines and end with PASS or FAILED; e2e.php needs the daemon binary
# (target/debug/eventsrv) and is skipped when it is missing.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
ext="${EXT:-$root/target/debug/libeventsrv.so}"
daemon="${EVENTSRV_BIN:-$root/target/debug/eventsrv}"
php_cmd=(php -n -d "extension=$ext")
[ -f "$ext" ] || { echo "no extension at $ext: cargo build -p eventsrv-ext" >&2; exit 2; }

failed=0
run() {
    local name="$1"; shift
    local out
    out="$("$@" 2>&1)"
    local rc=$?
    if [ $rc -eq 0 ] && grep -q '^PASS' <<<"$out"; then
        echo "PASS $name ($(grep -c '^ok' <<<"$out") ok)"
    else
        echo "FAIL $name (exit $rc)"
        grep -v '^ok ' <<<"$out" | sed 's/^/    /'
        failed=1
    fi
}

for script in "$here"/php/*.php; do
    name="$(basename "$script")"
    case "$name" in
        _*) continue ;;
        e2e.php)
            if [ ! -x "$daemon" ]; then echo "SKIP e2e.php (no daemon at $daemon)"; continue; fi
            run "$name" env EVENTSRV_BIN="$daemon" EXT_PATH="$ext" "${php_cmd[@]}" "$script" ;;
        hydrate.php)
            # the region half needs the daemon; without it only the decode half runs
            if [ -x "$daemon" ]; then
                run "$name" env EVENTSRV_BIN="$daemon" "${php_cmd[@]}" "$script"
            else
                run "$name" "${php_cmd[@]}" "$script"
            fi ;;
        *) run "$name" "${php_cmd[@]}" "$script" ;;
    esac
done

# php --ri: version, region, positions, connection state, then the ini table
ri="$("${php_cmd[@]}" -d eventsrv.region=/nonexistent/x.region --ri eventsrv 2>&1)"
ri_ok=1
for needle in 'eventsrv support => enabled' 'extension version => ' \
    'region path (eventsrv.region) => /nonexistent/x.region' 'region => ' \
    'socket (eventsrv.socket) => /run/eventsrv/eventsrv.sock' 'connection => not connected' \
    'eventsrv.persist_wait_ms => 1000 => 1000' 'eventsrv.connect_timeout_ms => 1000 => 1000' \
    'eventsrv.io_timeout_ms => 10000 => 10000' 'eventsrv.region => /nonexistent/x.region'; do
    grep -qF -- "$needle" <<<"$ri" || { echo "    php --ri lacks: $needle"; ri_ok=0; }
done
if [ $ri_ok -eq 1 ]; then echo "PASS php --ri eventsrv"; else echo "FAIL php --ri eventsrv"; echo "$ri" | sed 's/^/    /'; failed=1; fi

exit $failed
