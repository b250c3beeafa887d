#!/usr/bin/env bash
# --scheme ckks through the key holder's and the provider's commands on real C-NMC cells (group C,
# 1,198 cells: one batch of N/2 = 4,096 slots, so the cost is that of one cell):
#   keygen -> encrypt -> infer -> decrypt: every cell's argmax equals the float model's and its
#   logit margin is within twice the precision model's bound;
#   serve (CKKS card; keygen from it) + screen: the same labels through the HTTP service;
#   circuit privacy: the chooser's parameters with their flood (the wide scale chain, N = 16384) make
#   infer and serve re-randomise and flood every result with the public key from eval.key; every
#   cell's argmax still equals the float model's, its margin within twice the predicted bound;
#   refusals, one line / 4xx each: a --scheme that does not match the keys or the parameters, CKKS
#   served with circuit privacy on and parameters without a flood, BFV keys on a CKKS server and CKKS
#   keys on a BFV server (key upload 400, screen), BFV parameters with a CKKS request (infer).
set -u
CLI="$1"; DATA="$2"; SRC="$3"
source "$(dirname "${BASH_SOURCE[0]}")/cli_test_lib.sh"
enter_work_dir
prepare_cnmc32 "$CLI" "$DATA"
M="$SRC/models/cnmc-x2.lcm"
"$CLI" params --scheme ckks --layout throughput --model "$M" --data cnmc32 --split train --limit 32 --target-error 2 --out c.json \
    --no-circuit-privacy > /dev/null || fail "params --scheme ckks"
# Circuit privacy (the default): the wide chain and its flood (2^-40 over the largest job).
"$CLI" params --scheme ckks --layout throughput --model "$M" --data cnmc32 --split train --limit 32 --target-error 1e-3 \
    --out cf.json > /dev/null || fail "params --scheme ckks with circuit privacy"
"$CLI" params --model "$M" --data cnmc32 --split train --limit 32 --layout throughput --out b.json > /dev/null \
    || fail "params (bfv)"
"$CLI" eval --mode float --model "$M" --data cnmc32 --split C --json > float.json || fail "eval float"

# Key holder: keygen with the scheme of the document; a named scheme must match it.
one_line_error "keygen --scheme bfv on ckks params" "--scheme bfv, but --params 'c.json' is for ckks" \
    "$CLI" keygen --scheme bfv --params c.json --out nokeys
"$CLI" keygen --scheme ckks --params c.json --out keys --json > keys.out || fail "keygen ckks: $(cat keys.out)"
grep -q '"scheme": "ckks"' keys/keys.json || fail "keys.json lacks the scheme"
"$CLI" keygen --params b.json --out bkeys > /dev/null || fail "keygen bfv"
one_line_error "encrypt --scheme bfv with ckks keys" "is for ckks" \
    "$CLI" encrypt --scheme bfv --keys keys --data cnmc32 --split C --out x.lcx
one_line_error "encrypt ckks latency" "made for the throughput layout, not latency" \
    "$CLI" encrypt --keys keys --layout latency --data cnmc32 --split C --out x.lcx
"$CLI" encrypt --scheme ckks --keys keys --data cnmc32 --split C --out req.lcx --json > enc.json \
    || fail "encrypt ckks: $(cat enc.json)"
"$CLI" keygen --params cf.json --out fkeys > /dev/null || fail "keygen ckks with circuit privacy"
"$CLI" encrypt --keys fkeys --data cnmc32 --split C --out freq.lcx > /dev/null || fail "encrypt ckks (flood parameters)"

# Provider, offline.
one_line_error "infer ckks with circuit privacy" "carry no flood" \
    "$CLI" infer --model "$M" --eval-key keys/eval.key --in req.lcx --out res.lcx
python3 -c 'import json,sys; p=json.load(open("cf.json")); p["ckks"]["circuit_privacy"]["result_ciphertexts_per_job"]=2; json.dump(p, open("cf2.json","w"))'
one_line_error "infer ckks, flood for fewer results than the caps" "floods for 2" \
    "$CLI" infer --model "$M" --params cf2.json --eval-key fkeys/eval.key --in freq.lcx --out resf.lcx
"$CLI" infer --model "$M" --params cf.json --eval-key fkeys/eval.key --in freq.lcx --out resf.lcx --json > inferf.json \
    || fail "infer ckks with circuit privacy: $(cat inferf.json)"
