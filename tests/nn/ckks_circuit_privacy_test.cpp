// CKKS circuit privacy (nn/ckks_circuit_privacy.h), with tiny INSECURE parameters (N = 64, named
// so): a sanitised result decrypts within the precision model's bound including the flood, its c1
// is fresh, bad input is refused, and the decrypted errors of two different circuits with the
// same outputs cannot be told apart once flooded with the bits the derivation prescribes.
//
// The two circuits: A computes (x * 1) * 1, B computes (x * 2^-10) * 2^10, each product followed
// by a rescale: the same outputs, but B multiplies the first rescale's rounding by 2^10, so its
// error is ~2^10 times A's. The test: two-sample Kolmogorov-Smirnov on the slot errors (real and
// imaginary parts, times the scale) of 64 results x 32 slots x 2 = 4096 values per circuit,
// alpha = 0.001 (critical D = 0.0431). Its power, as in circuit_privacy_test.cpp (DKW): error
// distributions at KS distance >= 0.1 are rejected with probability >= 0.99; without the flood
// it rejects (D ~ 0.46), checked below. It cannot see distances far below 0.1: the 2^-40 rests on
// the derivation in the header.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "../he/ckks/test_util.h"
#include "common/error.h"
#include "he/ckks/precision_model.h"
#include "nn/ckks_circuit_privacy.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "ks_statistic.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

using ckks::testing::Complex;
using ckks::testing::Keys;
using ckks::testing::max_error;
using ckks::testing::random_complex;
using ckks::testing::tiny_insecure_params;  // INSECURE, tests only

// x^2, relinearised and rescaled: a result at level L-1 (N = 64, scale 2^40), and the model's estimate.
struct Squared {
  ckks::Ciphertext ct;
  ckks::PrecisionEstimate est;
  std::vector<Complex> want;
};

Squared square_of(Keys& k, const std::vector<Complex>& x) {
  const ckks::PrecisionModel model(k.ctx->params());
  auto ct = k.ev.rescale(k.ev.square_relin(k.encrypt(x), k.rk));
  auto est = model.fresh_public(std::sqrt(2.0), k.ctx->params().default_scale());
  est = model.rescale(model.key_switch(model.multiply(est, est)));
  std::vector<Complex> want(x.size());
  for (std::size_t j = 0; j < x.size(); ++j) want[j] = x[j] * x[j];
  return {std::move(ct), est, want};
}

TEST(CkksCircuitPrivacy, SanitisedResultDecryptsWithinTheModelBoundAndHasAFreshC1) {
  Keys k(tiny_insecure_params());
  std::mt19937_64 rng(7);
  const auto x = random_complex(k.ctx->slots(), rng);
  auto r = square_of(k, x);
  const ckks::PrecisionModel model(k.ctx->params());
  const int b = 20;
  const CkksCircuitPrivacy privacy(k.ctx, k.keygen.create_public_key(), b);
  const auto plain = r.ct;
  privacy.apply(r.ct);
  EXPECT_EQ(r.ct.level(), plain.level());
  EXPECT_EQ(r.ct.scale(), plain.scale());
  // c1 is fresh: (almost) every residue of it differs from the unsanitised one.
  std::size_t same = 0;
  for (std::size_t i = 0; i < r.ct.level(); ++i)
    for (std::size_t c = 0; c < r.ct.n(); ++c) same += r.ct.data(1, i)[c] == plain.data(1, i)[c];
  EXPECT_LE(same, 2u);
  const double before = max_error(k.decrypt(plain), r.want), after = max_error(k.decrypt(r.ct), r.want);
  const double bound = model.sanitise(r.est, b).slot_error(k.ctx->n());
  EXPECT_LE(after, bound) << "flooded error above the precision model's bound";
  EXPECT_GT(after, 10 * before) << "the flood of 2^20 per coefficient should dominate the evaluation error";
  EXPECT_LT(r.est.slot_error(k.ctx->n()), bound);
}

TEST(CkksCircuitPrivacy, RefusesBadFloodBitsAndCiphertexts) {
  Keys k(tiny_insecure_params());
  const auto pk = k.keygen.create_public_key();
  EXPECT_THROW(CkksCircuitPrivacy(k.ctx, pk, 0), InvalidArgument);
  EXPECT_THROW(CkksCircuitPrivacy(k.ctx, pk, 127), InvalidArgument);
  const CkksCircuitPrivacy privacy(k.ctx, pk, 20);
  std::mt19937_64 rng(1);
  auto unrelinearised = k.ev.square(k.encrypt(random_complex(k.ctx->slots(), rng)));
  EXPECT_THROW(privacy.apply(unrelinearised), InvalidArgument);
  Keys other(tiny_insecure_params(2));
  auto foreign = other.encrypt(random_complex(other.ctx->slots(), rng));
  EXPECT_THROW(privacy.apply(foreign), InvalidArgument);
  EXPECT_THROW(ckks_flood_bits(0, 64, 1), InvalidArgument);
}

