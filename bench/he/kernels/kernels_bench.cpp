// Google Benchmark for the HE kernels: forward / forward-lazy / inverse NTT and the element-wise
// multiply, fused scalar multiply-add and base-conversion dot product, at N = 4096..32768, for a ~50-bit prime (the IFMA range)
// and a ~60-bit prime, each run with the scalar reference and with the dispatched ISA
// (LEUKOCRYPT_KERNELS applies to the latter). Names: <op>/<scalar|isa>/<bits>bit/N.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <random>
#include <utility>
#include <vector>
#include <string>

#include "common/aligned_buffer.h"
#include "he/kernels/dispatch.h"
#include "he/kernels/kernel_table.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"

namespace leukocrypt::he {
namespace {

AlignedBuffer<std::uint64_t> random_poly(std::size_t n, std::uint64_t q, std::uint64_t seed) {
  AlignedBuffer<std::uint64_t> a(n);
  std::mt19937_64 rng(seed);
  for (auto& x : a) x = rng() % q;
  return a;
}

void register_ntt(const char* op, KernelTable::Ntt fn, const std::string& isa, int bits, int log_n) {
  const std::size_t n = std::size_t{1} << log_n;
  auto tables = std::make_shared<NttTables>(n, Modulus(ntt_primes_below(bits, log_n, 1)[0]));
  const std::string name = std::string(op) + "/" + isa + "/" + std::to_string(bits) + "bit/" +
                           std::to_string(n);
  benchmark::RegisterBenchmark(name.c_str(), [fn, tables](benchmark::State& state) {
    auto a = random_poly(tables->n(), tables->modulus().value(), 1);
    for (auto _ : state) {
      fn(a.data(), *tables);  // in place: each op's output range is a valid input range
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(tables->n()));
  })->Unit(benchmark::kMicrosecond);
}

void register_eltwise(const KernelTable& k, const std::string& isa, int bits, int log_n) {
  const std::size_t n = std::size_t{1} << log_n;
  const Modulus q(ntt_primes_below(bits, log_n, 1)[0]);
  const std::string suffix = "/" + isa + "/" + std::to_string(bits) + "bit/" + std::to_string(n);
  benchmark::RegisterBenchmark(("eltwise_mul_mod" + suffix).c_str(), [&k, q, n](benchmark::State& state) {
    auto a = random_poly(n, q.value(), 2), b = random_poly(n, q.value(), 3);
    for (auto _ : state) {
      k.mul_mod(a.data(), a.data(), b.data(), n, q);
      benchmark::ClobberMemory();
    }
  })->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("eltwise_fma_scalar_mod" + suffix).c_str(), [&k, q, n](benchmark::State& state) {
    auto acc = random_poly(n, q.value(), 4), a = random_poly(n, q.value(), 5);
    const ShoupOperand w = make_shoup(q.value() / 3, q.value());
    for (auto _ : state) {
      k.fma_scalar_mod(acc.data(), a.data(), w, n, q);
      benchmark::ClobberMemory();
    }
  })->Unit(benchmark::kMicrosecond);
  // The base-conversion dot product over 18 rows (the N = 32768 default: 17 primes + v), the work
  // of 18 eltwise_fma_scalar_mod passes.
  benchmark::RegisterBenchmark(("eltwise_dot_scalar_mod_k18" + suffix).c_str(), [&k, q, n](benchmark::State& state) {
    constexpr std::size_t kRows = 18;
    auto in = random_poly(kRows * n, q.value(), 6);
    AlignedBuffer<std::uint64_t> out(n);
    const std::uint64_t* rows[kRows];
    ShoupOperand w[kRows];
    for (std::size_t i = 0; i < kRows; ++i) {
      rows[i] = in.data() + i * n;
      w[i] = make_shoup(q.value() / (i + 2), q.value());
    }
    for (auto _ : state) {
      k.dot_scalar_mod(out.data(), rows, w, kRows, n, q);
      benchmark::ClobberMemory();
    }
  })->Unit(benchmark::kMicrosecond);
}

// One block of a CryptoNets linear layer as nn::BfvPlanEvaluator runs it: 16 outputs of 256
// coefficients, 32 inputs each feeding every output (512 taps of weights |w| <= 255). "shoup"
// reduces every term (eltwise_fma_scalar_mod); "lazy" adds unreduced (eltwise_mac_small) and
// reduces each output once (eltwise_reduce_mod). items = taps x coefficients.
void register_linear_block(const KernelTable& k, const std::string& isa, int bits) {
  constexpr std::size_t kOut = 16, kIn = 32, kLen = 256;
  const Modulus q(ntt_primes_below(bits, 12, 1)[0]);
  auto setup = [q] {
    auto x = random_poly(kIn * kLen, q.value(), 7);
    std::vector<std::int64_t> w(kOut * kIn);
    std::mt19937_64 rng(8);
    for (auto& v : w) v = std::int64_t(rng() % 511) - 255;
    return std::make_pair(std::move(x), std::move(w));
  };
  const std::string suffix = "/" + isa + "/" + std::to_string(bits) + "bit/16x32x256";
  benchmark::RegisterBenchmark(("linear_block_shoup" + suffix).c_str(), [&k, q, setup](benchmark::State& state) {
    auto [x, w] = setup();
    std::vector<ShoupOperand> shoup;
    for (auto v : w) shoup.push_back(make_shoup(v < 0 ? q.value() - std::uint64_t(-v) : std::uint64_t(v), q.value()));
    AlignedBuffer<std::uint64_t> acc(kOut * kLen);
    for (auto _ : state) {
      std::fill(acc.begin(), acc.end(), 0);
      for (std::size_t u = 0; u < kIn; ++u)
        for (std::size_t o = 0; o < kOut; ++o)
          k.fma_scalar_mod(acc.data() + o * kLen, x.data() + u * kLen, shoup[o * kIn + u], kLen, q);
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(kOut * kIn * kLen));
  })->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark(("linear_block_lazy" + suffix).c_str(), [&k, q, setup](benchmark::State& state) {
    auto [x, w] = setup();
    AlignedBuffer<std::uint64_t> acc(kOut * kLen);
    for (auto _ : state) {
      std::fill(acc.begin(), acc.end(), 0);
      for (std::size_t u = 0; u < kIn; ++u)
        for (std::size_t o = 0; o < kOut; ++o)
          k.mac_small(acc.data() + o * kLen, x.data() + u * kLen, w[o * kIn + u], kLen, q);
      for (std::size_t o = 0; o < kOut; ++o) k.reduce_mod(acc.data() + o * kLen, acc.data() + o * kLen, kLen, q);
      benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(state.iterations() * std::int64_t(kOut * kIn * kLen));
  })->Unit(benchmark::kMicrosecond);
}

void register_all() {
  const KernelTable& scalar_table = kernel_table(KernelIsa::kScalar);
  const KernelTable& active = active_kernel_table();
  const std::string active_name = std::string("dispatched-") + to_string(active.isa);
  for (int bits : {50, 60}) {
    for (int log_n = 12; log_n <= 15; ++log_n) {
      for (int dispatched = 0; dispatched < 2; ++dispatched) {
        const KernelTable* k = dispatched ? &active : &scalar_table;
        const std::string isa = dispatched ? active_name : "scalar";
        register_ntt("ntt_forward", k->forward_ntt, isa, bits, log_n);
        register_ntt("ntt_forward_lazy", k->forward_ntt_lazy, isa, bits, log_n);
        register_ntt("ntt_inverse", k->inverse_ntt, isa, bits, log_n);
        register_eltwise(*k, isa, bits, log_n);
        if (log_n == 12) register_linear_block(*k, isa, bits);
      }
    }
  }
}

}  // namespace
}  // namespace leukocrypt::he

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("kernel_isa", leukocrypt::he::to_string(leukocrypt::he::active_isa()));
  leukocrypt::he::register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
