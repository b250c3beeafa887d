#!/usr/bin/env bash
# The end-to-end demo run by `./leukocrypt.sh demo`: each step is a plain `leukocrypt` command,
# so a user can rerun any of them by hand. Arguments: <leukocrypt binary> <data dir> <repo root>.
set -euo pipefail
LC="$1"; DATA="$2"; ROOT="$3"
OUT="${LEUKOCRYPT_DEMO_DIR:-$ROOT/demo-out}"
mkdir -p "$OUT"
step() { printf '\n\033[1m--- %s\033[0m\n$ %s\n' "$1" "${*:2}" >&2; "${@:2}"; }

splits=()
[ -f "$DATA/SPLITS.tsv" ] && splits=(--splits "$DATA/SPLITS.tsv")
step "1. Prepare C-NMC cells into 32x32 datasets (patient-disjoint split)" \
  "$LC" prepare --input "$DATA" --out "$OUT/cnmc32" --split patient "${splits[@]}" --force