TEST(CkksCircuitPrivacy, FloodBitsCoverTheNoiseBoundAt40BitsOverTheLargestJob) {
  // b = ceil(log2 V + 40 + log2(2 c N C) / 2 + 1): 47.3 + 1 over the bound at N = 16384, C = 4.
  EXPECT_EQ(ckks_flood_bits(std::ldexp(1.0, 20), 16384, 4), 20 + 49);
  EXPECT_EQ(ckks_flood_bits(std::ldexp(1.5, 20), 16384, 4), 20 + 49);  // 20.58 + 48.34 = 68.9
  EXPECT_EQ(ckks_flood_bits(std::ldexp(1.0, 20), 16384, 4),
            static_cast<int>(std::ceil(20 + ckks_flood_ratio_bits(16384, 4))));
  EXPECT_DOUBLE_EQ(ckks_flood_ratio_bits(16384, 4), flood_ratio_bits(16384, 4) + 1);
  // C-NMC (2 classes): batches of N/2 cells up to the caps' cells and batches.
  const Plan plan = lower(quantize(collapse_linear(testing::tiny_model()), QuantizeOptions{}));
  const std::size_t k = plan.output_size();
  EXPECT_EQ(ckks_result_ciphertexts_per_job(plan, 8192, {16384, 2}), 2 * k);
  EXPECT_EQ(ckks_result_ciphertexts_per_job(plan, 4096, {16384, 2}), 2 * k);  // capped by batches
  EXPECT_EQ(ckks_result_ciphertexts_per_job(plan, 4096, {1000, 2}), 1 * k);
}

// 64 results of circuits A and B on random inputs: slot errors (re and im, times the scale).
void run_circuits(Keys& k, const CkksCircuitPrivacy* privacy, std::vector<double>& err_a, std::vector<double>& err_b) {
  std::mt19937_64 rng(11);
  for (int r = 0; r < 64; ++r) {
    const auto x = random_complex(k.ctx->slots(), rng);
    const auto fresh = k.encrypt(x);
    auto chain = [&](double w1, double w2) {
      auto y = k.ev.rescale(k.ev.multiply_scalar(fresh, w1));
      return k.ev.rescale(k.ev.multiply_scalar(y, w2));
    };
    auto a = chain(1.0, 1.0), b = chain(0x1p-10, 0x1p10);
    for (auto [ct, out] : {std::pair{&a, &err_a}, std::pair{&b, &err_b}}) {
      if (privacy) privacy->apply(*ct);
      const auto got = k.decrypt(*ct);
      for (std::size_t j = 0; j < x.size(); ++j) {
        out->push_back((got[j] - x[j]).real() * ct->scale());
        out->push_back((got[j] - x[j]).imag() * ct->scale());
      }
    }
  }
}

TEST(CkksCircuitPrivacy, ErrorsOfTwoCircuitsWithTheSameOutputsAreIndistinguishable) {
  Keys k(tiny_insecure_params());
  // The flood the derivation prescribes for B (the noisier) over this "job" of 64 x 2 results:
  // the model's bound at confidence 10 after B's ops, 2^-40 statistical distance.
  const ckks::PrecisionModel wide(k.ctx->params(), kCkksFloodConfidence);
  auto est = wide.fresh_public(std::sqrt(2.0), k.ctx->params().default_scale());
  est = wide.rescale(wide.multiply_scalar(wide.rescale(wide.multiply_scalar(est, 0x1p-10)), 0x1p10));
  const int b = ckks_flood_bits(est.noise(), k.ctx->n(), 128);
  const CkksCircuitPrivacy privacy(k.ctx, k.keygen.create_public_key(), b);
  std::vector<double> a, c;
  run_circuits(k, nullptr, a, c);
  const double d_off = testing::ks_statistic(a, c);
  EXPECT_GT(d_off, testing::kKsCritical4096) << "the test has no power: without flooding the circuits should differ";
  a.clear();
  c.clear();
  run_circuits(k, &privacy, a, c);
  const double d_on = testing::ks_statistic(a, c);
  EXPECT_LT(d_on, testing::kKsCritical4096) << "flooded errors distinguish the circuits (KS D = " << d_on << ")";
  std::printf("flood 2^%d; KS D without circuit privacy %.4f, with %.4f (critical %.4f at alpha 0.001, n = m = %zu)\n",
              b, d_off, d_on, testing::kKsCritical4096, a.size());
}

}  // namespace
}  // namespace leukocrypt::nn
