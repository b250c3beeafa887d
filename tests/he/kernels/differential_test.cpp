// Differential tests: every SIMD kernel variant (the emulated IFMA bodies everywhere, and each
// real ISA this CPU supports) must equal the scalar reference on random data and edge values
// (0, q - 1, lazy-range inputs) for moduli of 20..61 bits and n = 8..32768.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "he/kernels/dispatch.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/kernel_table.h"
#include "he/kernels/ntt.h"
#include "he/math/primes.h"
#include "ifma_emulated.h"

namespace leukocrypt::he {
namespace {

struct Variant {
  std::string name;
  KernelTable table;
  bool emulated;
};

void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

std::vector<Variant> variants() {
  std::vector<Variant> v;
  namespace e = ifma_emulated;
  v.push_back({"ifma-emulated",
               KernelTable{KernelIsa::kAvx512Ifma, e::forward_ntt, e::forward_ntt_lazy,
                           e::inverse_ntt, e::eltwise_add_mod, e::eltwise_sub_mod,
                           e::eltwise_neg_mod, e::eltwise_mul_mod, e::eltwise_mul_scalar_mod,
                           e::eltwise_fma_scalar_mod, e::eltwise_add_scalar_mod,
                           e::eltwise_reduce_mod, e::eltwise_mul_add_mod,
                           e::eltwise_dot_scalar_mod, scalar::eltwise_mac_small,
                           e::eltwise_fma_lazy_mod, e::eltwise_matmul_mod},
               true});
  for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Ifma}) {
    if (isa_supported(isa)) v.push_back({to_string(isa), kernel_table(isa), false});
  }
  return v;
}

const int kBits[] = {20, 25, 30, 35, 40, 45, 48, 49, 50, 51, 55, 60, 61};
const int kLogN[] = {3, 4, 5, 6, 8, 10, 12, 15};

enum class Fill { kRandom, kZero, kMax, kEdges };

std::vector<std::uint64_t> make_input(std::size_t n, std::uint64_t bound, Fill fill,
                                      std::mt19937_64& rng) {
  std::vector<std::uint64_t> a(n);
  for (std::size_t i = 0; i < n; ++i) {
    switch (fill) {
      case Fill::kRandom: a[i] = rng() % bound; break;
      case Fill::kZero: a[i] = 0; break;
      case Fill::kMax: a[i] = bound - 1; break;
      case Fill::kEdges: a[i] = (rng() & 1) ? bound - 1 - (rng() & 3) % bound : (rng() & 3) % bound; break;
    }
  }
  return a;
}

class Differential : public ::testing::TestWithParam<Variant> {};

TEST_P(Differential, NttMatchesScalar) {
  const Variant& v = GetParam();
  std::mt19937_64 rng(42);
  for (int bits : kBits) {
    for (int log_n : kLogN) {
      const std::size_t n = std::size_t{1} << log_n;
      const std::uint64_t qv = ntt_primes_below(bits, log_n, 1)[0];
      const NttTables tables(n, Modulus(qv));
      const std::string where = v.name + " bits=" + std::to_string(bits) + " n=" + std::to_string(n);
      for (Fill fill : {Fill::kRandom, Fill::kZero, Fill::kMax, Fill::kEdges}) {
        // forward_ntt: [0, q) -> [0, q), must be identical.
        auto a = make_input(n, qv, fill, rng);
        auto ref = a, got = a;
        scalar::forward_ntt(ref.data(), tables);
        v.table.forward_ntt(got.data(), tables);
        ASSERT_EQ(got, ref) << "forward " << where;
        // forward_ntt_lazy: [0, 4q) -> [0, 4q), congruent to the scalar result.
        auto lazy_in = make_input(n, 4 * qv, fill, rng);
        auto lref = lazy_in, lgot = lazy_in;
        scalar::forward_ntt_lazy(lref.data(), tables);
        v.table.forward_ntt_lazy(lgot.data(), tables);
        for (std::size_t i = 0; i < n; ++i) {
          ASSERT_LT(lgot[i], 4 * qv) << "lazy range " << where;
          ASSERT_EQ(lgot[i] % qv, lref[i] % qv) << "lazy " << where << " i=" << i;
        }
        // inverse_ntt: [0, 2q) -> [0, q), identical.
        auto inv_in = make_input(n, 2 * qv, fill, rng);
        auto iref = inv_in, igot = inv_in;
        scalar::inverse_ntt(iref.data(), tables);
        v.table.inverse_ntt(igot.data(), tables);
        ASSERT_EQ(igot, iref) << "inverse " << where;
      }
      if (v.emulated) {
        ASSERT_FALSE(ifma_emulated::take_range_violation()) << "52-bit range " << where;
      }
    }
  }
}

