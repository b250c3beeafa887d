#!/usr/bin/env bash
# `leukocrypt train|compare|export` are forwarded to leukocrypt-train; the main binary must not
# load libtorch. Checks help, usage errors (exit 2) and that a missing training binary is a clear
# one-line error (exit 1), not a crash.
set -u
CLI="$1"
fail() { echo "FAIL: $*" >&2; exit 1; }

if ldd "$CLI" | grep -q torch; then fail "the main binary links libtorch"; fi

out=$("$CLI" train --help 2>&1); rc=$?
[ $rc -eq 0 ] || fail "train --help exit $rc: $out"
grep -q -- "--variant" <<<"$out" || fail "train --help lacks --variant: $out"
grep -q "Usage: leukocrypt train" <<<"$out" || fail "train --help usage line: $out"

for cmd in compare export; do
  out=$("$CLI" $cmd --help 2>&1) || fail "$cmd --help: $out"
  grep -q "Usage: leukocrypt $cmd" <<<"$out" || fail "$cmd --help usage line: $out"
done

out=$("$CLI" export 2>&1); rc=$?
[ $rc -eq 2 ] || fail "export without --model: exit $rc (expected 2): $out"
grep -q -- "--model is required" <<<"$out" || fail "export without --model: $out"

out=$("$CLI" train --no-such-flag 2>&1); rc=$?
[ $rc -eq 2 ] || fail "train --no-such-flag: exit $rc (expected 2): $out"

# Out-of-range augmentation and first-convolution options are usage errors naming the option.
for bad in "--translate 0.9" "--rotation 400" "--conv1-stride 0" "--conv1-kernel 99"; do
  out=$("$CLI" train --data /nonexistent $bad 2>&1); rc=$?
  [ $rc -eq 2 ] || fail "train $bad: exit $rc (expected 2): $out"
  grep -q -- "${bad%% *}" <<<"$out" || fail "train $bad: message does not name the option: $out"
done

out=$(LEUKOCRYPT_TRAIN_BIN=/nonexistent/leukocrypt-train "$CLI" train --help 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing training binary: exit $rc (expected 1): $out"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "missing training binary: not one line: $out"
grep -q "cannot run the leukocrypt-train binary" <<<"$out" || fail "missing training binary message: $out"

echo "ok"
