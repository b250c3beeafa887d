#!/usr/bin/env bash
# Whole-process wall time of `leukocrypt prepare` over the 3,581 cells of cnmc-fold1-225,
# repeated; prints every run and the median / min / max.
# Usage: bench/data/prepare_bench.sh <leukocrypt binary> [runs=7] [threads=2] [data dir]
set -euo pipefail
LC="${1:?usage: prepare_bench.sh <leukocrypt binary> [runs] [threads] [data dir]}"
RUNS="${2:-7}"; THREADS="${3:-2}"
DATA="${4:-${LEUKOCRYPT_DATA_DIR:-$(dirname "$0")/../../../shared/data}}/cnmc-fold1-225"
OUT="$(mktemp -d)"; trap 'rm -rf "$OUT"' EXIT
cmd=("$LC" prepare --input "$DATA" --out "$OUT/ds" --splits "$DATA/SPLITS.tsv" --force --json)
echo "command: LEUKOCRYPT_THREADS=$THREADS ${cmd[*]}"
LEUKOCRYPT_THREADS=$THREADS "${cmd[@]}" >/dev/null  # warm the page cache
times=(); cpus=()
TIMEFORMAT='%R %U %S'
for i in $(seq "$RUNS"); do
  r=$( { time LEUKOCRYPT_THREADS=$THREADS LEUKOCRYPT_NO_PROGRESS=1 "${cmd[@]}" >/dev/null 2>&1; } 2>&1 )
  read -r wall user sys <<<"$r"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
  times+=("$wall"); cpus+=("$cpu")
  printf 'run %d: wall %s s  cpu (user+sys) %s s\n' "$i" "$wall" "$cpu"
done
stats() { sort -g | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
  printf "median %.3f s  min %.3f s  max %.3f s\n", m, a[1], a[NR]}'; }
echo "wall ($RUNS runs):            $(printf '%s\n' "${times[@]}" | stats)"
echo "cpu user+sys ($RUNS runs):    $(printf '%s\n' "${cpus[@]}" | stats)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  cores: $(nproc)"
