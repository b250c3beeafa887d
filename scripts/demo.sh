#!/usr/bin/env bash
# The end-to-end demo run by `./leukocrypt.sh demo`: each step is a plain `leukocrypt` command, so a
# user can rerun any of them by hand. Arguments: <leukocrypt binary> <data dir> <repo root>.
# Environment: LEUKOCRYPT_DEMO_DIR (outputs, default <repo>/demo-out), LEUKOCRYPT_DEMO_MODEL
# (default models/cnmc-x2.lcm, trained on patient groups A+B).
set -euo pipefail
LC="$1"; DATA="$2"; ROOT="$3"
OUT="${LEUKOCRYPT_DEMO_DIR:-$ROOT/demo-out}"
MODEL="${LEUKOCRYPT_DEMO_MODEL:-$ROOT/models/cnmc-x2.lcm}"
export OMP_WAIT_POLICY=passive
mkdir -p "$OUT"
step() { printf '\n\033[1m--- %s\033[0m\n$ %s\n' "$1" "${*:2}" >&2; "${@:2}"; }

splits=()
[ -f "$DATA/SPLITS.tsv" ] && splits=(--splits "$DATA/SPLITS.tsv")
step "1. Prepare the cells: crop, resize to 32x32 RGB, patient-disjoint split (test = last group)" \
  "$LC" prepare --input "$DATA" --out "$OUT/cnmc32" --split patient "${splits[@]}" --force

if [ ! -f "$MODEL" ]; then
  echo "demo: no trained model at $MODEL; training a short one (10 epochs) instead" >&2
  step "1b. Train a short x² model on the training side" \
    "$LC" train --data "$OUT/cnmc32" --variant x2 --protocol split --epochs 10 --out "$OUT/train"
  MODEL="$(find "$OUT/train" -name '*.lcm' | head -n 1)"
  [ -n "$MODEL" ] || { echo "demo: training wrote no model" >&2; exit 1; }
fi

step "2. The model in plain integers (the raw simulation the encrypted result must equal)" \
  "$LC" eval --model "$MODEL" --data "$OUT/cnmc32" --split test --mode raw --show 0

step "3. Choose 128-bit BFV parameters: raw simulation + worst-case bound over any input" \
  "$LC" params --model "$MODEL" --data "$OUT/cnmc32" --split train --memory-gb 16 --out "$OUT/params.json"

step "4. Encrypted screening of the held-out patient group (keys, encrypt, infer, decrypt)" \
  "$LC" eval --model "$MODEL" --data "$OUT/cnmc32" --split test --mode encrypted \
  --params "$OUT/params.json" --show 20

printf '\n\033[1mDemo finished.\033[0m Outputs in %s\n' "$OUT" >&2
cat >&2 <<MSG
The provider's HTTP service (keygen, serve, screen) is described in docs/API.md. A full 32x32 C-NMC
batch is about 5 GB of seeded ciphertexts, which the service does not yet accept in one upload, so
the demo runs the encrypted screening in one process (step 4).
MSG
