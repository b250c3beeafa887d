#!/usr/bin/env bash
# Latency vs throughput layout through the local HTTP service (docs/benchmarks/nn.md): one server,
# one key (parameters chosen for the latency layout carry both), `screen` for each cell count and
# layout, REPEATS runs each; prints one JSON line per run (bytes, key holder / server / end-to-end
# seconds, server peak memory). Arguments: <leukocrypt binary> <prepared dataset> <repo root>
# [cell counts, default "1 10 100 1198"] [layouts, default "latency throughput"].
# Env: REPEATS (default 3), MODEL, PARAMS_CELLS (the cell count `params` chooses the parameters
# for, default 1), KEEP_DIR (work in this folder and keep it: server log, keys), SPLIT (the cells
# screened, default C) and PARAMS_SPLIT (the raw simulation's, default train): MNIST is
# MODEL=models/mnist-cryptonets.lcm, the MNIST folder as the dataset, SPLIT=test PARAMS_SPLIT=test.
# SCHEME (bfv, the default, or ckks: `params --scheme ckks`; CKKS parameters serve only the layout
# they were chosen for, so give LAYOUTS=latency or throughput, and CKKS latency parameters carry no
# flood: PRIVACY=off). PARAMS_LAYOUT (the layout `params` chooses for, default latency; throughput
# for a group-sized batch) and PRIVACY=off (params and serve with --no-circuit-privacy, to measure
# what privacy costs).
# PARAMS_FLAGS: more `params` options, e.g. "--special-primes 1" (one special prime, as before
# hybrid key switching).
set -euo pipefail
LC="$1"; DATA="$2"; ROOT="$3"; COUNTS="${4:-1 10 100 1198}"; LAYOUTS="${5:-latency throughput}"
REPEATS="${REPEATS:-3}"
MODEL="${MODEL:-$ROOT/models/cnmc-x2.lcm}"
W="${KEEP_DIR:-$(mktemp -d)}"; mkdir -p "$W"; trap 'kill "$SERVER" 2>/dev/null || true; [ -n "${KEEP_DIR:-}" ] || rm -rf "$W"' EXIT
SCHEME="${SCHEME:-bfv}"
SERVE_FLAGS=(); [ "${PRIVACY:-on}" = off ] && SERVE_FLAGS=(--no-circuit-privacy)
"$LC" params --scheme "$SCHEME" --model "$MODEL" --data "$DATA" --split "${PARAMS_SPLIT:-train}" --limit 64 \
  --layout "${PARAMS_LAYOUT:-latency}" --cells "${PARAMS_CELLS:-1}" --memory-gb 16 "${SERVE_FLAGS[@]}" ${PARAMS_FLAGS:-} --out "$W/params.json" > /dev/null
printf 'bench %s\n' "bench-token-0123456789abcdef" > "$W/tokens.txt"
printf '%s\n' "bench-token-0123456789abcdef" > "$W/token"
chmod 600 "$W/tokens.txt" "$W/token"  # serve and screen refuse token files others can read
rm -f "$W/port"  # a kept folder's old port file would be read before the new server writes its own
export LEUKOCRYPT_SERVE_BIN="${LEUKOCRYPT_SERVE_BIN:-$(dirname "$LC")/leukocrypt-serve}"
"$LC" serve --model "$MODEL" --params "$W/params.json" --tokens "$W/tokens.txt" --db "$W/jobs.db" \
  --host 127.0.0.1 --port 0 --port-file "$W/port" --max-request-mb 8192 --max-key-mb 8192 "${SERVE_FLAGS[@]}" \
  > "$W/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 300); do [ -s "$W/port" ] && break; sleep 0.2; done
URL="http://127.0.0.1:$(cat "$W/port")"
curl -sS -f -H "Authorization: Bearer bench-token-0123456789abcdef" -o "$W/model.json" "$URL/v1/model"
/usr/bin/time -f '{"keygen_seconds": %e}' "$LC" keygen --params "$W/model.json" --out "$W/keys" --force --json 2>&1 |
  python3 -c 'import json,sys; t=sys.stdin.read(); print(t.strip().replace("\n"," "))'
for layout in $LAYOUTS; do
  for n in $COUNTS; do
    for r in $(seq "$REPEATS"); do
      "$LC" screen --server "$URL" --token-file "$W/token" --keys "$W/keys" --data "$DATA" \
        --split "${SPLIT:-C}" --limit "$n" --layout "$layout" --work-dir "$W" --json --timeout 7200 |
        python3 -c '
import json, sys
j = json.load(sys.stdin); s = j["seconds"]
print(json.dumps({"layout": j["layout"], "cells": len(j["cells"]), "run": '"$r"',
  "bytes_request": j["bytes_request"], "bytes_received": j["bytes_received"],
  "eval_key_bytes": j["bytes_eval_key"], "eval_key_uploaded": j["eval_key_uploaded"],
  "encrypt_s": s["encrypt"], "upload_s": s["upload"], "server_wait_s": s["server_wait"],
  "download_s": s["download"], "decrypt_s": s["decrypt"], "total_s": s["total"],
  "server_timings": j["server_timings"]}))'
      echo "{\"server_peak_mib\": $(( $(awk '/VmHWM/ {print $2}' /proc/$SERVER/status) / 1024 ))}"
    done
  done
done
