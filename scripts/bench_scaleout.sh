#!/usr/bin/env bash
# bench_scaleout.sh MODEL PARAMS REQUEST KEYS_EVAL OUTDIR: scale-out throughput on one machine
# (docs/DEPLOY.md "Measurements"). Starts a throw-away PostgreSQL cluster (with_postgres.sh), one
# API node (`serve --workers 0`), registers KEYS_EVAL, then for each case starts W single-threaded
# workers (LEUKOCRYPT_THREADS=1), submits J copies of REQUEST, waits until every job is done and
# prints wall seconds, the workers' user CPU seconds (from /proc) and the load average:
#   throughput W=1 J=2, throughput W=2 J=4, split W=1 J=1, split W=2 J=1.
# Env: LEUKOCRYPT (default build/apps/leukocrypt/leukocrypt), EXTRA (e.g. --insecure-for-tests),
# CASES (default "throughput1 throughput2 split1 split2").
set -euo pipefail
model="$1" params="$2" request="$3" evalkey="$4" out="$5"
here="$(cd "$(dirname "$0")/.." && pwd)"
cli="${LEUKOCRYPT:-$here/build/apps/leukocrypt/leukocrypt}"
mkdir -p "$out"
if [ -z "${PGHOST:-}" ]; then
  exec bash "$here/tests/service/with_postgres.sh" bash "$0" "$@"
fi
psql_bin="$LEUKOCRYPT_TEST_PG_BINDIR/psql"
"$psql_bin" -d postgres -qc "CREATE DATABASE lc_bench" >/dev/null
db="postgresql:///lc_bench"
blobs="$out/blobs"
token="bench-token-0123456789"
printf 'bench %s\n' "$token" >"$out/tokens.txt"; chmod 600 "$out/tokens.txt"
"$cli" serve --model "$model" --params "$params" ${EXTRA:-} --db "$db" --blobs "$blobs" --tokens "$out/tokens.txt" \
  --workers 0 --port 0 --port-file "$out/port" --max-request-mb 8192 --max-key-mb 4096 --max-queued-per-client 64 \
  >"$out/api.log" 2>&1 &
api=$!
trap 'kill $api 2>/dev/null || true' EXIT
for _ in $(seq 600); do [ -s "$out/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$out/port")"
curl -sf -H "Authorization: Bearer $token" -X POST -T "$evalkey" -H 'Content-Type: application/octet-stream' \
  "$url/v1/keys" >/dev/null
queue() { curl -sf "$url/metrics" | awk '$1=="leukocrypt_queue_depth"{print $2}'; }
cpu_of() { awk '{print $14}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime, clock ticks
run_case() {  # name W J
  local name="$1" w="$2" j="$3" pids=() ticks=0
  for i in $(seq "$w"); do
    LEUKOCRYPT_THREADS=1 "$cli" worker --db "$db" --blobs "$blobs" --model "$model" --params "$params" ${EXTRA:-} \
      --id "$name-w$i" --poll-s 0.1 >"$out/$name-w$i.log" 2>&1 &
    pids+=($!)
  done
  sleep 3  # workers load the model before the clock starts
  local t0; t0=$(date +%s.%N)
  for i in $(seq "$j"); do
    curl -sf -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' -X POST -T "$request" \
      "$url/v1/jobs" >/dev/null
  done
  sleep 1
  while [ "$(queue)" != "0" ]; do sleep 0.5; done
  local t1; t1=$(date +%s.%N)
  for p in "${pids[@]}"; do ticks=$((ticks + $(cpu_of "$p"))); done
  for p in "${pids[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  printf '%s W=%s J=%s wall_s=%.1f workers_user_cpu_s=%.1f load="%s"\n' "$name" "$w" "$j" \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$ticks / $(getconf CLK_TCK)" | bc -l)" "$(cut -d' ' -f1-3 /proc/loadavg)" \
    | tee -a "$out/results.txt"
}
for c in ${CASES:-throughput1 throughput2 split1 split2}; do
  case "$c" in
    throughput1) run_case throughput1 1 2 ;;
    throughput2) run_case throughput2 2 4 ;;
    split1) run_case split1 1 1 ;;
    split2) run_case split2 2 1 ;;
  esac
  rm -f "$blobs"/*.request  # the copies of REQUEST (GBs each); results and rows stay
done
curl -sf "$url/metrics" >"$out/metrics.txt"
