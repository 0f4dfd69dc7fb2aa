#!/usr/bin/env bash
# Instructions per event on the background threads (the consumer, and a sink's own threads
# if it has any) of the suite's end-to-end cases, under callgrind: runs the case with
# N=150,000 and N=300,000 events and prints (total(300,000) - total(150,000)) / 150,000 of
# everything the process's spawned threads executed, so start-up and calibration cancel out
# (both beyond the flight recorder's default 100,000 events, so its evictions are counted).
# Needs valgrind. The cases are those of benches/suite.rs (an unknown one makes the
# suite binary exit with an error, reported here).
#
#   benches/consumer_icount.sh                       # ttlog_json ttlog_file ttlog_recorder
#   benches/consumer_icount.sh ttlog_via_tracing     # chosen cases
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/callgrind.sh
callgrind_bench suite
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(ttlog_json ttlog_file ttlog_recorder)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The inclusive cost of glibc's start_thread: every thread the process spawned.
threads() {
  callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
    awk '/pthread_create.c:start_thread / && !done { gsub(",", "", $1); print $1; done = 1 }'
}
printf '| %-22s | %30s |\n' case 'background instructions per event'
printf '| %-22s | %30s |\n' '---' '---:'
for case in "${cases[@]}"; do
  for n in 150000 300000; do
    (cd "$out" && TTLOG_SUITE_CASE=$case TTLOG_SUITE_PART=e2e TTLOG_SUITE_EVENTS=$n \
      valgrind --tool=callgrind --callgrind-out-file="$out/$case.$n" "$bin" --bench >/dev/null 2>&1) ||
      { echo "consumer_icount.sh: case $case failed" >&2; exit 1; }
  done
  a=$(threads "$out/$case.150000")
  b=$(threads "$out/$case.300000")
  printf '| %-22s | %30s |\n' "$case" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 150000 }')"
done
