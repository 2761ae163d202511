#!/usr/bin/env bash
# Fuzz every decoder that reads outside bytes (cargo-fuzz / libFuzzer), bounded in time:
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 20 s; all targets)
#
# Targets (fuzz/fuzz_targets/): log_record, protocol_frame, region_reader, vtree. Each run starts
# from the committed seed corpus (fuzz/corpus/<target>/, read-only here) plus what earlier runs
# found (fuzz/target/corpus/<target>/, not committed). A crash stops the script with libFuzzer's
# report; the input is saved under fuzz/artifacts/<target>/ and replays with
#   (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O <target> artifacts/<target>/<file>)
# Longer runs: docs/testing.md.
source "$(dirname "$0")/lib.sh"

seconds="${1:-${EVENTSRV_FUZZ_SECONDS:-20}}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(log_record protocol_frame region_reader vtree)
fi

install_packages
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
# cargo-fuzz passes -Z flags (sanitizers, coverage); the stable toolchain accepts them with this.
export RUSTC_BOOTSTRAP=1

cd "$REPO/fuzz"
log "building fuzz targets"
cargo fuzz build -O

total=0
for target in "${targets[@]}"; do
  found="target/corpus/$target"
  mkdir -p "$found"
  log "fuzzing $target for ${seconds}s"
  output="$(mktemp)"
  if ! cargo fuzz run -O "$target" "$found" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 >"$output" 2>&1; then
    cat "$output" >&2
    rm -f "$output"
    log "$target FAILED: the input is in fuzz/artifacts/$target/"
    exit 1
  fi
  runs="$(grep -oE 'Done [0-9]+ runs' "$output" | grep -oE '[0-9]+' | tail -1)"
  coverage="$(grep -oE 'cov: [0-9]+' "$output" | tail -1)"
  rm -f "$output"
  echo "fuzz $target: ${runs:-0} executions in ${seconds}s, $coverage, no crash"
  total=$((total + ${runs:-0}))
done
echo "fuzz: $total executions over ${#targets[@]} targets, no crash"
