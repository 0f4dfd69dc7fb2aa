# Sourced by benches/icount.sh and benches/consumer_icount.sh, not run on its own.
#
# callgrind_bench NAME: checks that valgrind is there, builds the bench target NAME
# (benches/NAME.rs) in the bench profile and sets `bin` to its executable; exits with 2 and a
# message naming the calling script otherwise.
callgrind_bench() {
  local name=$1 script
  script=$(basename "$0")
  command -v valgrind >/dev/null || { echo "$script: valgrind is not installed" >&2; exit 2; }
  bin=$(cargo bench --bench "$name" --no-run --message-format=json 2>/dev/null |
    sed -n "s/.*\"executable\":\"\([^\"]*\/$name-[^\"]*\)\".*/\1/p" | tail -1)
  [ -x "$bin" ] || { echo "$script: could not build benches/$name.rs" >&2; exit 2; }
}
