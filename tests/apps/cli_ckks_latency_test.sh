#!/usr/bin/env bash
# The CKKS latency layout (cells in the slots of one ciphertext, rotations) through the key holder's
# and the provider's commands on real C-NMC cells (group C):
#   params --scheme ckks --layout latency (the .json records the layout and its Galois steps);
#   auto picks latency for 1 cell and throughput for 16,384;
#   keygen (Galois keys for exactly the steps) -> encrypt 7 cells (4 ciphertexts of 2) -> infer ->
#   decrypt: argmax = float on every cell, logit margin within twice the model's bound; the request
#   records the latency blob layout;
#   serve + screen 3 cells: the same labels; eval --mode encrypted --layout latency;
#   latency parameters with circuit privacy (N = 32768, the wide chain; run end to end in
#   nn_ckks_latency_tests on an insecure ring: its keys are ~3.4 GB here);
#   refusals: keys without Galois keys on a latency server (upload 400, infer one line), latency
#   keys asked for the throughput layout (encrypt, one line), latency keys on a server whose
#   parameters were chosen for the throughput layout (infer, one line).
set -u
CLI="$1"; DATA="$2"; SRC="$3"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
enter_work_dir
prepare_cnmc32 "$CLI" "$DATA"
M="$SRC/models/cnmc-x2.lcm"
P=(--model "$M" --data cnmc32 --split train --limit 32)
# Latency parameters with circuit privacy on (the default): the latency layout's wide chain (inputs
# at the wide scale, N = 32768, a 59-bit special prime) with its flood; auto takes throughput then.
"$CLI" params --scheme ckks "${P[@]}" --layout latency --out latcp.json > outcp.txt 2>&1 || fail "params latency with circuit privacy: $(cat outcp.txt)"
python3 - latcp.json <<'PY' || fail "latcp.json"
import json, sys
c = json.load(open(sys.argv[1]))["ckks"]
assert c["layout"] == "latency" and c["params"]["n"] == 32768 and c["predicted_logit_error"] <= 1e-3, c["params"]["n"]
assert c["circuit_privacy"]["enabled"] and c["circuit_privacy"]["flood_bits"] <= 126, c["circuit_privacy"]
assert all(r >= 1 for r, k in zip(c["schedule"]["rescales"], c["schedule"]["weight_bits"]) if k == 0 and r > 0)
PY
"$CLI" params --scheme ckks "${P[@]}" --cells 1 --json | grep -q '"layout": "throughput"' || fail "auto with circuit privacy: not throughput"
P+=(--no-circuit-privacy)
"$CLI" params --scheme ckks "${P[@]}" --layout latency --out lat.json > out.txt 2>&1 || fail "params latency: $(cat out.txt)"
grep -q "layout latency: 2 cells per ciphertext" out.txt || fail "params text: $(cat out.txt)"
python3 - lat.json <<'PY' || fail "lat.json"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["layout"] == "latency" and j["ckks"]["layout"] == "latency", j["layout"]
assert j["latency"]["rows"] == 1 and j["latency"]["cells_per_ciphertext"] == 2, j["latency"]
assert len(j["latency"]["galois_steps"]) > 0 and j["ckks"]["predicted_logit_error"] <= 1e-3
PY
"$CLI" params --scheme ckks "${P[@]}" --cells 1 --json | grep -q '"layout": "latency"' || fail "auto, 1 cell: not latency"
"$CLI" params --scheme ckks "${P[@]}" --cells 16384 --json | grep -q '"layout": "throughput"' \
    || fail "auto, 16384 cells: not throughput"
"$CLI" eval --mode float --model "$M" --data cnmc32 --split C --limit 7 --json > float.json || fail "eval float"

# Key holder -> provider (offline) -> key holder.
"$CLI" keygen --params lat.json --out keys --json > keys.out || fail "keygen: $(cat keys.out)"
python3 -c 'import json,sys; k=json.load(open(sys.argv[1])); p=json.load(open(sys.argv[2])); assert k["galois_keys"]==len(p["latency"]["galois_steps"]) and k["latency"]["rows"]==1' \
    keys/keys.json lat.json || fail "keys.json: Galois key count or latency section"
one_line_error "latency keys, throughput layout" "made for the latency layout, not throughput" \
    "$CLI" encrypt --keys keys --layout throughput --data cnmc32 --split C --limit 7 --out x.lcx
