#!/usr/bin/env bash
# params.json records the model it was chosen for; eval and serve refuse another model with a
# one-line error (exit 1) instead of silently re-quantising it. Real C-NMC cells, shipped model.
set -u
CLI="$1"; DATA="$2"; SRC="$3"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
prepare_cnmc32 "$CLI" "$DATA"
"$CLI" params --model "$SRC/models/cnmc-x2.lcm" --data cnmc32 --split train --limit 64 --memory-gb 16 \
    --out params.json > /dev/null 2>&1 || fail "params"
grep -q '"model_fingerprint": "fnv1a64:' params.json || fail "params.json has no model_fingerprint"

# The same model: accepted (a raw run with the params' quantisation).
"$CLI" eval --model "$SRC/models/cnmc-x2.lcm" --data cnmc32 --split test --limit 8 --mode raw \
    --params params.json --json > /dev/null 2>&1 || fail "eval with the params' own model"

# Another model file (here the MNIST network): refused by eval and by serve.
out=$("$CLI" eval --model "$SRC/models/mnist-cryptonets.lcm" --data cnmc32 --split test --limit 8 \
      --mode encrypted --params params.json 2>&1); rc=$?
[ $rc -eq 1 ] || fail "eval with another model: exit $rc: $out"
grep -q "was chosen for another model" <<<"$out" || fail "eval message: $out"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "eval: not one line: $out"
printf 'alice alice-token-0123456789\n' > tokens.txt; chmod 600 tokens.txt
out=$(timeout 60 "$CLI" serve --model "$SRC/models/mnist-cryptonets.lcm" --params params.json \
      --tokens tokens.txt --db jobs.db --port 0 2>&1); rc=$?
[ $rc -eq 1 ] || fail "serve with another model: exit $rc: $out"
grep -q "was chosen for another model" <<<"$out" || fail "serve message: $out"
echo ok
