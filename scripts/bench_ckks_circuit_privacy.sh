#!/usr/bin/env bash
# What CKKS circuit privacy costs on C-NMC group C (cnmc-x2, 1,198 cells): the provider's side with
# the chooser's flood (`params --scheme ckks`, the wide scale chain of nn/ckks_circuit_privacy.h,
# results re-randomised and flooded) against the chooser's set without it (--no-circuit-privacy),
# at the same target. Each variant has its own parameters, keys and request (made once); the runs
# alternate whole-process `infer` timings (wall and CPU = user + sys seconds, peak RSS, the
# circuit_privacy stage). Then one decrypt each: labels against the float model, largest logit
# error against the parameters' prediction.
# Usage: bench_ckks_circuit_privacy.sh [WORKDIR [RUNS [TARGET_ERROR]]] (defaults /tmp/lc-ckks-cp-bench,
# 3, 1e-3). Keys and requests are reused when WORKDIR holds them (~1.4 GB per request).
set -eu
LC=${LC:-build/apps/leukocrypt/leukocrypt}; LC=$(realpath $LC)
SRC=$(pwd)
DATA=${LEUKOCRYPT_DATA_DIR:-/work/shared/data}
W=${1:-/tmp/lc-ckks-cp-bench}; RUNS=${2:-3}; TARGET=${3:-1e-3}; mkdir -p $W
cd $W
M=$SRC/models/cnmc-x2.lcm
[ -d cnmc32 ] || $LC prepare --input $DATA/cnmc-fold1-225 --out cnmc32 --split patient --splits $DATA/cnmc-fold1-225/SPLITS.tsv --json > prepare.json
[ -f float.json ] || $LC eval --mode float --model $M --data cnmc32 --split C --json > float.json
for v in cp nocp; do
  flag=""; [ $v = nocp ] && flag=--no-circuit-privacy
  if [ ! -f req-$v.lcx ]; then
    $LC params --scheme ckks --layout throughput --model $M --data cnmc32 --split C --target-error $TARGET $flag --out params-$v.json > params-$v.out
    $LC keygen --params params-$v.json --out keys-$v --force --json > keygen-$v.json
    $LC encrypt --keys keys-$v --data cnmc32 --split C --out req-$v.lcx --json > enc-$v.json
  fi
done
for r in $(seq 1 $RUNS); do
  for v in cp nocp; do
    flag=""; [ $v = nocp ] && flag=--no-circuit-privacy
    uptime > load-$v-$r.txt
    /usr/bin/time -f "%e %U %S %M" -o time-$v-$r.txt $LC infer --model $M --params params-$v.json --eval-key keys-$v/eval.key \
      --in req-$v.lcx --out res-$v.lcx --json $flag > infer-$v-$r.json
  done
done
for v in cp nocp; do $LC decrypt --scheme ckks --keys keys-$v --in res-$v.lcx --json > dec-$v.json; done
python3 - $RUNS <<'PY'
import json, math, statistics, sys
runs = int(sys.argv[1])
def times(v): return [list(map(float, open(f"time-{v}-{r}.txt").read().split())) for r in range(1, runs + 1)]
fl = {c["source"]: c for c in json.load(open("float.json"))["cells"]}
med = {}
for v in ("cp", "nocp"):
    t = times(v)
    p = json.load(open(f"params-{v}.json"))["ckks"]
    st = [round(json.load(open(f"infer-{v}-{r}.json"))["stages"].get("circuit_privacy", 0), 3) for r in range(1, runs + 1)]
    med[v] = statistics.median(x[0] for x in t)
    d = json.load(open(f"dec-{v}.json"))["cells"]
    agree = sum(c["class"] == fl[c["cell"]]["predicted"] for c in d)
    margin = lambda q: math.log(q / (1 - q))
    err = max(abs(margin(c["probability"]) - margin(fl[c["cell"]]["probability"])) for c in d)
    print(json.dumps({"variant": v, "n": p["params"]["n"], "primes": len(p["params"]["q"]),
                      "flood_bits": p["circuit_privacy"].get("flood_bits"), "predicted_logit_error": p["predicted_logit_error"],
                      "wall_s": [x[0] for x in t], "wall_median_s": med[v],
                      "cpu_median_s": statistics.median(x[1] + x[2] for x in t),
                      "peak_mib_median": statistics.median(x[3] for x in t) / 1024, "circuit_privacy_stage_s": st,
                      "request_bytes": json.load(open(f"enc-{v}.json"))["bytes"],
                      "argmax_vs_float": f"{agree}/{len(d)}", "largest_margin_error": err}))
print(json.dumps({"ratio_cp_over_nocp_wall": round(med["cp"] / med["nocp"], 3)}))
PY
echo finished