TEST_P(Differential, RoundTripIsIdentity) {
  const Variant& v = GetParam();
  std::mt19937_64 rng(43);
  for (int bits : kBits) {
    for (int log_n : kLogN) {
      const std::size_t n = std::size_t{1} << log_n;
      const std::uint64_t qv = ntt_primes_below(bits, log_n, 1)[0];
      const NttTables tables(n, Modulus(qv));
      auto a = make_input(n, qv, Fill::kEdges, rng);
      auto b = a;
      v.table.forward_ntt_lazy(b.data(), tables);
      for (auto& x : b) x %= qv;  // inverse takes [0, 2q)
      v.table.inverse_ntt(b.data(), tables);
      ASSERT_EQ(a, b) << v.name << " bits=" << bits << " n=" << n;
    }
  }
}

TEST_P(Differential, EltwiseMatchesScalar) {
  const Variant& v = GetParam();
  const KernelTable& k = v.table;
  std::mt19937_64 rng(44);
  for (int bits : kBits) {
    const std::uint64_t qv = ntt_primes_below(bits, 3, 1)[0];
    const Modulus q(qv);
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9},
                          std::size_t{1000}, std::size_t{4099}}) {
      for (Fill fill : {Fill::kRandom, Fill::kZero, Fill::kMax, Fill::kEdges}) {
        const std::string where = v.name + " bits=" + std::to_string(bits) + " n=" + std::to_string(n);
        const auto a = make_input(n, qv, fill, rng);
        const auto b = make_input(n, qv, Fill::kEdges, rng);
        std::vector<std::uint64_t> ref(n), got(n);
        auto check_binary = [&](KernelTable::Binary fn, KernelTable::Binary sfn, const char* name) {
          sfn(ref.data(), a.data(), b.data(), n, q);
          fn(got.data(), a.data(), b.data(), n, q);
          ASSERT_EQ(got, ref) << name << " " << where;
          got = a;  // aliasing out == a
          fn(got.data(), got.data(), b.data(), n, q);
          ASSERT_EQ(got, ref) << name << " aliased " << where;
        };
        check_binary(k.add_mod, scalar::eltwise_add_mod, "add");
        check_binary(k.sub_mod, scalar::eltwise_sub_mod, "sub");
        check_binary(k.mul_mod, scalar::eltwise_mul_mod, "mul");
        ref = b; got = b;
        scalar::eltwise_mul_add_mod(ref.data(), a.data(), b.data(), n, q);
        k.mul_add_mod(got.data(), a.data(), b.data(), n, q);
        ASSERT_EQ(got, ref) << "mul_add " << where;
        scalar::eltwise_neg_mod(ref.data(), a.data(), n, q);
        k.neg_mod(got.data(), a.data(), n, q);
        ASSERT_EQ(got, ref) << "neg " << where;
        for (std::uint64_t w : {std::uint64_t{0}, std::uint64_t{1}, qv - 1, rng() % qv}) {
          const ShoupOperand ws = make_shoup(w, qv);
          scalar::eltwise_mul_scalar_mod(ref.data(), a.data(), ws, n, q);
          k.mul_scalar_mod(got.data(), a.data(), ws, n, q);
          ASSERT_EQ(got, ref) << "mul_scalar w=" << w << " " << where;
          ref = b; got = b;
          scalar::eltwise_fma_scalar_mod(ref.data(), a.data(), ws, n, q);
          k.fma_scalar_mod(got.data(), a.data(), ws, n, q);
          ASSERT_EQ(got, ref) << "fma_scalar w=" << w << " " << where;
          scalar::eltwise_add_scalar_mod(ref.data(), a.data(), w, n, q);
          k.add_scalar_mod(got.data(), a.data(), w, n, q);
          ASSERT_EQ(got, ref) << "add_scalar c=" << w << " " << where;
        }
        // Scalar products accept any a < 2^52 (residues of another prime in base conversion).
        std::vector<std::uint64_t> a52(n);
        for (auto& x : a52) x = rng() >> 12;
        if (n > 1) { a52[0] = (1ull << 52) - 1; a52[1] = 4 * qv - 1; }
        for (std::uint64_t w : {qv - 1, rng() % qv}) {
          const ShoupOperand ws = make_shoup(w, qv);
          scalar::eltwise_mul_scalar_mod(ref.data(), a52.data(), ws, n, q);
          k.mul_scalar_mod(got.data(), a52.data(), ws, n, q);
          ASSERT_EQ(got, ref) << "mul_scalar (a < 2^52) w=" << w << " " << where;
          ref = b; got = b;
          scalar::eltwise_fma_scalar_mod(ref.data(), a52.data(), ws, n, q);
          k.fma_scalar_mod(got.data(), a52.data(), ws, n, q);
          ASSERT_EQ(got, ref) << "fma_scalar (a < 2^52) w=" << w << " " << where;
        }
        std::vector<std::uint64_t> wide(n);
        for (auto& x : wide) x = rng();
        if (n > 1) { wide[0] = ~0ull; wide[1] = 0; }
        scalar::eltwise_reduce_mod(ref.data(), wide.data(), n, q);
        k.reduce_mod(got.data(), wide.data(), n, q);
        ASSERT_EQ(got, ref) << "reduce " << where;
        if (v.emulated) {
        ASSERT_FALSE(ifma_emulated::take_range_violation()) << "52-bit range " << where;
      }
      }
    }
  }
}

