// Circuit privacy (nn/circuit_privacy.h): results of two different "models" with the same outputs
// must carry statistically indistinguishable decrypted noise, and stay exact.
//
// The two models: A multiplies the input by 1, B computes y = 128 x + 130 x (= x mod t) twice —
// the same outputs, but B's evaluation noise is ~258^2 ~ 2^16 times A's. The test: two-sample
// Kolmogorov-Smirnov on the centred decrypted noise of 64 ciphertexts x 64 coefficients = 4096
// values per model, alpha = 0.001 (critical D = 1.949 * sqrt(2/4096) = 0.0431).
// Its power: by the Dvoretzky-Kiefer-Wolfowitz inequality each empirical CDF is within 0.027 of its
// distribution's with probability >= 1 - 2 exp(-2 * 4096 * 0.027^2) > 0.995, so noise distributions
// at KS distance >= 0.1 are rejected with probability >= 0.99; without circuit privacy it rejects
// (D ~ 0.5), checked below. What it cannot see: statistical distances far
// below 0.1, e.g. the 2^-40 of real parameters; that figure rests on the analysis in the header
// (here, tiny INSECURE parameters: w ~ 17 bits of evaluation noise, b = 28 flooding bits, per
// coefficient distance <= 2^(w-b-1) ~ 2^-12, below the test's reach as it should be).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "he/bfv/decryptor.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/key_generator.h"
#include "he/kernels/eltwise.h"
#include "he/kernels/ntt.h"
#include "common/error.h"
#include "nn/circuit_privacy.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "ks_statistic.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

constexpr double kKsCritical = testing::kKsCritical4096;
using testing::ks_statistic;

// Centred noise of a level-1 ciphertext: [c0 + c1*s]_q0 - round(q0*m/t), per coefficient.
std::vector<double> noise_of(const bfv::Context& ctx, const bfv::SecretKey& sk, const bfv::Ciphertext& ct,
                             const bfv::Plaintext& m) {
  const std::size_t n = ctx.n();
  const auto& q = ctx.modulus(0);
  const std::uint64_t qv = q.value(), t = ctx.params().t();
  std::vector<std::uint64_t> x(ct.data(1, 0), ct.data(1, 0) + n);
  he::forward_ntt(x.data(), ctx.ntt(0));
  he::eltwise_mul_mod(x.data(), x.data(), sk.ntt(0), n, q);
  he::inverse_ntt(x.data(), ctx.ntt(0));
  std::vector<double> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t w = (x[i] + ct.data(0, 0)[i]) % qv;
    const auto scaled = static_cast<std::uint64_t>((static_cast<unsigned __int128>(qv) * m[i] + t / 2) / t);
    const std::uint64_t v = (w + qv - scaled % qv) % qv;
    out[i] = v > qv / 2 ? -double(qv - v) : double(v);
  }
  return out;
}

struct TwoModels {
  bfv::ContextPtr ctx = bfv::Context::create(
      bfv::Params::create(64, {40, 40, 40, 41}, 257, bfv::Security::kInsecureForTests));  // INSECURE, tests only
  bfv::KeyGenerator kg{ctx};
  bfv::PublicKey pk = kg.create_public_key();
  bfv::Encryptor enc{ctx, pk};
  bfv::Evaluator ev{ctx};
  bfv::Decryptor dec{ctx, kg.secret_key()};
  CircuitPrivacy privacy{ctx, pk};
};

// 64 results of model A (weight 1) and B (weight (t+1)^2) on the same inputs: noise samples.
void run_models(TwoModels& s, bool with_privacy, std::vector<double>& noise_a, std::vector<double>& noise_b) {
  for (int r = 0; r < 64; ++r) {
    bfv::Plaintext m(s.ctx->params_id(), s.ctx->n());
    for (std::size_t i = 0; i < m.n(); ++i) m[i] = (i * 31 + r * 7) % 257;
    auto x = s.enc.encrypt(m);
    s.ev.mod_switch_to_inplace(x, 1);
    auto a = s.ev.multiply_scalar(x, 1);
    // 128 x + 128 x + 2 x = 258 x = x (mod t), twice: the same plaintext, ~258^2 times the noise
    // (weights within the evaluator's centred range, so the products are not reduced mod t).
    auto b = x;
    for (int k = 0; k < 2; ++k) {
      auto y = s.ev.multiply_scalar(b, 128);
      s.ev.multiply_scalar_add_inplace(y, b, 128);
      s.ev.multiply_scalar_add_inplace(y, b, 2);
      b = y;
    }
    for (auto* ct : {&a, &b}) {
      if (with_privacy) s.privacy.apply(*ct);
      auto d = s.dec.decrypt(*ct);
      for (std::size_t i = 0; i < m.n(); ++i) ASSERT_EQ(d[i], m[i]) << "exactness lost at coefficient " << i;
    }
    auto na = noise_of(*s.ctx, s.kg.secret_key(), a, m), nb = noise_of(*s.ctx, s.kg.secret_key(), b, m);
    noise_a.insert(noise_a.end(), na.begin(), na.end());
    noise_b.insert(noise_b.end(), nb.begin(), nb.end());
  }
}

