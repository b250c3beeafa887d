#!/usr/bin/env bash
# Extra server time of CKKS circuit privacy (re-randomise + flood every result, nn/ckks_circuit_privacy.h)
# on C-NMC group C (cnmc-x2), whole-process infer timings, alternated: wall and CPU (user + sys) seconds
# per run, and the circuit_privacy stage. No CKKS parameter set can carry the 2^-40 flood
# (docs/API.md, Security), so the flooding run uses the same parameters with a hand-set flood of
# 2^10 per coefficient: the sanitiser's cost (one public-key encryption of zero, one NTT per prime
# and result ciphertext) does not depend on the flood's size.
# Usage: bench_ckks_circuit_privacy.sh [WORKDIR [RUNS [TARGET_ERROR]]]. Keys and the request are reused.
set -eu
LC=${LC:-build/apps/leukocrypt/leukocrypt}; LC=$(realpath $LC)
SRC=$(pwd)
W=${1:-/tmp/lc-ckks-cp-bench}; RUNS=${2:-3}; TARGET=${3:-2}; mkdir -p $W
cd $W
M=$SRC/models/cnmc-x2.lcm
[ -d cnmc32 ] || $LC prepare --input /work/shared/data/cnmc-fold1-225 --out cnmc32 --split patient --splits /work/shared/data/cnmc-fold1-225/SPLITS.tsv --json > prepare.json
if [ ! -f req.lcx ]; then
  $LC params --scheme ckks --model $M --data cnmc32 --split C --target-error $TARGET --no-circuit-privacy --out params-nocp.json > params.out
  python3 -c 'import json; p=json.load(open("params-nocp.json")); p["ckks"]["circuit_privacy"]={"enabled":True,"flood_bits":10,"result_ciphertexts_per_job":64}; json.dump(p, open("params-cp.json","w"))'
  $LC keygen --params params-nocp.json --out keys --force --json > keygen.json
  $LC encrypt --keys keys --data cnmc32 --split C --out req.lcx --json > enc.json
fi
for r in $(seq 1 $RUNS); do
  for v in cp nocp; do
    flag=""; [ $v = nocp ] && flag=--no-circuit-privacy
    uptime > load-$v-$r.txt
    /usr/bin/time -f "%e %U %S" -o time-$v-$r.txt $LC infer --model $M --params params-$v.json --eval-key keys/eval.key --in req.lcx --out res-$v.lcx --json $flag > infer-$v-$r.json
  done
done
for v in cp nocp; do $LC decrypt --scheme ckks --keys keys --in res-$v.lcx --json > dec-$v.json; done
python3 - $RUNS <<'PY'
import json, statistics, sys
runs = int(sys.argv[1])
def med(v, i): return statistics.median(float(open(f"time-{v}-{r}.txt").read().split()[i]) for r in range(1, runs + 1))
for v in ("cp", "nocp"):
    cpu = statistics.median(sum(map(float, open(f"time-{v}-{r}.txt").read().split()[1:])) for r in range(1, runs + 1))
    st = [json.load(open(f"infer-{v}-{r}.json"))["stages"].get("circuit_privacy", 0) for r in range(1, runs + 1)]
    print(f"{v}: wall {[open(f'time-{v}-{r}.txt').read().split()[0] for r in range(1, runs + 1)]} median {med(v, 0):.2f} s, "
          f"cpu median {cpu:.2f} s, circuit_privacy stage {st}")
print(f"ratio cp/nocp wall {med('cp', 0) / med('nocp', 0):.3f}")
a = [c["class"] for c in json.load(open("dec-cp.json"))["cells"]]; b = [c["class"] for c in json.load(open("dec-nocp.json"))["cells"]]
print(f"labels equal: {a == b} ({len(a)} cells)")
PY
echo finished
