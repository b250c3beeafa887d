#!/usr/bin/env bash
# --layout on params and eval: bad words are refused with one line; a params.json chosen for one
# layout is refused by `eval --layout` for the other, naming both; params.json records the layout.
# Real C-NMC cells, shipped model.
set -u
CLI="$1"; DATA="$2"; SRC="$3"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
prepare_cnmc32 "$CLI" "$DATA"
M="$SRC/models/cnmc-x2.lcm"
"$CLI" params --model "$M" --data cnmc32 --split train --limit 16 --layout throughput --cells 16384 \
    --memory-gb 16 --out t.json > /dev/null 2>&1 || fail "params --layout throughput"
grep -q '"layout": "throughput"' t.json || fail "params.json does not record the layout"
"$CLI" params --model "$M" --data cnmc32 --split train --limit 16 --cells 1 --bandwidth-mbit 100 \
    --out a.json > /dev/null 2>&1 || fail "params --cells 1"
grep -q '"layout": "latency"' a.json || fail "auto did not pick latency for one cell"
grep -q '"galois_steps"' a.json || fail "params.json lacks the latency section"
out=$("$CLI" eval --model "$M" --data cnmc32 --split test --limit 2 --mode encrypted --params t.json \
      --layout latency 2>&1); rc=$?
[ $rc -eq 1 ] || fail "eval --layout latency with throughput params: exit $rc: $out"
grep -q "was chosen for the throughput layout, not latency" <<<"$out" || fail "eval message: $out"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "eval: not one line: $out"
out=$("$CLI" params --model "$M" --data cnmc32 --split train --limit 16 --layout sideways 2>&1); rc=$?
[ $rc -ne 0 ] || fail "params --layout sideways accepted"
grep -q "throughput, latency or auto" <<<"$out" || fail "params message: $out"
out=$("$CLI" params --model "$M" --data cnmc32 --split train --limit 16 --bandwidth-mbit 0 2>&1); rc=$?
[ $rc -eq 1 ] || fail "--bandwidth-mbit 0: exit $rc: $out"
echo ok