grep -q '"circuit_privacy": ' inferf.json || fail "infer: results not flooded: $(cat inferf.json)"
rm -f freq.lcx
"$CLI" decrypt --scheme ckks --keys fkeys --in resf.lcx --json > decf.json || fail "decrypt flooded ckks"
one_line_error "infer --scheme bfv, ckks keys" "--scheme bfv, but the parameters in 'keys/eval.key' is for ckks" \
    "$CLI" infer --scheme bfv --model "$M" --eval-key keys/eval.key --in req.lcx --out res.lcx --no-circuit-privacy
one_line_error "ckks params, bfv keys" "made for the bfv scheme, this server runs ckks" \
    "$CLI" infer --model "$M" --params c.json --eval-key bkeys/eval.key --in req.lcx --out res.lcx --no-circuit-privacy
one_line_error "bfv params, ckks keys" "made for the ckks scheme, this server runs bfv" \
    "$CLI" infer --model "$M" --params b.json --eval-key keys/eval.key --in req.lcx --out res.lcx
"$CLI" infer --scheme ckks --model "$M" --eval-key keys/eval.key --in req.lcx --out res.lcx --no-circuit-privacy \
    --json > infer.json || fail "infer ckks: $(cat infer.json)"
! grep -q '"circuit_privacy": ' infer.json || fail "infer --no-circuit-privacy: a circuit_privacy stage"
rm -f req.lcx
one_line_error "decrypt with bfv keys" "these keys are" "$CLI" decrypt --keys bkeys --in res.lcx
"$CLI" decrypt --scheme ckks --keys keys --in res.lcx --json > dec.json || fail "decrypt ckks"
check_vs_float() {  # <decrypt json> <params json>
python3 - float.json "$1" "$2" <<'PY'
import json, math, sys
f = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2])); p = json.load(open(sys.argv[3]))
bound = p["ckks"]["predicted_logit_error"]
cells = {c["source"]: c for c in f["cells"]}
assert len(d["cells"]) == len(cells) == 1198, (len(d["cells"]), len(cells))
classes = set()
for c in d["cells"]:
    fc = cells[c["cell"]]
    assert c["class"] == fc["predicted"], (c["cell"], c["class"], fc["predicted"])
    classes.add(c["class"])
    # Two classes: the logit margin is log(p / (1 - p)) of the predicted class's probability.
    margin = lambda q: math.log(q / (1 - q))
    assert abs(margin(c["probability"]) - margin(fc["probability"])) <= 2 * bound, (c, fc, bound)
    assert c["exact_logits"] == []
assert classes == {"all", "hem"}, classes
PY
}
check_vs_float dec.json c.json || fail "CKKS round trip vs float"
check_vs_float decf.json cf.json || fail "CKKS with circuit privacy (flooded) vs float"

# The service: CKKS refuses to start with circuit privacy on; started without it, its card says ckks.
printf 'alice alice-token-0123456789\n' > tokens.txt; chmod 600 tokens.txt
printf 'alice-token-0123456789\n' > token; chmod 600 token
one_line_error "serve ckks with circuit privacy" "carry no flood" \
    timeout 60 "$CLI" serve --model "$M" --params c.json --tokens tokens.txt --db p.db --port 0
start() {  # <name> <params> [flags...]: serve in the background, port in <name>.port
  local name="$1" params="$2"; shift 2
  "$CLI" serve --model "$M" --params "$params" --tokens tokens.txt --db "$name.db" --port 0 \
      --port-file "$name.port" "$@" > "$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do [ -s "$name.port" ] && return 0; sleep 0.1; done
  fail "serve $name did not start: $(cat "$name.log")"
}
start ckks c.json --no-circuit-privacy
start bfv b.json
start ckksf cf.json
F="http://127.0.0.1:$(cat ckksf.port)"
C="http://127.0.0.1:$(cat ckks.port)"; B="http://127.0.0.1:$(cat bfv.port)"
auth=(-H "Authorization: Bearer alice-token-0123456789")
curl -s "${auth[@]}" "$C/v1/model" | grep -q '"scheme": *"ckks"' || fail "ckks card lacks the scheme"
curl -s "${auth[@]}" "$B/v1/model" | grep -q '"scheme": *"bfv"' || fail "bfv card lacks the scheme"
curl -s "${auth[@]}" "$F/v1/model" | python3 -c 'import json,sys; c=json.load(sys.stdin)["circuit_privacy"]; p=json.load(open("cf.json"))["ckks"]["circuit_privacy"]; assert c["enabled"] and c["flood_bits"]==p["flood_bits"] and c["statistical_security_bits"]==40, c' \
    || fail "flooding ckks card"
