#!/usr/bin/env bash
# --scheme ckks on params and eval: the precision model's choice for a stated target (written to
# params.json with the scheme), refusals with the numbers (with circuit privacy, the default: every
# target, the flood's share named), one-line errors for bad words and for
# combinations that do not exist, and a small encrypted run on real C-NMC cells (argmax = float);
# decrypt --help carries the CKKS security note.
set -u
CLI="$1"; DATA="$2"; SRC="$3"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
"$CLI" decrypt --help | grep -q "Li-Micciancio" || fail "decrypt --help lacks the CKKS security note"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
prepare_cnmc32 "$CLI" "$DATA"
M="$SRC/models/cnmc-x2.lcm"
P=(--model "$M" --data cnmc32 --split train --limit 32)
# Circuit privacy on (the default): the flood (~58 bits of precision) misses every target.
one_line_error "params ckks with circuit privacy" "with circuit privacy" "$CLI" params --scheme ckks "${P[@]}"
one_line_error "params ckks flood named" "--no-circuit-privacy" "$CLI" params --scheme ckks "${P[@]}" --target-error 2
one_line_error "eval ckks with circuit privacy" "server's flood: 2^" \
    "$CLI" eval --scheme ckks --model "$M" --data cnmc32 --split C --limit 8 --target-error 2
P+=(--no-circuit-privacy)
"$CLI" params --scheme ckks "${P[@]}" --layout throughput --out c.json > out.txt 2>&1 || fail "params --scheme ckks: $(cat out.txt)"
grep -q "largest logit error <= " out.txt || fail "params text: $(cat out.txt)"
grep -q '"scheme": "ckks"' c.json || fail "params.json lacks the scheme"
grep -q '"n": 16384' c.json || fail "default target: expected N = 16384: $(cat c.json)"
grep -q "circuit privacy: off" out.txt || fail "params text lacks the circuit privacy line: $(cat out.txt)"
"$CLI" params --scheme ckks "${P[@]}" --layout throughput --target-error 2 --json > j.json || fail "params --json"
grep -q '"n": 8192' j.json || fail "target 2: expected N = 8192"
one_line_error "unreachable target" "best predicted" "$CLI" params --scheme ckks "${P[@]}" --target-error 1e-14
one_line_error "bad target" "--target-error must be > 0" "$CLI" params --scheme ckks "${P[@]}" --target-error 0
one_line_error "bad scheme" "--scheme must be bfv or ckks" "$CLI" params --scheme tfhe "${P[@]}"
one_line_error "ckks --n" "are BFV options" "$CLI" params --scheme ckks --n 8192 "${P[@]}"
one_line_error "ckks raw" "needs --mode encrypted" "$CLI" eval --scheme ckks --mode raw "${P[@]}"
one_line_error "ckks --params" "--params is for BFV" "$CLI" eval --scheme ckks --params c.json "${P[@]}"
one_line_error "ckks bad layout" "--layout must be throughput, latency or auto" "$CLI" eval --scheme ckks --layout diagonal "${P[@]}"
one_line_error "bfv with ckks params" "holds CKKS parameters" "$CLI" eval --params c.json "${P[@]}"
"$CLI" eval --scheme ckks --layout throughput --model "$M" --data cnmc32 --split C --limit 8 --target-error 2 \
    --no-circuit-privacy --json > e.json \
    2> err.txt || fail "eval --scheme ckks: $(cat err.txt)"
python3 - e.json <<'PY' || fail "eval --scheme ckks result"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["scheme"] == "ckks" and j["images"] == 8, j.get("images")
assert j["agreement"]["argmax_vs_float"] == 1.0, j["agreement"]
assert j["largest_logit_error"] <= j["predicted_logit_error"], (j["largest_logit_error"], j["predicted_logit_error"])
assert j["params"]["n"] == 8192 and j["bytes_sent_per_cell"] > 0
PY
echo ok