// The base-conversion dot product: rows < 2^52 (all-max, edges, random), weights 0, 1, q-1 and
// random, k = 1..64 (reductions every 4 terms: k = 3, 4, 5 and 64 cross them), tails n % 8 != 0.
TEST_P(Differential, DotScalarMatchesScalar) {
  const Variant& v = GetParam();
  std::mt19937_64 rng(46);
  for (int bits : kBits) {
    const std::uint64_t qv = ntt_primes_below(bits, 3, 1)[0];
    const Modulus q(qv);
    for (std::size_t k : {1, 2, 3, 4, 5, 8, 17, 19, 64}) {
      for (std::size_t n : {std::size_t{1}, std::size_t{9}, std::size_t{64}, std::size_t{1003}}) {
        for (Fill fill : {Fill::kRandom, Fill::kMax, Fill::kEdges}) {
          const std::string where = v.name + " bits=" + std::to_string(bits) + " k=" +
                                    std::to_string(k) + " n=" + std::to_string(n);
          std::vector<std::vector<std::uint64_t>> data;
          std::vector<const std::uint64_t*> rows;
          std::vector<ShoupOperand> w;
          for (std::size_t i = 0; i < k; ++i) {
            const std::uint64_t bound = i % 3 == 0 ? (1ull << 52) : (i % 3 == 1 ? qv : 4 * qv);
            data.push_back(make_input(n, std::min<std::uint64_t>(bound, 1ull << 52), fill, rng));
            const std::uint64_t wi = i % 4 == 0 ? qv - 1 : (i % 4 == 1 ? rng() % qv : (i % 4 == 2 ? 1 : 0));
            w.push_back(make_shoup(fill == Fill::kMax ? qv - 1 : wi, qv));
          }
          for (auto& d : data) rows.push_back(d.data());
          std::vector<std::uint64_t> ref(n), got(n, 7);
          scalar::eltwise_dot_scalar_mod(ref.data(), rows.data(), w.data(), k, n, q);
          v.table.dot_scalar_mod(got.data(), rows.data(), w.data(), k, n, q);
          ASSERT_EQ(got, ref) << "dot_scalar " << where;
        }
      }
    }
  }
}