TEST(CircuitPrivacy, NoiseOfTwoModelsWithTheSameOutputsIsIndistinguishable) {
  TwoModels s;
  EXPECT_EQ(s.privacy.flood_bits(1), 28);  // floor(log2(q0 / 257)) - 3 = floor(31.99) - 3
  std::vector<double> a, b;
  run_models(s, false, a, b);
  const double d_off = ks_statistic(a, b);
  EXPECT_GT(d_off, kKsCritical) << "the test has no power: without flooding the models should differ";
  a.clear();
  b.clear();
  run_models(s, true, a, b);
  const double d_on = ks_statistic(a, b);
  EXPECT_LT(d_on, kKsCritical) << "flooded noise distinguishes the models (KS D = " << d_on << ")";
  std::printf("KS D without circuit privacy %.4f, with %.4f (critical %.4f at alpha 0.001, n = m = %zu)\n", d_off,
              d_on, kKsCritical, a.size());
}

TEST(CircuitPrivacy, ReserveCoversTheLargestJobAt40Bits) {
  // 40 + log2(2 c N C) / 2 + 2: C-NMC at N = 16384 (2 classes, 2 primes, one batch under 16,384 cells).
  EXPECT_DOUBLE_EQ(flood_ratio_bits(16384, 4), 40 + 0.5 * std::log2(2 * kFloodHellinger * 16384 * 4));
  EXPECT_DOUBLE_EQ(circuit_privacy_reserved_bits(16384, 4), flood_ratio_bits(16384, 4) + 2);
  EXPECT_NEAR(circuit_privacy_reserved_bits(16384, 4), 49.3, 0.05);  // one uniform, union bound: 57
  // Four times the coefficients cost one bit (square root), not two.
  EXPECT_DOUBLE_EQ(flood_ratio_bits(16384, 16), flood_ratio_bits(16384, 4) + 1);
  EXPECT_THROW(circuit_privacy_reserved_bits(16384, 0), InvalidArgument);
  // A capped flood (Delta > 2^129) adds the excess: t = 65537, Q = 2^(60+50+50+50) at the top.
  const auto big = bfv::Params::create(16384, {60, 50, 50, 50, 50}, 65537, bfv::Security::kInsecureForTests);
  EXPECT_DOUBLE_EQ(circuit_privacy_reserved_bits(big, 1, 4), circuit_privacy_reserved_bits(16384, 4));
  EXPECT_GT(circuit_privacy_reserved_bits(big, 4, 4), circuit_privacy_reserved_bits(16384, 4) + 50);
}

// The constant behind the reserve: W^2 H^2(p, p(. - 1)) <= kFloodHellinger for the law p of the sum
// of three independent uniforms on the integers of [-W, W), computed exactly (p(x) is the number
// of (i, j, k) with i + j + k = x over (2W)^3; 1 - BC summed in long double as
// sum (sqrt p(x) - sqrt p(x-1))^2 / 2, which has no cancellation). It falls with W towards the
// continuous I/8 = 0.1426; every flood width 2^b, b >= 0, is covered.
TEST(CircuitPrivacy, FloodHellingerConstantBoundsTheExactDistance) {
  const auto count = [](long long s, long long m) {  // #{a + b + c = s, 0 <= a, b, c < m}
    const auto c2 = [](long long k) { return k >= 0 ? (k + 2) * (k + 1) / 2 : 0; };
    return c2(s) - 3 * c2(s - m) + 3 * c2(s - 2 * m) - c2(s - 3 * m);
  };
  double previous = 1;
  for (long long w = 1; w <= 4096; w *= 2) {
    const long long m = 2 * w;
    const long double total = static_cast<long double>(m) * m * m;
    long double h2 = 0, mass = 0;
    for (long long s = 0; s <= 3 * m - 2 + 1; ++s) {  // shift by one: one value past the support
      const long double a = std::sqrt(count(s, m) / total), b = s > 0 ? std::sqrt(count(s - 1, m) / total) : 0;
      h2 += (a - b) * (a - b) / 2;
      mass += count(s, m) / total;
    }
    ASSERT_NEAR(static_cast<double>(mass), 1.0, 1e-12);
    const double scaled = static_cast<double>(h2 * w * w);
    EXPECT_LE(scaled, kFloodHellinger) << "W = " << w;
    EXPECT_LE(scaled, previous) << "W = " << w;
    previous = scaled;
  }
  EXPECT_NEAR(previous, 0.1426, 0.001);  // W = 4096: near the continuous limit
}

