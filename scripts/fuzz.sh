#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS: builds the libFuzzer targets (clang, ASan+UBSan, coverage) in a separate
# build dir and runs each HE loader fuzzer (BFV, shared RLWE keys, CKKS) for SECONDS, starting from
# a generated seed corpus.
# Exits non-zero when any fuzzer finds a crash, leak or timeout (artifacts in build-fuzz/artifacts).
# FUZZ_LOADERS="galois_keys ckks_params" runs only those loaders; FUZZ_WIRE=0 skips the container;
# FUZZ_PARALLEL=1 runs the loaders side by side (executions then depend on the free cores).
set -euo pipefail
SECONDS_PER_TARGET="${1:?usage: scripts/fuzz.sh SECONDS}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${LEUKOCRYPT_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${LEUKOCRYPT_JOBS:-2}"
CC_BIN="${CC_FUZZ:-$(command -v clang-14 || command -v clang)}"
CXX_BIN="${CXX_FUZZ:-$(command -v clang++-14 || command -v clang++)}"
[ -x "$CXX_BIN" ] || { echo "fuzz.sh: clang++ not found (install clang-14 and libclang-rt-14-dev)" >&2; exit 1; }

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$CC_BIN" -DCMAKE_CXX_COMPILER="$CXX_BIN" \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  -DLEUKOCRYPT_FUZZ=ON -DLEUKOCRYPT_WITH_TORCH=OFF -DLEUKOCRYPT_BUILD_TESTS=OFF -DLEUKOCRYPT_BUILD_BENCH=OFF >/dev/null
ALL_LOADERS=(params public_key relin_keys galois_keys plaintext ciphertext secret_key ckks_params ckks_plaintext ckks_ciphertext)
TARGETS=(fuzz_he_corpus)
for l in "${ALL_LOADERS[@]}"; do TARGETS+=("fuzz_he_load_$l"); done
read -r -a LOADERS <<< "${FUZZ_LOADERS:-${ALL_LOADERS[*]}}"
TARGETS+=(fuzz_wire_container)
cmake --build "$BUILD" -j "$JOBS" --target "${TARGETS[@]}"

CORPUS="$BUILD/corpus"
ARTIFACTS="$BUILD/artifacts"
mkdir -p "$CORPUS" "$ARTIFACTS"
"$BUILD/fuzz/fuzz_he_corpus" "$CORPUS"
status=0
fuzz_loader() {  # one loader for SECONDS_PER_TARGET; its own log; non-zero on a finding
  local l=$1
  mkdir -p "$CORPUS/$l"
  echo "==> fuzz_he_load_$l for ${SECONDS_PER_TARGET}s"
  if ! "$BUILD/fuzz/fuzz_he_load_$l" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$ARTIFACTS/$l-" -print_final_stats=1 "$CORPUS/$l" \
        > "$BUILD/fuzz_$l.log" 2>&1; then
    echo "fuzz_he_load_$l FAILED (see $BUILD/fuzz_$l.log)" >&2
    tail -30 "$BUILD/fuzz_$l.log" >&2
    return 1
  fi
  echo "fuzz_he_load_$l: $(grep -E "stat::number_of_executed_units" "$BUILD/fuzz_$l.log" | tail -1)"
}
if [ "${FUZZ_PARALLEL:-0}" = 1 ]; then  # every loader at once (each still runs SECONDS_PER_TARGET)
  pids=()
  for l in "${LOADERS[@]}"; do fuzz_loader "$l" & pids+=($!); done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
else
  for l in "${LOADERS[@]}"; do fuzz_loader "$l" || status=1; done
fi
[ "${FUZZ_WIRE:-1}" = 0 ] && exit $status
echo "==> fuzz_wire_container for ${SECONDS_PER_TARGET}s"
mkdir -p "$CORPUS/wire"
if ! "$BUILD/fuzz/fuzz_wire_container" -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$ARTIFACTS/wire-" -print_final_stats=1 "$CORPUS/wire" \
      > "$BUILD/fuzz_wire.log" 2>&1; then
  echo "fuzz_wire_container FAILED (see $BUILD/fuzz_wire.log)" >&2
  tail -30 "$BUILD/fuzz_wire.log" >&2
  status=1
else
  grep -E "stat::number_of_executed_units|Done" "$BUILD/fuzz_wire.log" | tail -1 || true
fi
exit $status
