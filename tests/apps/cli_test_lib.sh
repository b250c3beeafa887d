# Shared by the CLI shell tests (sourced, not run): failing with a message, checking that a
# command fails with one clear line, a working folder cleaned up at exit with the servers the test
# started, and preparing the C-NMC cells the data tests run on.

fail() { echo "FAIL: $*" >&2; exit 1; }

one_line_error() {  # <what> <expected text> <command...>: exit 1, one line, the text in it
  local what="$1" text="$2"; shift 2
  out=$("$@" 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "$what: exit $rc: $out"
  grep -qF -- "$text" <<<"$out" || fail "$what: message: $out"
  [ "$(wc -l <<<"$out")" -eq 1 ] || fail "$what: not one line: $out"
}

prepare_cnmc32() {  # <cli> <data dir>: C-NMC fold 1 at 32x32, split by patient, into ./cnmc32
  "$1" prepare --input "$2/cnmc-fold1-225" --out cnmc32 --split patient \
      --splits "$2/cnmc-fold1-225/SPLITS.tsv" --json > /dev/null 2>&1 || fail "prepare"
}

# Makes and enters a temporary folder ($work); at exit the processes whose pids the test appended
# to `pids` (servers) are stopped and the folder removed.
enter_work_dir() {
  work=$(mktemp -d); pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
  cd "$work" || fail "cd $work"
}