// The flood's law: |e| <= 3 * 2^b, mean -3/2, variance ~2^(2b); residues agree across moduli.
TEST(CircuitPrivacy, FloodSampleIsThreeUniformsInEveryResidue) {
  const std::size_t n = 1 << 15;
  const he::Modulus q1(1152921504606830593ULL), q2(1125899906826241ULL);
  for (int b : {0, 5, 40, 63, 64, 100, kMaxFloodBits}) {
    const FloodSample e(n, b);
    std::vector<std::uint64_t> r1(n), r2(n);
    e.residues(q1, r1.data());
    e.residues(q2, r2.data());
    const long double unit = std::ldexp(1.0L, b);
    long double sum = 0, sum2 = 0, largest = 0;
    int below = 0, above = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // Where 3 * 2^b < q2 / 2 (b <= 45) the centred residues are e itself: both moduli agree.
      ASSERT_LT(r1[i], q1.value());
      ASSERT_LT(r2[i], q2.value());
      if (b <= 45) {
        const long double x = r1[i] > q1.value() / 2 ? -static_cast<long double>(q1.value() - r1[i]) : r1[i];
        const long double y = r2[i] > q2.value() / 2 ? -static_cast<long double>(q2.value() - r2[i]) : r2[i];
        ASSERT_EQ(x, y) << "b = " << b << ", coefficient " << i;
        sum += x / unit;
        sum2 += (x / unit) * (x / unit);
        largest = std::max(largest, std::fabs(x / unit));
        (x < 0 ? below : above)++;
      }
    }
    if (b > 45) continue;
    EXPECT_LE(largest, 3.0L) << "b = " << b;
    if (b >= 5) {  // mean -3/2 (each uniform's is -1/2), E[(e/2^b)^2] ~ 1, spread well past one width
      EXPECT_NEAR(static_cast<double>(sum / n), -1.5 / static_cast<double>(unit), 0.03) << "b = " << b;
      EXPECT_NEAR(static_cast<double>(sum2 / n), 1.0, 0.05) << "b = " << b;
      EXPECT_GT(largest, 2.0L) << "b = " << b;
      EXPECT_GT(below, int(n / 3)) << "b = " << b;
      EXPECT_GT(above, int(n / 3)) << "b = " << b;
    }
  }
}

TEST(CircuitPrivacy, JobCiphertextsFollowTheCaps) {
  auto plan = lower(quantize(collapse_linear(testing::tiny_model()), QuantizeOptions{}));
  BfvSettings s;
  s.n = 4096;
  s.plain_primes = {1, 2, 3};
  const std::size_t outputs = plan.output_size();
  EXPECT_EQ(result_ciphertexts_per_job(plan, s, {16384, 2}), 2 * 3 * outputs);  // capped by batches
  EXPECT_EQ(result_ciphertexts_per_job(plan, s, {4096, 2}), 1 * 3 * outputs);   // capped by cells
  EXPECT_EQ(required_final_budget(plan, s, 10, false, {}), 10);
  EXPECT_DOUBLE_EQ(required_final_budget(plan, s, 10, true, {4096, 2}),
                   circuit_privacy_reserved_bits(4096, 3 * outputs));
  EXPECT_EQ(required_final_budget(plan, s, 500, true, {}), 500);  // the larger of margin and reserve
}

TEST(CircuitPrivacy, ParamsReserveTheFloodingBitsAndCountTheirCost) {
  auto plan = lower(quantize(collapse_linear(testing::tiny_model()), QuantizeOptions{}));
  ParamsRequest req;
  req.bits_needed = 70;
  req.n = 16384;
  req.plain_primes = {957181001729ULL, 957181034497ULL};
  auto on = choose_params(plan, req);
  req.circuit_privacy = false;
  auto off = choose_params(plan, req);
  const std::size_t cts = 1 * 2 * plan.output_size();  // one batch of N = 16384 cells, 2 primes
  const double reserve = circuit_privacy_reserved_bits(16384, cts);
  EXPECT_EQ(on.circuit_privacy_ciphertexts, cts);
  EXPECT_EQ(on.circuit_privacy_bits, reserve);
  EXPECT_EQ(off.circuit_privacy_bits, 0);
  EXPECT_GE(on.noise.final_budget, reserve);
  EXPECT_GE(reserve, req.margin_bits);
  EXPECT_GT(on.cost.server_seconds, off.cost.server_seconds);
  const auto j = on.to_json()["circuit_privacy"];
  EXPECT_EQ(j["statistical_security_bits"], 40);
  EXPECT_EQ(j["result_ciphertexts_per_job"], cts);
  EXPECT_EQ(j["max_cells_per_job"], 16384);
}

}  // namespace
}  // namespace leukocrypt::nn
