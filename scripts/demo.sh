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

# 5-7. The same through the provider's HTTP service on loopback, as a clinic would use it.
# `leukocrypt screen` is the key holder's whole round trip: encrypt a few input values at a time into
# a temporary file in $W, stream it to the server (one 32x32 batch is ~4.6 GB whatever the number of
# cells), wait, download the encrypted logits, decrypt. The server streams the upload to disk and
# reads the ciphertexts back from there, so neither side holds the request in memory.
W="$OUT/service"
rm -rf "$W"; mkdir -p "$W"
printf 'demo %s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$W/tokens.txt"
chmod 600 "$W/tokens.txt"
export LEUKOCRYPT_TOKEN="$(awk '$1 == "demo" {print $2}' "$W/tokens.txt")"
printf '\n\033[1m--- 5. Start the screening service on 127.0.0.1 (it holds no secret key)\033[0m\n' >&2
"$LC" serve --model "$MODEL" --params "$OUT/params.json" --tokens "$W/tokens.txt" --db "$W/jobs.db" \
  --host 127.0.0.1 --port 0 --port-file "$W/port" --max-request-mb 8192 > "$W/serve.log" 2>&1 &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -f "$W"/leukocrypt-request-*
}
trap cleanup EXIT
for _ in $(seq 300); do [ -s "$W/port" ] && break; kill -0 "$SERVER" 2>/dev/null || break; sleep 0.2; done
[ -s "$W/port" ] || { echo "demo: the service did not start:" >&2; cat "$W/serve.log" >&2; exit 1; }
URL="http://127.0.0.1:$(cat "$W/port")"
echo "service listening at $URL (log: $W/serve.log)" >&2
step "6. Key holder: the model card, then keys for its parameters (secret.key stays here, mode 0600)" \
  curl -sS -f -H "Authorization: Bearer $LEUKOCRYPT_TOKEN" -o "$W/model.json" "$URL/v1/model"
"$LC" keygen --params "$W/model.json" --out "$W/keys" --force
step "7. Key holder: screen the held-out group through the service (encrypt, upload, wait, download, decrypt)" \
  "$LC" screen --server "$URL" --keys "$W/keys" --data "$OUT/cnmc32" --split test --work-dir "$W"
peak_kb="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || true)"
[ -n "$peak_kb" ] && echo "service peak memory (VmHWM): $((peak_kb / 1024)) MiB" >&2

# 8-10. One patient's sample (a couple of dozen cells; the test split lists its cells patient by patient,
# so the first 20 are all of subject 23 on the shipped fold) in the latency layout: each cell's pixels in the
# slots of one ciphertext, 4 cells per ciphertext, rotations with Galois keys. Parameters chosen for
# that size (params picks the layout by estimated end-to-end time), a second service on them, keys
# with Galois keys (registered once), then the screening: megabytes instead of a full batch.
# 20 cells: params picks N = 16384 (4 cells per ciphertext, eval.key 1.15 GB); at 30 it picks
# N = 32768 (8 per ciphertext) whose eval.key is 2.0 GB and whose keygen + screen peak at ~8 GB
# resident: measured 33 s vs 66 s for steps 9-10 (keys registered included, load ~7).
FEW="${LEUKOCRYPT_DEMO_FEW_CELLS:-20}"
step "8. Parameters for $FEW cells: the chooser compares both layouts (end-to-end estimate at 100 Mbit/s)" \
  "$LC" params --model "$MODEL" --data "$OUT/cnmc32" --split train --limit 64 --cells "$FEW" \
  --memory-gb 16 --out "$OUT/params-latency.json"
# --max-key-mb: the eval.key with 38 seeded Galois keys x 4 plaintext primes is ~1.15 GB, above
# serve's default key limit (1 GiB, 413 beyond).
"$LC" serve --model "$MODEL" --params "$OUT/params-latency.json" --tokens "$W/tokens.txt" --db "$W/jobs-latency.db" \
  --host 127.0.0.1 --port 0 --port-file "$W/port-latency" --max-request-mb 8192 --max-key-mb 8192 \
  > "$W/serve-latency.log" 2>&1 &
SERVER2=$!
trap 'kill "$SERVER2" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 300); do [ -s "$W/port-latency" ] && break; kill -0 "$SERVER2" 2>/dev/null || break; sleep 0.2; done
[ -s "$W/port-latency" ] || { echo "demo: the second service did not start:" >&2; cat "$W/serve-latency.log" >&2; exit 1; }
URL2="http://127.0.0.1:$(cat "$W/port-latency")"
step "9. Key holder: keys for the latency parameters (eval.key carries the Galois keys of the card's rotation steps)" \
  curl -sS -f -H "Authorization: Bearer $LEUKOCRYPT_TOKEN" -o "$W/model-latency.json" "$URL2/v1/model"
"$LC" keygen --params "$W/model-latency.json" --out "$W/keys-latency" --force
step "10. Key holder: screen one patient's first $FEW held-out cells in the latency layout" \
  "$LC" screen --server "$URL2" --keys "$W/keys-latency" --data "$OUT/cnmc32" --split test --limit "$FEW" \
  --layout latency --work-dir "$W"

printf '\n\033[1mDemo finished.\033[0m Outputs in %s\n' "$OUT" >&2
