// Google Benchmark for the CKKS engine: every op at N = 4096, 8192, 16384, 32768 with the
// 128-bit default sets (ckks::Params::default_for: SEAL's prime count and log2(q*p) budget),
// scale = the default, inputs at the top level, single thread. Names are SEAL 4.4.3 sealbench's
// ("n=8192 / log(q)=218 / CKKS / EvaluateMulCt"), so report.py pairs them with its JSON.
#include <benchmark/benchmark.h>

#include <cstdlib>

#include <complex>
#include <map>
#include <memory>
#include <random>

#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/symmetric_encryptor.h"
#include "he/kernels/ntt.h"

namespace {

using namespace leukocrypt::ckks;

struct Setup {
  ContextPtr ctx;
  std::unique_ptr<KeyGenerator> keygen;
  RelinKeys rk;
  GaloisKeys gk;
  std::unique_ptr<Encoder> encoder;
  std::unique_ptr<Encryptor> encryptor;
  std::unique_ptr<SymmetricEncryptor> sym;
  std::unique_ptr<Decryptor> decryptor;
  std::unique_ptr<Evaluator> ev;
  std::vector<double> values;
  Plaintext pt;
  Ciphertext a, b, a3, ab;
};

Setup& setup(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<Setup>> cache;
  auto& s = cache[n];
  if (s) return *s;
  s = std::make_unique<Setup>();
  s->ctx = Context::create(Params::default_for(n));
  s->keygen = std::make_unique<KeyGenerator>(s->ctx);
  s->rk = s->keygen->create_relin_keys();
  s->gk = create_rotation_keys(*s->keygen, {1}, false);
  s->encoder = std::make_unique<Encoder>(s->ctx);
  s->encryptor = std::make_unique<Encryptor>(s->ctx, s->keygen->create_public_key());
  s->sym = std::make_unique<SymmetricEncryptor>(s->ctx, s->keygen->secret_key());
  s->decryptor = std::make_unique<Decryptor>(s->ctx, s->keygen->secret_key());
  s->ev = std::make_unique<Evaluator>(s->ctx);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> d(-1, 1);
  s->values.resize(s->encoder->slot_count());
  for (auto& v : s->values) v = d(rng);
  s->pt = s->encoder->encode(s->values);
  s->a = s->encryptor->encrypt(s->pt);
  s->b = s->encryptor->encrypt(s->pt);
  s->a3 = s->ev->multiply(s->a, s->b);
  s->ab = s->ev->multiply_relin(s->a, s->b, s->rk);
  return *s;
}

// Benchmark name = sealbench's family for this N, e.g. "n=8192 / log(q)=218 / CKKS / EvaluateMulCt"
// (sealbench writes log(q)=0 for its one-prime low-level NTT).
void add(const char* group, const char* op, void (*fn)(benchmark::State&, std::size_t), bool one_prime = false) {
  const std::pair<std::size_t, int> sets[] = {{4096, 109}, {8192, 218}, {16384, 438}, {32768, 881}};
  for (auto [n, log_q] : sets) {
    const std::string name = "n=" + std::to_string(n) + " / log(q)=" + std::to_string(one_prime ? 0 : log_q) +
                             " / " + group + " / " + op;
    benchmark::RegisterBenchmark(name.c_str(), [fn, n](benchmark::State& st) { fn(st, n); })
        ->Unit(benchmark::kMicrosecond);
  }
}

void EncodeDouble(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->encode(s.values));
}
void DecodeDouble(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.encoder->decode(s.pt));
}
void EncryptPublic(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.encryptor->encrypt(s.pt));
}
void EncryptSecret(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.sym->encrypt(s.pt));
}
void Decrypt(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.decryptor->decrypt(s.a));
}
void EvaluateAddCt(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  Ciphertext c = s.a;
  for (auto _ : st) {
    s.ev->add_inplace(c, s.b);
    benchmark::ClobberMemory();
  }
}
// acc += w * ct: the linear-layer op of a CKKS backend (no sealbench counterpart).
void EvaluateMulScalarAdd(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  Ciphertext acc = s.ev->multiply_scalar(s.a, 0.5);
  for (auto _ : st) {
    s.ev->multiply_scalar_add_inplace(acc, s.b, -0.25);
    benchmark::ClobberMemory();
  }
}
void EvaluateMulCt(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->multiply(s.a, s.b));
}
void EvaluateMulPt(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->multiply_plain(s.a, s.pt));
}
void EvaluateSquare(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->square(s.a));
}
// In-place ops get a fresh copy outside the timed region, as sealbench does.
void EvaluateRescaleInplace(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) {
    st.PauseTiming();
    Ciphertext c = s.ab;
    st.ResumeTiming();
    s.ev->rescale_inplace(c);
    benchmark::DoNotOptimize(c);
  }
}
void EvaluateRelinInplace(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) {
    st.PauseTiming();
    Ciphertext c = s.a3;
    st.ResumeTiming();
    s.ev->relinearize_inplace(c, s.rk);
    benchmark::DoNotOptimize(c);
  }
}
void EvaluateRotate(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  for (auto _ : st) benchmark::DoNotOptimize(s.ev->rotate(s.a, 1, s.gk));
}
// sealbench's UTIL NTTForward transforms both polynomials of a top-level ciphertext (2 x L rows);
// NTTForwardLowLevel one row.
void NTTForward(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  Ciphertext c = s.a;
  for (auto _ : st) {
    for (std::size_t k = 0; k < 2; ++k)
      for (std::size_t i = 0; i < c.level(); ++i) leukocrypt::he::forward_ntt(c.data(k, i), s.ctx->ntt(i));
    benchmark::ClobberMemory();
  }
}
void NTTForwardLowLevel(benchmark::State& st, std::size_t n) {
  auto& s = setup(n);
  std::vector<std::uint64_t> v(s.a.data(0, 0), s.a.data(0, 0) + n);
  for (auto _ : st) {
    leukocrypt::he::forward_ntt(v.data(), s.ctx->ntt(0));
    benchmark::ClobberMemory();
  }
}

}  // namespace

int main(int argc, char** argv) {
  // One thread, as SEAL's reference figures (a lone key switch would otherwise use the global pool).
  setenv("LEUKOCRYPT_THREADS", "1", /*overwrite=*/0);
  add("CKKS", "EncodeDouble", EncodeDouble);
  add("CKKS", "DecodeDouble", DecodeDouble);
  add("CKKS", "EncryptPublic", EncryptPublic);
  add("CKKS", "EncryptSecret", EncryptSecret);
  add("CKKS", "Decrypt", Decrypt);
  add("CKKS", "EvaluateAddCt", EvaluateAddCt);
  add("CKKS", "EvaluateMulScalarAdd", EvaluateMulScalarAdd);
  add("CKKS", "EvaluateMulCt", EvaluateMulCt);
  add("CKKS", "EvaluateMulPt", EvaluateMulPt);
  add("CKKS", "EvaluateSquare", EvaluateSquare);
  add("CKKS", "EvaluateRescaleInplace", EvaluateRescaleInplace);
  add("CKKS", "EvaluateRelinInplace", EvaluateRelinInplace);
  add("CKKS", "EvaluateRotate", EvaluateRotate);
  add("UTIL", "NTTForward", NTTForward);
  add("UTIL", "NTTForwardLowLevel", NTTForwardLowLevel, true);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
