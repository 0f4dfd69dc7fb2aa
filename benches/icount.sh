#!/usr/bin/env bash
# Instructions per operation on the calling thread, under callgrind (deterministic, unlike
# wall-clock time on a shared machine): runs benches/icount.rs with N=10,000 and N=20,000 for
# each mode and prints (total(20,000) - total(10,000)) / 10,000. Needs valgrind.
#
#   benches/icount.sh                 # the table of docs/BENCHMARKS.md
#   benches/icount.sh log slog        # chosen modes (see benches/icount.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/callgrind.sh
callgrind_bench icount
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(floor event tracing_noop disabled tracing_disabled in_span
  tracing_noop_in_span enter_exit tracing_enter_exit tracing_sole log slog)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
total() {
  callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
printf '| %-22s | %12s |\n' mode instructions
printf '| %-22s | %12s |\n' '---' '---:'
for mode in "${modes[@]}"; do
  case $mode in
    enter_exit) toggle='icount::enter_exit' ;;
    tracing_enter_exit) toggle='icount::tracing_enter_exit' ;;
    *) toggle='icount::*events*' ;;
  esac
  for n in 10000 20000; do
    N=$n MODE=$mode valgrind --tool=callgrind --collect-atstart=no --toggle-collect="$toggle" \
      --callgrind-out-file="$out/$mode.$n" "$bin" >/dev/null 2>&1
  done
  a=$(total "$out/$mode.10000")
  b=$(total "$out/$mode.20000")
  printf '| %-22s | %12s |\n' "$mode" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", (b - a) / 10000 }')"
done
