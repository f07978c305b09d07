#!/usr/bin/env bash
# Fuzzes KYC Desk's parsers with cargo-fuzz (libFuzzer + AddressSanitizer, debug assertions on):
# payload parsing (default and mapped bodies), decryption, MRZ parsing, the document checks and
# config parsing, image sniffing and JPEG 2000 decoding. Each target runs SECONDS (default 600) from its seeds (fuzz/seeds/<target>) and
# the corpus it grew before (fuzz/corpus/<target>).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      targets: payload payload_mapped decrypt mrz idcheck config image
#   FUZZ_PARALLEL=2 scripts/fuzz.sh 600        two targets at once (one per core)
#
# Exits 1 when any target found a crash, a hang (an input over 10 s), a leak or an out-of-memory;
# the input is kept in fuzz/artifacts/<target>/ and each run's output in fuzz/logs/<target>.log.
# Works from any directory. Needs only the stable toolchain: RUSTC_BOOTSTRAP=1 lets it take the
# -Z flags cargo-fuzz passes (sanitizer, coverage instrumentation).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_PROFILE_DEV_DEBUG=0

ALL=(payload payload_mapped decrypt mrz idcheck config image)
# Longest input each target is given (bytes): JSON bodies up to 64 KiB (the seeds are ~12 KiB),
# an MRZ is at most 92 characters.
declare -A MAX_LEN=([payload]=65536 [payload_mapped]=65536 [idcheck]=65536 [decrypt]=16384 [mrz]=512 [config]=16384 [image]=65536)
RSS_LIMIT_MB=2048
HANG_SECS=10

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

SECS=600
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  SECS=$1
  shift
fi
if [[ $# -gt 0 && ($1 == -h || $1 == --help) ]]; then
  usage
  exit 0
fi
TARGETS=("$@")
if ((${#TARGETS[@]} == 0)); then TARGETS=("${ALL[@]}"); fi
for t in "${TARGETS[@]}"; do
  if [[ -z ${MAX_LEN[$t]:-} ]]; then
    echo "fuzz: unknown target '$t'; targets: ${ALL[*]}" >&2
    exit 2
  fi
done
PARALLEL=${FUZZ_PARALLEL:-1}

# What it needs: cargo, a C++ compiler (libfuzzer-sys builds libFuzzer), cargo-fuzz.
command -v cargo >/dev/null || { echo "fuzz: cargo (Rust) is needed" >&2; exit 1; }
if ! command -v c++ >/dev/null; then
  echo "fuzz: installing a C++ compiler (g++) for libFuzzer"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends g++
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# One build for every target (-a: debug assertions, so integer overflows panic too); the runs
# below use the same flags and so do not rebuild.
FUZZ_FLAGS=(-a)
echo "fuzz: building the targets ($(cargo fuzz --version), $(rustc --version))"
cargo fuzz build "${FUZZ_FLAGS[@]}"

mkdir -p fuzz/logs
run_one() {
  local t=$1 log="fuzz/logs/$1.log"
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  local cmd=(cargo fuzz run "${FUZZ_FLAGS[@]}" "$t" "$ROOT/fuzz/corpus/$t" "$ROOT/fuzz/seeds/$t" --
    "-max_total_time=$SECS" "-max_len=${MAX_LEN[$t]}" "-rss_limit_mb=$RSS_LIMIT_MB"
    "-timeout=$HANG_SECS" -print_final_stats=1)
  echo "fuzz: $t for ${SECS}s: ${cmd[*]}"
  local status=0
  "${cmd[@]}" >"$log" 2>&1 || status=$?
  echo "$status" >"fuzz/logs/$t.status"
}

# Runs the targets, at most PARALLEL at once.
running=0
for t in "${TARGETS[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if ((running >= PARALLEL)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

# One line per target from libFuzzer's own report.
failed=()
printf '\n%-15s %-7s %12s %9s %8s %8s %8s %s\n' target result executions exec/s cov features 'rss MB' corpus
for t in "${TARGETS[@]}"; do
  log="fuzz/logs/$t.log"
  status=$(cat "fuzz/logs/$t.status" 2>/dev/null || echo 1)
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | tail -1 | awk '{print $2}')
  last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  result=clean
  if [ "$status" != 0 ]; then
    result=FAILED
    failed+=("$t")
  fi
  printf '%-15s %-7s %12s %9s %8s %8s %8s %s\n' "$t" "$result" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "${rss:--}" "${corp:--}"
done
if ((${#failed[@]})); then
  echo
  for t in "${failed[@]}"; do
    echo "fuzz: $t FAILED (exit $(cat "fuzz/logs/$t.status" 2>/dev/null || echo '?')); its report:"
    grep -E -A30 'panicked|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY' "fuzz/logs/$t.log" | head -60 || tail -40 "fuzz/logs/$t.log"
    ls "fuzz/artifacts/$t/" 2>/dev/null | sed "s|^|  fuzz/artifacts/$t/|"
  done
  echo "fuzz: reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run -a <target> fuzz/artifacts/<target>/<file>"
  exit 1
fi
echo "fuzz: ${#TARGETS[@]} target(s) ran ${SECS}s each without a crash"