// Lazy multiply-adds: after the longest run fma_lazy_terms allows and one eltwise_reduce_mod, every
// variant gives the scalar result (the lazy accumulators themselves may differ by multiples of q).
TEST_P(Differential, FmaLazyThenReduceMatchesScalar) {
  const Variant& v = GetParam();
  std::mt19937_64 rng(47);
  for (int bits : kBits) {
    const std::uint64_t qv = ntt_primes_below(bits, 3, 1)[0];
    const Modulus q(qv);
    const std::size_t terms = std::min<std::size_t>(fma_lazy_terms(q), 300);
    for (std::size_t n : {std::size_t{1}, std::size_t{9}, std::size_t{1003}}) {
      for (Fill fill : {Fill::kRandom, Fill::kMax, Fill::kEdges}) {
        std::vector<std::uint64_t> ref = make_input(n, qv, fill, rng), got = ref;
        for (std::size_t t = 0; t < terms; ++t) {
          const auto a = make_input(n, qv, fill, rng);
          const ShoupOperand w = make_shoup(fill == Fill::kMax ? qv - 1 : rng() % qv, qv);
          scalar::eltwise_fma_lazy_mod(ref.data(), a.data(), w, n, q);
          v.table.fma_lazy_mod(got.data(), a.data(), w, n, q);
        }
        scalar::eltwise_reduce_mod(ref.data(), ref.data(), n, q);
        scalar::eltwise_reduce_mod(got.data(), got.data(), n, q);
        ASSERT_EQ(got, ref) << v.name << " bits=" << bits << " n=" << n;
      }
    }
  }
}

// Dense products: every variant gives the scalar result for every tile shape (m = 1..13 covers the
// 8/4/2/1 tiles), the largest term count, and inputs at q - 1 (the largest lane sums).
TEST_P(Differential, MatmulMatchesScalar) {
  const Variant& v = GetParam();
  std::mt19937_64 rng(53);
  for (int bits : kBits) {
    const std::uint64_t qv = ntt_primes_below(bits, 3, 1)[0];
    const Modulus q(qv);
    for (std::size_t k : {std::size_t{1}, std::size_t{25}, kMatmulMaxTerms}) {
      for (std::size_t m : {std::size_t{1}, std::size_t{7}, std::size_t{13}}) {
        if (k == kMatmulMaxTerms && m > 1 && bits != 50) continue;  // the long sums once per size
        for (Fill fill : {Fill::kRandom, Fill::kMax}) {
          const std::size_t n = 16;
          std::vector<std::vector<std::uint64_t>> rows(k);
          std::vector<const std::uint64_t*> rp(k);
          for (std::size_t j = 0; j < k; ++j) {
            rows[j] = make_input(n, qv, fill, rng);
            rp[j] = rows[j].data();
          }
          const auto w = make_input(m * k, qv, fill, rng);
          std::vector<std::vector<std::uint64_t>> ref(m, std::vector<std::uint64_t>(n)), got = ref;
          std::vector<std::uint64_t*> rr(m), gr(m);
          for (std::size_t o = 0; o < m; ++o) { rr[o] = ref[o].data(); gr[o] = got[o].data(); }
          scalar::eltwise_matmul_mod(rr.data(), rp.data(), w.data(), m, k, n, q);
          v.table.matmul_mod(gr.data(), rp.data(), w.data(), m, k, n, q);
          ASSERT_EQ(got, ref) << v.name << " bits=" << bits << " k=" << k << " m=" << m;
        }
      }
    }
  }
}

TEST(EltwiseMatmul, ScalarReferenceIsTheSumOfProducts) {
  const std::uint64_t qv = ntt_primes_below(58, 3, 1)[0];
  const Modulus q(qv);
  const std::uint64_t r0[2] = {qv - 1, 7}, r1[2] = {qv - 1, 0}, r2[2] = {3, qv - 2};
  const std::uint64_t* rows[3] = {r0, r1, r2};
  const std::uint64_t w[6] = {qv - 1, qv - 1, 5, 1, 0, 2};
  std::uint64_t o0[2], o1[2];
  std::uint64_t* out[2] = {o0, o1};
  scalar::eltwise_matmul_mod(out, rows, w, 2, 3, 2, q);
  for (int c = 0; c < 2; ++c) {
    std::uint64_t want0 = 0, want1 = 0;
    for (int j = 0; j < 3; ++j) {
      want0 = add_mod(want0, mul_mod(rows[j][c], w[j], q), qv);
      want1 = add_mod(want1, mul_mod(rows[j][c], w[3 + j], q), qv);
    }
    EXPECT_EQ(o0[c], want0) << c;
    EXPECT_EQ(o1[c], want1) << c;
  }
}

