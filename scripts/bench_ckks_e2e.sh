#!/usr/bin/env bash
# CKKS next to BFV end to end (`leukocrypt eval --mode encrypted`, whole process: keygen, encrypt,
# server, decrypt, in one process) on C-NMC group C (cnmc-x2, 1,198 cells) and 8,192 MNIST test
# digits (mnist-cryptonets). Rounds alternate the schemes so that they share the machine's load;
# per run: wall time and peak RSS (/usr/bin/time), the eval JSON (server seconds, bytes per cell,
# CKKS largest logit error). Usage: scripts/bench_ckks_e2e.sh [workdir] [rounds]; then
# scripts/bench_ckks_e2e_summary.py workdir prints medians and ratios.
set -eu
LC=${LC:-build/apps/leukocrypt/leukocrypt}; LC=$(realpath $LC)
SRC=$(pwd)
DATA=${LEUKOCRYPT_DATA_DIR:-/work/shared/data}
W=${1:-/tmp/lc-ckks-bench}; ROUNDS=${2:-3}; mkdir -p $W
cd $W
[ -d cnmc32 ] || $LC prepare --input $DATA/cnmc-fold1-225 --out cnmc32 --split patient --splits $DATA/cnmc-fold1-225/SPLITS.tsv --json > prepare.json
run() {  # <name> <args...>
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o time-$name.txt $LC eval --mode encrypted --json "$@" > eval-$name.json
}
for r in $(seq 1 $ROUNDS); do
  run cnmc-bfv-$r --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --no-noise
  # CKKS throughput: without circuit privacy (--no-circuit-privacy) and with it (the chooser's wide
  # scale chain, nn/ckks_circuit_privacy.h; eval itself never floods: the flood's own cost is
  # scripts/bench_ckks_circuit_privacy.sh's)
  run cnmc-ckks8192-$r --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --scheme ckks --layout throughput --target-error 2 --no-circuit-privacy
  run cnmc-ckks16384-$r --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --scheme ckks --layout throughput --no-circuit-privacy
  run cnmc-ckkscp-$r --model $SRC/models/cnmc-x2.lcm --data cnmc32 --split C --scheme ckks --layout throughput
  run mnist-bfv-$r --model $SRC/models/mnist-cryptonets.lcm --data $DATA/mnist --split test --limit 8192 --no-noise
  run mnist-ckks-$r --model $SRC/models/mnist-cryptonets.lcm --data $DATA/mnist --split test --limit 8192 --scheme ckks --layout throughput --no-circuit-privacy
  run mnist-ckkscp-$r --model $SRC/models/mnist-cryptonets.lcm --data $DATA/mnist --split test --limit 8192 --scheme ckks --layout throughput
done
echo finished