"$CLI" encrypt --keys keys --data cnmc32 --split C --limit 7 --out req.lcx --json > enc.json || fail "encrypt: $(cat enc.json)"
grep -q '"layout": "latency"' enc.json || fail "encrypt: layout $(cat enc.json)"
grep -aq 'ciphertext-prime' req.lcx || fail "the request does not record the latency blob layout"
one_line_error "latency server with circuit privacy, parameters without a flood" "carry no flood" \
    "$CLI" infer --scheme ckks --model "$M" --eval-key keys/eval.key --in req.lcx --out res.lcx
"$CLI" infer --scheme ckks --model "$M" --eval-key keys/eval.key --in req.lcx --out res.lcx --no-circuit-privacy \
    --json > infer.json || fail "infer: $(cat infer.json)"
"$CLI" decrypt --keys keys --in res.lcx --json > dec.json || fail "decrypt"
python3 - float.json dec.json lat.json <<'PY' || fail "CKKS latency round trip vs float"
import json, math, sys
f = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2])); p = json.load(open(sys.argv[3]))
bound = p["ckks"]["predicted_logit_error"]
cells = {c["source"]: c for c in f["cells"]}
assert len(d["cells"]) == len(cells) == 7, (len(d["cells"]), len(cells))
margin = lambda q: math.log(q / (1 - q))
for c in d["cells"]:
    fc = cells[c["cell"]]
    assert c["class"] == fc["predicted"], (c, fc)
    assert abs(margin(c["probability"]) - margin(fc["probability"])) <= 2 * bound, (c, fc, bound)
PY

# Keys without Galois keys for the same parameters (the latency section dropped): refused.
python3 - lat.json nogalois.json <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); j.pop("latency"); j["layout"] = "throughput"; j["ckks"]["layout"] = "throughput"
json.dump(j, open(sys.argv[2], "w"))
PY
"$CLI" keygen --params nogalois.json --out ngkeys > /dev/null || fail "keygen without Galois keys"
one_line_error "infer without Galois keys" "Galois keys" \
    "$CLI" infer --scheme ckks --model "$M" --params lat.json --eval-key ngkeys/eval.key --in req.lcx --out r2.lcx \
    --no-circuit-privacy
# The same parameters chosen for the throughput layout: latency keys (with Galois keys) refused.
one_line_error "latency keys on a throughput server" "throughput layout" \
    "$CLI" infer --scheme ckks --model "$M" --params nogalois.json --eval-key keys/eval.key --in req.lcx --out r3.lcx \
    --no-circuit-privacy

# The service: a latency card, keys from it, a 3-cell screen.
printf 'alice alice-token-0123456789\n' > tokens.txt; chmod 600 tokens.txt
printf 'alice-token-0123456789\n' > token; chmod 600 token
"$CLI" serve --model "$M" --params lat.json --tokens tokens.txt --db s.db --port 0 --port-file s.port \
    --no-circuit-privacy > s.log 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do [ -s s.port ] && break; sleep 0.1; done
[ -s s.port ] || fail "serve did not start: $(cat s.log)"
S="http://127.0.0.1:$(cat s.port)"
auth=(-H "Authorization: Bearer alice-token-0123456789")
curl -s "${auth[@]}" "$S/v1/model" > card.json
python3 -c 'import json,sys; c=json.load(open(sys.argv[1])); assert c["layouts"]==["latency"] and c["latency"]["rows"]==1, c.get("layouts")' \
    card.json || fail "latency card: $(head -c 400 card.json)"
code=$(curl -s -o body.txt -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/octet-stream' \
    --data-binary @ngkeys/eval.key "$S/v1/keys")
[ "$code" = 400 ] && grep -q "Galois keys" body.txt || fail "keys without Galois keys: $code $(cat body.txt)"
"$CLI" screen --server "$S" --token-file token --keys keys --data cnmc32 --split C --limit 3 --work-dir . \
    --timeout 300 --json > screen.json 2> screen.err || fail "screen: $(cat screen.err)"
python3 - dec.json screen.json <<'PY' || fail "screen vs offline decrypt"
import json, sys
d = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
assert s["layout"] == "latency" and len(s["cells"]) == 3, (s.get("layout"), len(s["cells"]))
for a, b in zip(d["cells"], s["cells"]):
    assert a["cell"] == b["cell"] and a["class"] == b["class"], (a, b)
PY

# eval --mode encrypted --scheme ckks --layout latency on 3 cells.
"$CLI" eval --scheme ckks --layout latency --model "$M" --data cnmc32 --split C --limit 3 --no-circuit-privacy --json > e.json \
    2> err.txt || fail "eval latency: $(cat err.txt)"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["layout"]=="latency" and j["agreement"]["argmax_vs_float"]==1.0 and j["largest_logit_error"]<=j["predicted_logit_error"]' \
    e.json || fail "eval latency result"
echo ok