TEST(EltwiseDot, ScalarReferenceIsTheSumOfProducts) {
  const std::uint64_t qv = ntt_primes_below(40, 3, 1)[0];
  const Modulus q(qv);
  const std::uint64_t r0[3] = {0, qv - 1, (1ull << 52) - 1}, r1[3] = {5, qv - 1, 3};
  const std::uint64_t* rows[2] = {r0, r1};
  const ShoupOperand w[2] = {make_shoup(qv - 1, qv), make_shoup(2, qv)};
  std::uint64_t out[3];
  scalar::eltwise_dot_scalar_mod(out, rows, w, 2, 3, q);
  for (int c = 0; c < 3; ++c) {
    const std::uint64_t want = add_mod(mul_mod(r0[c] % qv, qv - 1, q), mul_mod(r1[c] % qv, 2, q), qv);
    EXPECT_EQ(out[c], want) << c;
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Differential, ::testing::ValuesIn(variants()),
                         [](const ::testing::TestParamInfo<Variant>& info) {
                           std::string s = info.param.name;
                           for (auto& ch : s) if (ch == '-') ch = '_';
                           return s;
                         });

TEST(Dispatch, ActiveIsaIsSupportedAndNamed) {
  EXPECT_TRUE(isa_supported(active_isa()));
  EXPECT_TRUE(isa_supported(KernelIsa::kScalar));
  EXPECT_STREQ(to_string(KernelIsa::kScalar), "scalar");
  EXPECT_STREQ(to_string(KernelIsa::kAvx512Ifma), "ifma");
  EXPECT_EQ(kernel_table(active_isa()).isa, active_isa());
}

TEST(Dispatch, SelectIsaHonoursOverride) {
  EXPECT_EQ(select_isa(nullptr), best_supported_isa());
  EXPECT_EQ(select_isa(""), best_supported_isa());
  EXPECT_EQ(select_isa("scalar"), KernelIsa::kScalar);
  EXPECT_EQ(select_isa("no-such-isa"), best_supported_isa());
  for (KernelIsa isa : {KernelIsa::kAvx2, KernelIsa::kAvx512, KernelIsa::kAvx512Ifma}) {
    EXPECT_EQ(select_isa(to_string(isa)), isa_supported(isa) ? isa : best_supported_isa());
  }
  // Under ctest this binary also runs with LEUKOCRYPT_KERNELS=scalar (he_kernels_forced_scalar).
  // (active_isa() would differ only if the selected kernels failed their start-up self-test.)
  EXPECT_EQ(active_isa(), select_isa(std::getenv("LEUKOCRYPT_KERNELS")));
}

TEST(Dispatch, SelfTestAcceptsGoodAndRejectsBrokenTables) {
  for (const Variant& v : variants()) EXPECT_TRUE(passes_self_test(v.table)) << v.name;
  KernelTable broken = kernel_table(KernelIsa::kScalar);
  EXPECT_TRUE(passes_self_test(broken));
  broken.inverse_ntt = [](std::uint64_t* a, const NttTables& t) {
    scalar::inverse_ntt(a, t);
    a[t.n() - 1] ^= 1;
  };
  EXPECT_FALSE(passes_self_test(broken));
  broken = kernel_table(KernelIsa::kScalar);
  broken.fma_scalar_mod = scalar::eltwise_mul_scalar_mod;
  EXPECT_FALSE(passes_self_test(broken));
}

TEST(Dispatch, PublicFunctionsAgreeWithScalar) {
  const std::size_t n = 4096;
  const std::uint64_t qv = ntt_primes_below(50, 12, 1)[0];
  const NttTables tables(n, Modulus(qv));
  std::mt19937_64 rng(45);
  auto a = make_input(n, qv, Fill::kRandom, rng);
  auto ref = a;
  scalar::forward_ntt(ref.data(), tables);
  forward_ntt(a.data(), tables);
  EXPECT_EQ(a, ref);
  inverse_ntt(a.data(), tables);
  scalar::inverse_ntt(ref.data(), tables);
  EXPECT_EQ(a, ref);
}

}  // namespace
}  // namespace leukocrypt::he
