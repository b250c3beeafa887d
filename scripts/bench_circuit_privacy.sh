#!/usr/bin/env bash
# Extra server time of circuit privacy on C-NMC group C (cnmc-x2 model), whole-process infer timings:
# wall and CPU (user + sys) seconds per run, alternated. Usage: bench_circuit_privacy.sh [WORKDIR [RUNS]].
# Keys and requests in WORKDIR are reused when present (delete it to start over).
set -eu
LC=${LC:-build/apps/leukocrypt/leukocrypt}; LC=$(realpath $LC)
SRC=$(pwd)
W=${1:-/tmp/lc-cp-bench}; RUNS=${2:-3}; mkdir -p $W
cd $W
[ -d cnmc32 ] || $LC prepare --input /work/shared/data/cnmc-fold1-225 --out cnmc32 --split patient --splits /work/shared/data/cnmc-fold1-225/SPLITS.tsv --json > prepare.json
$LC params --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --out params-cp.json --json > params-cp.out
$LC params --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --no-circuit-privacy --out params-nocp.json --json > params-nocp.out
for v in cp nocp; do
  cflag=""; [ $v = nocp ] && cflag=--no-circuit-privacy
  $LC card --model $SRC/models/cnmc-x2.lcm --params params-$v.json $cflag > card-$v.json
  [ -f req-$v.lcx ] && cmp -s card-$v.json keys-$v.card.json && continue
  $LC keygen --params card-$v.json --out keys-$v --force --json > keygen-$v.json
  $LC encrypt --keys keys-$v --data cnmc32 --split C --out req-$v.lcx --json > enc-$v.json
  cp card-$v.json keys-$v.card.json
done
for r in $(seq 1 $RUNS); do
  for v in cp nocp; do
    flag=""; [ $v = nocp ] && flag=--no-circuit-privacy
    /usr/bin/time -f "%e %U %S" -o time-$v-$r.txt $LC infer --model $SRC/models/cnmc-x2.lcm --params params-$v.json --eval-key keys-$v/eval.key --in req-$v.lcx --out res-$v.lcx --json $flag > infer-$v-$r.json
  done
done
for v in cp nocp; do $LC decrypt --keys keys-$v --in res-$v.lcx --json > dec-$v.json; done
for v in cp nocp; do echo "$v (wall user sys):"; cat time-$v-*.txt; done
echo finished
