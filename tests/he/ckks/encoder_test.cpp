// CKKS encoder: the special FFT against a naive DFT over the slot roots, FFT round trips, encode/
// decode round trips (complex, real, constant, every level, scales up to 2^100), bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "common/error.h"
#include "he/ckks/encoder.h"
#include "he/ckks/special_fft.h"
#include "test_util.h"

namespace leukocrypt::ckks {
namespace {

using testing::Complex;
using testing::max_error;
using testing::random_complex;
using testing::tiny_insecure_params;

// z_j = sum_k v_k zeta^(5^j k), zeta = exp(2 pi i / 2N): the definition, O(s^2), in long double.
std::vector<Complex> naive_special_dft(const std::vector<Complex>& v, std::size_t n) {
  const std::size_t s = n / 2, m = 2 * n;
  std::vector<Complex> z(s);
  std::uint64_t g = 1;
  for (std::size_t j = 0; j < s; ++j, g = g * 5 % m) {
    std::complex<long double> acc = 0;
    for (std::size_t k = 0; k < s; ++k) {
      const long double a = 2.0L * std::numbers::pi_v<long double> * static_cast<long double>(g * k % m) / m;
      acc += std::complex<long double>(v[k].real(), v[k].imag()) * std::polar(1.0L, a);
    }
    z[j] = {static_cast<double>(acc.real()), static_cast<double>(acc.imag())};
  }
  return z;
}

// The real polynomial m (N coefficients) evaluated at zeta^(5^j): the canonical embedding itself.
std::vector<Complex> naive_embedding(const std::vector<double>& m, std::size_t n) {
  const std::size_t s = n / 2, M = 2 * n;
  std::vector<Complex> z(s);
  std::uint64_t g = 1;
  for (std::size_t j = 0; j < s; ++j, g = g * 5 % M) {
    std::complex<long double> acc = 0;
    for (std::size_t k = 0; k < n; ++k)
      acc += static_cast<long double>(m[k]) *
             std::polar(1.0L, 2.0L * std::numbers::pi_v<long double> * static_cast<long double>(g * k % M) / M);
    z[j] = {static_cast<double>(acc.real()), static_cast<double>(acc.imag())};
  }
  return z;
}

TEST(CkksSpecialFft, ForwardMatchesNaiveDftAndInverseUndoesIt) {
  std::mt19937_64 rng(7);
  for (std::size_t n : {8u, 16u, 64u, 256u, 1024u}) {
    SpecialFft fft(n);
    auto v = random_complex(n / 2, rng);
    auto z = v;
    fft.forward(z.data());
    EXPECT_LT(max_error(z, naive_special_dft(v, n)), 1e-12 * static_cast<double>(n)) << "N=" << n;
    fft.inverse(z.data());
    EXPECT_LT(max_error(z, v), 1e-14 * static_cast<double>(n)) << "N=" << n;
  }
}

// Decoding a plaintext whose coefficients we set by hand evaluates that polynomial at the slot
// roots: the encoder's FFT agrees with the canonical embedding computed from its definition.
TEST(CkksEncoder, DecodeIsTheCanonicalEmbedding) {
  auto ctx = Context::create(tiny_insecure_params());
  Encoder enc(ctx);
  std::mt19937_64 rng(3);
  const std::size_t n = ctx->n();
  std::vector<double> m(n);
  for (auto& c : m) c = static_cast<double>(static_cast<std::int64_t>(rng() % 2001) - 1000);
  const double scale = 1024;
  std::vector<double> scaled(n);
  for (std::size_t k = 0; k < n; ++k) scaled[k] = m[k] / scale;
  // Encoding the embedding of m at scale 1024 must give m back exactly (coefficients are integers).
  auto z = naive_embedding(scaled, n);
  Plaintext pt = enc.encode_complex(z, scale, 1);
  auto got = enc.decode_complex(pt);
  EXPECT_LT(max_error(got, z), 1e-9);
}

TEST(CkksEncoder, RoundTripComplexRealAndConstantAtEveryLevel) {
  auto ctx = Context::create(tiny_insecure_params());
  Encoder enc(ctx);
  std::mt19937_64 rng(11);
  for (std::size_t level = 1; level <= ctx->params().max_level(); ++level) {
    auto v = random_complex(enc.slot_count(), rng, 4.0);
    // Rounding to integers at scale 2^40 costs at most sqrt(N)/2 / 2^40 per slot.
    EXPECT_LT(max_error(enc.decode_complex(enc.encode_complex(v, 0x1p40, level)), v), 1e-10) << level;
    std::vector<double> r(enc.slot_count());
    for (auto& x : r) x = std::uniform_real_distribution<double>(-100, 100)(rng);
    auto back = enc.decode(enc.encode(r, 0x1p30, level));
    for (std::size_t j = 0; j < r.size(); ++j) EXPECT_NEAR(back[j], r[j], 1e-7);
    auto c = enc.decode_complex(enc.encode_constant(-3.25, 0x1p40, level));
    for (const auto& x : c) EXPECT_LT(std::abs(x - Complex(-3.25, 0)), 1e-11);
  }
}

TEST(CkksEncoder, ShortInputPadsWithZerosAndHugeScalesStayExact) {
  auto ctx = Context::create(tiny_insecure_params());
  Encoder enc(ctx);
  std::vector<double> v = {1.5, -2.5, 3.0};
  auto back = enc.decode(enc.encode(v));
  ASSERT_EQ(back.size(), enc.slot_count());
  for (std::size_t j = 0; j < back.size(); ++j) EXPECT_NEAR(back[j], j < 3 ? v[j] : 0.0, 1e-9);
  // Scale 2^100 at the top level (4 primes, ~170 bits): coefficients above 2^64 go through the
  // exact mantissa/exponent reduction, and decode in 128-bit arithmetic.
  back = enc.decode(enc.encode(v, 0x1p100, 4));
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(back[j], v[j], 1e-12);
  // Coefficients above 2^126 leave decoding's 128-bit fast path for the multi-precision CRT.
  back = enc.decode(enc.encode(v, 0x1p135, 4));
  for (std::size_t j = 0; j < 3; ++j) EXPECT_NEAR(back[j], v[j], 1e-12);
}

TEST(CkksEncoder, RejectsBadInput) {
  auto ctx = Context::create(tiny_insecure_params());
  Encoder enc(ctx);
  std::vector<double> too_many(enc.slot_count() + 1, 1.0);
  EXPECT_THROW(enc.encode(too_many), InvalidArgument);
  std::vector<double> nan = {std::nan("")};
  EXPECT_THROW(enc.encode(nan), InvalidArgument);
  std::vector<double> big = {1e6};
  EXPECT_THROW(enc.encode(big, 0x1p50, 1), InvalidArgument);  // 2^70 does not fit in q_0 (50 bits)
  EXPECT_THROW(enc.encode(big, 0x1p20, 9), InvalidArgument);  // no level 9
  EXPECT_THROW(enc.encode(big, -1.0, 1), InvalidArgument);
  auto other = Context::create(tiny_insecure_params(2));
  EXPECT_THROW(Encoder(other).decode(enc.encode(big, 0x1p20)), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::ckks
