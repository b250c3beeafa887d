#!/usr/bin/env bash
# The provider's service runs in leukocrypt-serve, which holds no secret-key code: its symbol
# table has the service but no key generation, decryption, secret-key encryption or secret-key
# loading. `leukocrypt serve` forwards to it (help, errors), and a missing binary is one clear line.
set -u
CLI="$1"; SERVE="$2"
fail() { echo "FAIL: $*" >&2; exit 1; }
syms=$(nm -C --defined-only "$SERVE") || fail "nm $SERVE"
grep -q "leukocrypt::service::Server::" <<<"$syms" || fail "no service symbols in $SERVE (stripped?)"
grep -q "leukocrypt::nn::CircuitPrivacy::apply" <<<"$syms" || fail "no circuit privacy in $SERVE"
secret=$(grep -E "leukocrypt::bfv::(Decryptor|KeyGenerator|SymmetricEncryptor)::|leukocrypt::bfv::load_secret_key|leukocrypt::nn::BfvKeyHolder::|leukocrypt::client::KeyHolder::" <<<"$syms")
[ -z "$secret" ] || fail "leukocrypt-serve holds secret-key code:"$'\n'"$secret"

out=$("$CLI" serve --help 2>&1); rc=$?
[ $rc -eq 0 ] || fail "serve --help: exit $rc: $out"
grep -q -- "--tokens" <<<"$out" || fail "serve --help is not the service's help: $out"
out=$("$CLI" serve --model /nonexistent.lkm --params /nonexistent.json --insecure-no-auth 2>&1); rc=$?
[ $rc -eq 1 ] || fail "serve with a missing model: exit $rc: $out"
[ "$(wc -l <<<"$out")" -eq 1 ] || fail "serve with a missing model: not one line: $out"
out=$(LEUKOCRYPT_SERVE_BIN=/nonexistent/leukocrypt-serve "$CLI" serve --help 2>&1); rc=$?
[ $rc -eq 1 ] || fail "missing service binary: exit $rc: $out"
grep -q "cannot run the leukocrypt-serve binary" <<<"$out" || fail "missing service binary message: $out"
echo ok
