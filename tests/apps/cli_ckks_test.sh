#!/usr/bin/env bash
# --scheme ckks on params and eval: the precision model's choice for a stated target (written to
# params.json with the scheme; with circuit privacy, the default, the wide scale chain with its flood),
# refusals with the numbers (the flood's share named), one-line errors for bad words and for
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
# Circuit privacy on (the default): the wide chain (weights of the first layer at 2^k, no rescale
# there), a flood of 2^b per coefficient counted in the error; a target it cannot reach is refused
# with the flood's share.
"$CLI" params --scheme ckks "${P[@]}" --layout throughput --out cp.json > cp.txt 2>&1 || fail "params ckks with circuit privacy: $(cat cp.txt)"
grep -q "circuit privacy: results flooded with 2^" cp.txt || fail "params ckks privacy text: $(cat cp.txt)"
python3 - cp.json <<'PY' || fail "params ckks with circuit privacy: params.json"
import json, sys
c = json.load(open(sys.argv[1]))["ckks"]
cp = c["circuit_privacy"]
assert cp["enabled"] and cp["statistical_security_bits"] == 40 and cp["flood_bits"] > 60, cp
assert c["params"]["n"] == 16384 and c["predicted_logit_error"] <= 1e-3, c
assert c["schedule"]["weight_bits"][1] > 0 and c["schedule"]["rescales"][1] == 0, c["schedule"]
PY
one_line_error "params ckks flood named" "server's flood: 2^" "$CLI" params --scheme ckks "${P[@]}" --target-error 1e-9
one_line_error "eval ckks with circuit privacy, unreachable" "--no-circuit-privacy" \
    "$CLI" eval --scheme ckks --model "$M" --data cnmc32 --split C --limit 8 --target-error 1e-9
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