curl -s "${auth[@]}" "$C/v1/model" | python3 -c 'import json,sys; assert not json.load(sys.stdin)["circuit_privacy"]["enabled"]' \
    || fail "ckks card without circuit privacy"
# keygen from the CKKS card (what the clinic and `curl /v1/model > model.json` users do).
curl -s "${auth[@]}" "$C/v1/model" > card.json
"$CLI" keygen --params card.json --out cardkeys > /dev/null || fail "keygen from the ckks card"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a["params_id"]==b["params_id"] and b["model_id"]==a["model_id"] and b["scheme"]=="ckks"' \
    card.json cardkeys/keys.json || fail "keys from the card: other parameters or model"
upload() {  # <url> <eval.key>: prints the status and body
  curl -s -o body.txt -w '%{http_code}' "${auth[@]}" -H 'Content-Type: application/octet-stream' \
      --data-binary @"$2" "$1/v1/keys"
}
# A CKKS key upload without the public key (what circuit privacy floods with): 400, named.
python3 - fkeys/eval.key nopk.key <<'PY' || fail "nopk.key"
import struct, sys
b = open(sys.argv[1], "rb").read(); o = 4 + 2 + 2 + 8
def s(o): n = struct.unpack_from("<I", b, o)[0]; return o + 4 + n
o = s(s(o)) + 4 + 1                                  # key id, model id, cells, packing
n = struct.unpack_from("<I", b, o)[0]; o += 4
for _ in range(n): o = s(o)                          # names
o = s(o)                                             # meta
count = struct.unpack_from("<I", b, o)[0]; assert count == 2, count
first = struct.unpack_from("<Q", b, o + 4)[0]
open(sys.argv[2], "wb").write(b[:o] + struct.pack("<I", 1) + b[o + 4:o + 12 + first] + b"END!")
PY
code=$(upload "$F" nopk.key)
[ "$code" = 400 ] && grep -q "expected a relinearisation key and a public key" body.txt \
    || fail "ckks keys without the public key: $code $(cat body.txt)"
code=$(upload "$C" bkeys/eval.key)
[ "$code" = 400 ] && grep -q "made for the bfv scheme, this server runs ckks" body.txt \
    || fail "bfv keys on the ckks server: $code $(cat body.txt)"
code=$(upload "$B" keys/eval.key)
[ "$code" = 400 ] && grep -q "made for the ckks scheme, this server runs bfv" body.txt \
    || fail "ckks keys on the bfv server: $code $(cat body.txt)"
one_line_error "screen bfv keys on ckks" "are bfv keys, the server runs ckks" \
    "$CLI" screen --server "$C" --token-file token --keys bkeys --data cnmc32 --split C --limit 4
one_line_error "screen --scheme bfv with ckks keys" "is for ckks" \
    "$CLI" screen --scheme bfv --server "$C" --token-file token --keys keys --data cnmc32 --split C --limit 4
"$CLI" screen --scheme ckks --server "$C" --token-file token --keys keys --data cnmc32 --split C --work-dir . \
    --timeout 600 --json > screen.json 2> screen.err || fail "screen ckks: $(cat screen.err)"
"$CLI" screen --scheme ckks --server "$F" --token-file token --keys fkeys --data cnmc32 --split C --limit 64 \
    --work-dir . --timeout 600 --json > screenf.json 2> screenf.err || fail "screen ckks, flooding server: $(cat screenf.err)"
python3 - decf.json screenf.json <<'PY' || fail "flooded screen vs offline decrypt"
import json, sys
d = {c["cell"]: c["class"] for c in json.load(open(sys.argv[1]))["cells"]}; s = json.load(open(sys.argv[2]))
assert len(s["cells"]) == 64 and all(d[c["cell"]] == c["class"] for c in s["cells"]), s["cells"][:3]
PY
python3 - dec.json screen.json <<'PY' || fail "screen vs offline decrypt"
import json, sys
d = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))
assert s["scheme"] == "ckks" and len(s["cells"]) == len(d["cells"]) == 1198
for a, b in zip(d["cells"], s["cells"]):
    assert a["cell"] == b["cell"] and a["class"] == b["class"], (a, b)
PY
echo ok
