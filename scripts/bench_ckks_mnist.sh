#!/usr/bin/env bash
# MNIST 8,192 test digits on the CKKS throughput layout, the provider's side as the service runs it
# (docs/benchmarks/ckks-e2e.md, issue 12's "server side"): params (--scheme ckks, throughput,
# --no-circuit-privacy: no CKKS set carries the flood), keygen and encrypt once, then REPEATS runs of
# `infer` (whole process timed; its `evaluate_wall` stage is the evaluation alone: the request's
# ciphertexts loaded from disk, the network, the results), and one decrypt. One JSON line per run.
# Arguments: <leukocrypt binary> <MNIST folder> <repo root>. Env: REPEATS (default 3), KEEP_DIR.
set -euo pipefail
LC="$1"; DATA="$2"; ROOT="$3"; REPEATS="${REPEATS:-3}"
MODEL="$ROOT/models/mnist-cryptonets.lcm"
W="${KEEP_DIR:-$(mktemp -d)}"; mkdir -p "$W"; trap '[ -n "${KEEP_DIR:-}" ] || rm -rf "$W"' EXIT
"$LC" params --scheme ckks --model "$MODEL" --data "$DATA" --split test --limit 256 --layout throughput \
  --no-circuit-privacy --out "$W/params.json" > /dev/null
"$LC" card --model "$MODEL" --params "$W/params.json" --no-circuit-privacy > "$W/model.json"  # the card says the input shape
rm -rf "$W/keys"
"$LC" keygen --params "$W/model.json" --out "$W/keys" --json > "$W/keys.json"
"$LC" encrypt --keys "$W/keys" --data "$DATA" --split test --limit 8192 --out "$W/req.lcx" --json > "$W/enc.json"
for r in $(seq "$REPEATS"); do
  /usr/bin/time -f '%e %U %S %M' -o "$W/time.txt" "$LC" infer --model "$MODEL" --eval-key "$W/keys/eval.key" \
    --in "$W/req.lcx" --out "$W/res.lcx" --no-circuit-privacy --json > "$W/infer.json"
  python3 - "$r" "$W" <<'PY'
import json, sys
r, w = int(sys.argv[1]), sys.argv[2]
i = json.load(open(f"{w}/infer.json")); e = json.load(open(f"{w}/enc.json")); k = json.load(open(f"{w}/keys.json"))
wall, user, sys_, rss = open(f"{w}/time.txt").read().split()
p = k["settings"]["params"]
print(json.dumps({"run": r, "n": p["n"], "q_bits": [round(__import__("math").log2(q), 1) for q in p["q"]],
  "bytes_sent": e["bytes"], "bytes_received": i["result_bytes"], "encrypt_s": e["encrypt_seconds"],
  "stages": {k2: round(v, 3) for k2, v in i["stages"].items() if isinstance(v, (int, float))},
  "infer_wall_s": float(wall), "infer_user_s": float(user), "infer_sys_s": float(sys_), "infer_peak_mib": int(rss) // 1024}))
PY
done
"$LC" decrypt --keys "$W/keys" --in "$W/res.lcx" --json > "$W/dec.json"
python3 -c "import json,sys; d=json.load(open('$W/dec.json')); print(json.dumps({'decrypted_cells': len(d['cells'])}))"
