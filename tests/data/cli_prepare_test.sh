#!/usr/bin/env bash
# `leukocrypt prepare` as a user runs it: exit codes (0 ok, 1 error, 2 usage), one-line errors
# naming the bad file, --json, --skip-bad, --force, and no partial output after a failure.
# Usage: cli_prepare_test.sh <leukocrypt binary> <data dir>
set -u
LC="$1"; DATA="$2"
TMP="$(mktemp -d)"; trap 'rm -rf "$TMP"' EXIT
export LEUKOCRYPT_NO_PROGRESS=1
fail=0
check() {  # check <name> <expected rc> <command...>
  local name="$1" want="$2"; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL $name: exit $rc, expected $want"; cat "$TMP/err"; fail=1
  else
    echo "ok   $name (exit $rc)"
  fi
}

mkdir -p "$TMP/in/all" "$TMP/in/hem"
for f in "$DATA"/cnmc-originals/*_all.bmp; do cp "$f" "$TMP/in/all/"; done
for f in "$DATA"/cnmc-originals/*_hem.bmp; do cp "$f" "$TMP/in/hem/"; done

check help 0 "$LC" prepare --help
check missing-input 2 "$LC" prepare --out "$TMP/x"
check bad-split 1 "$LC" prepare --input "$TMP/in" --out "$TMP/x" --split kfold
check bad-window 1 "$LC" prepare --input "$TMP/in" --out "$TMP/x" --window 1.5
check no-such-input 1 "$LC" prepare --input "$TMP/nope" --out "$TMP/x"

check good-json 0 "$LC" prepare --input "$TMP/in" --out "$TMP/ds" --json
grep -q '"total": 12' "$TMP/out" || { echo "FAIL good-json: no total 12 in --json output"; fail=1; }
[ -f "$TMP/ds/dataset.json" ] && [ -f "$TMP/ds/train.tsv" ] || { echo "FAIL good-json: dataset files missing"; fail=1; }
check exists-no-force 1 "$LC" prepare --input "$TMP/in" --out "$TMP/ds"
check exists-force 0 "$LC" prepare --input "$TMP/in" --out "$TMP/ds" --force --split random --seed 5

# A truncated real image: error naming the file, one line, no output folder, no temp folder.
head -c 5000 "$DATA/cnmc-originals/UID_H10_100_1_hem.bmp" > "$TMP/in/hem/UID_H10_100_1_hem.bmp"
check corrupt 1 "$LC" prepare --input "$TMP/in" --out "$TMP/bad/ds"
grep -q 'UID_H10_100_1_hem.bmp' "$TMP/err" || { echo "FAIL corrupt: error does not name the file"; cat "$TMP/err"; fail=1; }
[ "$(grep -c 'leukocrypt: error' "$TMP/err")" -eq 1 ] || { echo "FAIL corrupt: not one error line"; fail=1; }
[ ! -e "$TMP/bad/ds" ] || { echo "FAIL corrupt: partial output left"; fail=1; }
[ -z "$(ls -A "$TMP/bad" 2>/dev/null)" ] || { echo "FAIL corrupt: temp folder left: $(ls -A "$TMP/bad")"; fail=1; }

check skip-bad 0 "$LC" prepare --input "$TMP/in" --out "$TMP/bad/ds" --skip-bad --json
grep -q '"skipped": 1' "$TMP/out" || { echo "FAIL skip-bad: skipped count not 1"; fail=1; }
grep -q 'skipped 1 bad' "$TMP/err" || { echo "FAIL skip-bad: no warning"; fail=1; }

# A file name without a subject id.
rm "$TMP/in/hem/UID_H10_100_1_hem.bmp"
cp "$DATA/cnmc-originals/UID_H10_100_2_hem.bmp" "$TMP/in/hem/cell.bmp"
check no-subject 1 "$LC" prepare --input "$TMP/in" --out "$TMP/y"
grep -q 'cell.bmp' "$TMP/err" || { echo "FAIL no-subject: error does not name the file"; fail=1; }

# An empty class folder.
mkdir -p "$TMP/empty/all" "$TMP/empty/hem"; cp "$DATA"/cnmc-originals/*_all.bmp "$TMP/empty/all/"
check empty-class 1 "$LC" prepare --input "$TMP/empty" --out "$TMP/z"
grep -q 'hem' "$TMP/err" || { echo "FAIL empty-class: error does not name the folder"; fail=1; }

check all-idb2 0 "$LC" prepare --input "$DATA/all-idb2" --layout all-idb2 --out "$TMP/idb2" --size 16
exit $fail
