// Google Benchmark for the BFV engine: every op at N = 4096, 8192, 16384, 32768 with the 128-bit
// default-size modulus (Params::default_for) and a 20-bit batching t, single thread. Names follow
// the SEAL 4.4.3 reference table in docs/benchmarks/he-bfv.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>

#include "he/bfv/batch_encoder.h"
#include "he/bfv/decryptor.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/symmetric_encryptor.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"

namespace {

using namespace leukocrypt::bfv;

struct Setup {
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  PublicKey pk;
  RelinKeys rk;
  GaloisKeys gk;
  std::unique_ptr<BatchEncoder> encoder;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> ev;
  std::vector<std::uint64_t> values;
  Plaintext pt;
  Ciphertext a, b, a3;
};

Setup& setup(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Setup>> cache;
  auto& s = cache[n];
  if (s) return *s;
  s = std::make_unique<Setup>();
  // First prime = 1 mod 2^16 above 2^20: batches for every N up to 32768.
  const std::uint64_t t = leukocrypt::he::ntt_primes(20, 15, 1)[0];
  s->ctx = Context::create(Params::default_for(n, t));
  s->keygen = std::make_unique<KeyGenerator>(s->ctx);
  s->pk = s->keygen->create_public_key();
  s->rk = s->keygen->create_relin_keys();
  s->gk = s->keygen->create_galois_keys({1}, false);
  s->encoder = std::make_unique<BatchEncoder>(s->ctx);
  s->encryptor = std::make_unique<Encryptor>(s->ctx, s->pk);
  s->decryptor = std::make_unique<Decryptor>(s->ctx, s->keygen->secret_key());
  s->ev = std::make_unique<Evaluator>(s->ctx);
  std::mt19937_64 rng(1);
  s->values.resize(n);
  for (auto& v : s->values) v = rng() % t;
  s->pt = s->encoder->encode(s->values);
  s->a = s->encryptor->encrypt(s->pt);
  s->b = s->encryptor->encrypt(s->pt);
  s->a3 = s->ev->multiply(s->a, s->b);
  return *s;
}

#define LC_BFV_BENCH(name) BENCHMARK(name)->Arg(4096)->Arg(8192)->Arg(16384)->Arg(32768)->Unit(benchmark::kMicrosecond)

void KeyGenRelin(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.keygen->create_relin_keys());
}
LC_BFV_BENCH(KeyGenRelin);

void EncryptPublic(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.encryptor->encrypt(s.pt));
}
LC_BFV_BENCH(EncryptPublic);

void Decrypt(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.decryptor->decrypt(s.a));
}
LC_BFV_BENCH(Decrypt);

void Encode(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->encode(s.values));
}
LC_BFV_BENCH(Encode);

void Decode(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->decode(s.pt));
}
LC_BFV_BENCH(Decode);

void Add(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  Ciphertext c = s.a;
  for (auto _ : st) {
    s.ev->add_inplace(c, s.b);
    benchmark::ClobberMemory();
  }
}
LC_BFV_BENCH(Add);

void MultiplyScalarAdd(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  Ciphertext c = s.a;
  for (auto _ : st) {
    s.ev->multiply_scalar_add_inplace(c, s.b, -37);
    benchmark::ClobberMemory();
  }
}
LC_BFV_BENCH(MultiplyScalarAdd);

void MultiplyPlain(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->multiply_plain(s.a, s.pt));
}
LC_BFV_BENCH(MultiplyPlain);

void Multiply(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->multiply(s.a, s.b));
}
LC_BFV_BENCH(Multiply);

void Square(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->square(s.a));
}
LC_BFV_BENCH(Square);

// One relinearisation of a fresh copy of a3 per iteration (the copy untimed).
void time_relinearize(benchmark::State& st, const Evaluator& ev, const Ciphertext& a3, const RelinKeys& rk) {
  for (auto _ : st) {
    st.PauseTiming();
    Ciphertext c = a3;
    st.ResumeTiming();
    ev.relinearize_inplace(c, rk);
    benchmark::DoNotOptimize(c);
  }
}

void Relinearize(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  time_relinearize(st, *s.ev, s.a3, s.rk);
}
LC_BFV_BENCH(Relinearize);

void RotateRows(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->rotate_rows(s.a, 1, s.gk));
}
LC_BFV_BENCH(RotateRows);

// The latency layout's rotations (nn/bfv_slot_evaluator.cpp), NTT domain in and out: a giant step
// (rotate_rows_ntt: its own decomposition) and a baby step given the input's hoisted digits
// (rotate_rows_hoisted_ntt), with the keys as generated (arg 1 = 0) and in evaluation form (1);
// Hoist is the decomposition the baby steps of one input share. Not in SEAL's table.
struct NttRotation {
  GaloisKeys permuted;
  Ciphertext a_ntt;
  std::optional<leukocrypt::rlwe::HoistedDigits> digits;
};
NttRotation& ntt_rotation(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<NttRotation>> cache;
  auto& r = cache[n];
  if (r) return *r;
  auto& s = setup(n);
  r = std::make_unique<NttRotation>();
  r->permuted = s.gk;
  r->permuted.permute_for_evaluation(s.ctx->bitrev());
  r->a_ntt = s.a;
  s.ev->to_ntt_inplace(r->a_ntt);
  r->digits.emplace(s.ev->hoist(s.a));
  return *r;
}
#define LC_BFV_ROTATION_BENCH(name) \
  BENCHMARK(name)->ArgsProduct({{16384, 32768}, {0, 1}})->Unit(benchmark::kMicrosecond)

