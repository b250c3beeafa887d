#!/usr/bin/env bash
# ci_expected_suites MISSING: MISSING is the newline-separated list of test suites CMake left out
# for lack of an optional dependency; the real-data folder is checked here, at run time. Exit 0
# when nothing is missing; otherwise list it and fail under CI=true (exit 1), else skip (exit 77).
set -u
missing="$1"
data="${LEUKOCRYPT_DATA_DIR:-}"
for d in cnmc-fold1-225 mnist all-idb2; do
  [ -n "$data" ] && [ -d "$data/$d" ] && continue
  missing+=$'\n'"real data '$d' (LEUKOCRYPT_DATA_DIR='$data'): the tests that read it would fail or be skipped"
done
missing="$(sed '/^$/d' <<<"$missing")"
if [ -z "$missing" ]; then
  echo "every expected test suite is configured"
  exit 0
fi
echo "test suites left out of this build:"
sed 's/^/  - /' <<<"$missing"
if [ "${CI:-}" = true ] || [ "${CI:-}" = 1 ]; then
  echo "CI=${CI}: a missing suite is a failure (install the dependency, or fix the configuration)" >&2
  exit 1
fi
exit 77
