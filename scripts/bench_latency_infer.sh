#!/usr/bin/env bash
# The latency layout offline, BFV next to CKKS (docs/benchmarks/ckks-e2e.md): per scheme, parameters
# chosen for the latency layout and PARAMS_CELLS cells (default 1), keygen once, then for each cell
# count REPEATS rounds of encrypt -> infer -> decrypt (the provider's whole `infer` process timed,
# and its own stages: key loading + diagonal encoding apart from the evaluation). One JSON line per
# run. Circuit privacy off for both (CKKS has none). Arguments: <leukocrypt binary> <prepared
# dataset> <repo root> [cell counts, default "1 100"] [schemes, default "ckks bfv"].
# Env: REPEATS (default 3), MODEL, PARAMS_CELLS, KEEP_DIR (work there and keep it).
set -euo pipefail
LC="$1"; DATA="$2"; ROOT="$3"; COUNTS="${4:-1 100}"; SCHEMES="${5:-ckks bfv}"
REPEATS="${REPEATS:-3}"
MODEL="${MODEL:-$ROOT/models/cnmc-x2.lcm}"
W="${KEEP_DIR:-$(mktemp -d)}"; mkdir -p "$W"; trap '[ -n "${KEEP_DIR:-}" ] || rm -rf "$W"' EXIT
for scheme in $SCHEMES; do
  "$LC" params --scheme "$scheme" --model "$MODEL" --data "$DATA" --split train --limit 64 --layout latency \
    --cells "${PARAMS_CELLS:-1}" --no-circuit-privacy --out "$W/$scheme.json" > /dev/null
  rm -rf "$W/$scheme-keys"
  "$LC" keygen --params "$W/$scheme.json" --out "$W/$scheme-keys" --json > "$W/$scheme-keys.json"
  for n in $COUNTS; do
    for r in $(seq "$REPEATS"); do
      "$LC" encrypt --keys "$W/$scheme-keys" --data "$DATA" --split C --limit "$n" --out "$W/req.lcx" --json > "$W/enc.json"
      /usr/bin/time -f '%e %M' -o "$W/time.txt" "$LC" infer --model "$MODEL" --eval-key "$W/$scheme-keys/eval.key" \
        --in "$W/req.lcx" --out "$W/res.lcx" --no-circuit-privacy --json > "$W/infer.json"
      "$LC" decrypt --keys "$W/$scheme-keys" --in "$W/res.lcx" --json > "$W/dec.json"
      python3 - "$scheme" "$n" "$r" "$W" <<'PY'
import json, sys
scheme, n, r, w = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
e = json.load(open(f"{w}/enc.json")); i = json.load(open(f"{w}/infer.json")); d = json.load(open(f"{w}/dec.json"))
k = json.load(open(f"{w}/{scheme}-keys.json"))
wall, rss = open(f"{w}/time.txt").read().split()
st = i["stages"]
print(json.dumps({"scheme": scheme, "cells": n, "run": r, "n": k["settings"]["params"]["n"] if scheme == "ckks" else k["settings"]["n"],
  "eval_key_bytes": k["bytes"]["eval.key"], "bytes_sent": e["bytes"], "bytes_received": i["result_bytes"],
  "encrypt_s": e["encrypt_seconds"], "server_evaluate_s": st["evaluate_wall"],
  "server_keys_s": st.get("load_keys_and_diagonals", 0), "infer_process_s": float(wall),
  "infer_peak_mib": int(rss) // 1024, "decrypted_cells": len(d["cells"])}))
PY
    done
  done
done