void RotateRowsNtt(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  auto& r = ntt_rotation(static_cast<std::size_t>(st.range(0)));
  const GaloisKeys& gk = st.range(1) ? r.permuted : s.gk;
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->rotate_rows_ntt(r.a_ntt, 1, gk));
}
LC_BFV_ROTATION_BENCH(RotateRowsNtt);

void RotateRowsHoistedNtt(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  auto& r = ntt_rotation(static_cast<std::size_t>(st.range(0)));
  const GaloisKeys& gk = st.range(1) ? r.permuted : s.gk;
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->rotate_rows_hoisted_ntt(r.a_ntt, *r.digits, 1, gk));
}
LC_BFV_ROTATION_BENCH(RotateRowsHoistedNtt);

// Putting one Galois key in evaluation form (once per key, when an evaluator is built).
void PermuteGaloisKey(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) {
    st.PauseTiming();
    GaloisKeys gk = s.gk;
    st.ResumeTiming();
    gk.permute_for_evaluation(s.ctx->bitrev());
    benchmark::DoNotOptimize(gk);
  }
}
BENCHMARK(PermuteGaloisKey)->Arg(16384)->Arg(32768)->Unit(benchmark::kMicrosecond);

void Hoist(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->hoist(s.a));
}
BENCHMARK(Hoist)->Arg(16384)->Arg(32768)->Unit(benchmark::kMicrosecond);

// Hybrid key switching (issue 10): the latency layout's N = 32768 chain, 10 ciphertext primes of
// 50 bits, with k = 1, 2 or 5 special primes of 50 bits (10, 5 or 2 digits). Relinearisation
// (coefficient form, a size-3 product), a hoisted baby-step rotation with keys in evaluation form,
// and the hoisting itself.
struct Hybrid {
  ContextPtr ctx;
  std::unique_ptr<Evaluator> ev;
  RelinKeys rk;
  GaloisKeys gk;
  Ciphertext a, a3, a_ntt;
  std::optional<leukocrypt::rlwe::HoistedDigits> digits;
};
Hybrid& hybrid(std::size_t k) {
  static std::map<std::size_t, std::unique_ptr<Hybrid>> cache;
  auto& h = cache[k];
  if (h) return *h;
  h = std::make_unique<Hybrid>();
  const std::size_t n = 32768;
  const std::uint64_t t = leukocrypt::he::ntt_primes(20, 15, 1)[0];
  std::vector<int> bits(10 + k, 50);
  h->ctx = Context::create(Params::create(n, bits, t, Security::k128, k));
  KeyGenerator kg(h->ctx);
  h->ev = std::make_unique<Evaluator>(h->ctx);
  h->rk = kg.create_relin_keys();
  h->gk = kg.create_galois_keys({1}, false);
  h->gk.permute_for_evaluation(h->ctx->bitrev());
  Encryptor enc(h->ctx, kg.create_public_key());
  BatchEncoder be(h->ctx);
  std::vector<std::uint64_t> v(n);
  std::mt19937_64 rng(1);
  for (auto& x : v) x = rng() % t;
  h->a = enc.encrypt(be.encode(v));
  h->a3 = h->ev->multiply(h->a, h->a);
  h->a_ntt = h->a;
  h->ev->to_ntt_inplace(h->a_ntt);
  h->digits.emplace(h->ev->hoist(h->a));
  return *h;
}
#define LC_HYBRID_BENCH(name) BENCHMARK(name)->Arg(1)->Arg(2)->Arg(5)->Unit(benchmark::kMicrosecond)

void HybridRelinearize(benchmark::State& st) {
  auto& h = hybrid(static_cast<std::size_t>(st.range(0)));
  time_relinearize(st, *h.ev, h.a3, h.rk);
}
LC_HYBRID_BENCH(HybridRelinearize);

void HybridRotateRowsHoistedNtt(benchmark::State& st) {
  auto& h = hybrid(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(h.ev->rotate_rows_hoisted_ntt(h.a_ntt, *h.digits, 1, h.gk));
}
LC_HYBRID_BENCH(HybridRotateRowsHoistedNtt);

void HybridHoist(benchmark::State& st) {
  auto& h = hybrid(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) benchmark::DoNotOptimize(h.ev->hoist(h.a));
}
LC_HYBRID_BENCH(HybridHoist);

void ModSwitchToNext(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) {
    st.PauseTiming();
    Ciphertext c = s.a;
    st.ResumeTiming();
    s.ev->mod_switch_to_next_inplace(c);
    benchmark::DoNotOptimize(c);
  }
}
LC_BFV_BENCH(ModSwitchToNext);

// Context for the ratios: the kernels' NTT on one ciphertext prime.
void NttForwardOnePrime(benchmark::State& st) {
  auto& s = setup(static_cast<std::size_t>(st.range(0)));
  std::vector<std::uint64_t> v(s.a.data(0, 0), s.a.data(0, 0) + s.ctx->n());
  for (auto _ : st) {
    leukocrypt::he::forward_ntt(v.data(), s.ctx->ntt(0));
    benchmark::ClobberMemory();
  }
}
LC_BFV_BENCH(NttForwardOnePrime);

}  // namespace

// One thread, as SEAL's reference figures: a lone key switch (relinearisation, rotation) would
// otherwise spread its primes over the global pool. LEUKOCRYPT_THREADS set by the caller wins.
int main(int argc, char** argv) {
  setenv("LEUKOCRYPT_THREADS", "1", /*overwrite=*/0);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
