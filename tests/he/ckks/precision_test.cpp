// The precision model against measured errors: a CryptoNets-shaped circuit (weighted sum of
// encrypted inputs, square, weighted sum, rotation, bias) is run on random inputs and keys; after
// every op the largest slot error must not exceed the model's bound. The model is also required
// to be useful: at most a few hundred times the measured error.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/precision_model.h"
#include "he/ckks/symmetric_encryptor.h"
#include "test_util.h"

namespace leukocrypt::ckks {
namespace {

using testing::Complex;
using testing::max_error;
using testing::random_complex;
using testing::tiny_insecure_params;

struct Tracked {
  Ciphertext ct;
  std::vector<Complex> want;
  PrecisionEstimate est;
};

class Circuit {
 public:
  explicit Circuit(const Params& p, std::uint64_t seed)
      : ctx_(Context::create(p)), keygen_(ctx_), enc_(ctx_), encryptor_(ctx_, keygen_.create_public_key()),
        sym_(ctx_, keygen_.secret_key()), dec_(ctx_, keygen_.secret_key()), ev_(ctx_),
        rk_(keygen_.create_relin_keys()), gk_(create_rotation_keys(keygen_, {1}, false)), model_(p), rng_(seed) {}

  // Checks the measured error against the bound; returns measured / bound.
  double check(const Tracked& t, const char* step) {
    const double measured = max_error(enc_.decode_complex(dec_.decrypt(t.ct)), t.want);
    const double bound = t.est.slot_error(ctx_->n());
    EXPECT_LE(measured, bound) << step << " at N=" << ctx_->n();
    worst_ratio_ = std::max(worst_ratio_, measured / bound);
    tightest_ = std::min(tightest_, bound / std::max(measured, 1e-300));
    return measured / bound;
  }

  void run() {
    const std::size_t s = enc_.slot_count();
    const double scale = ctx_->params().default_scale();
    // Layer 1: sum of three encrypted inputs (two public-key, one seeded secret-key) with weights.
    const double w1[3] = {0.75, -0.5, 0.25};
    Tracked acc;
    for (int k = 0; k < 3; ++k) {
      Tracked x;
      x.want = random_complex(s, rng_);
      const Plaintext pt = enc_.encode_complex(x.want);
      x.ct = k == 2 ? sym_.encrypt(pt) : encryptor_.encrypt(pt);
      x.est = k == 2 ? model_.fresh_secret(std::sqrt(2.0), scale) : model_.fresh_public(std::sqrt(2.0), scale);
      check(x, "fresh");
      Tracked term{ev_.multiply_scalar(x.ct, w1[k]), x.want, model_.multiply_scalar(x.est, w1[k])};
      for (auto& v : term.want) v *= w1[k];
      if (k == 0) {
        acc = term;
      } else {
        ev_.add_inplace(acc.ct, term.ct);
        for (std::size_t j = 0; j < s; ++j) acc.want[j] += term.want[j];
        acc.est = model_.add(acc.est, term.est);
      }
    }
    check(acc, "weighted sum");
    ev_.rescale_inplace(acc.ct);
    acc.est = model_.rescale(acc.est);
    check(acc, "rescale 1");
    // Activation: x^2 with relinearisation.
    acc.ct = ev_.square(acc.ct);
    acc.est = model_.multiply(acc.est, acc.est);
    for (auto& v : acc.want) v *= v;
    check(acc, "square");
    ev_.relinearize_inplace(acc.ct, rk_);
    acc.est = model_.key_switch(acc.est);
    check(acc, "relinearize");
    ev_.rescale_inplace(acc.ct);
    acc.est = model_.rescale(acc.est);
    check(acc, "rescale 2");
    // Layer 2: scalar weight, rescale, rotation, bias.
    ev_.multiply_scalar_inplace(acc.ct, -1.25);
    acc.est = model_.multiply_scalar(acc.est, -1.25);
    for (auto& v : acc.want) v *= -1.25;
    ev_.rescale_inplace(acc.ct);
    acc.est = model_.rescale(acc.est);
    check(acc, "scalar + rescale 3");
    Tracked rot{ev_.rotate(acc.ct, 1, gk_), std::vector<Complex>(s), model_.key_switch(acc.est)};
    for (std::size_t j = 0; j < s; ++j) rot.want[j] = acc.want[(j + 1) % s];
    check(rot, "rotate");
    ev_.add_inplace(rot.ct, acc.ct);
    rot.est = model_.add(rot.est, acc.est);
    for (std::size_t j = 0; j < s; ++j) rot.want[j] += acc.want[j];
    std::vector<Complex> bias = random_complex(s, rng_, 0.5);
    ev_.add_plain_inplace(rot.ct, enc_.encode_complex(bias, rot.ct.scale(), rot.ct.level()));
    rot.est = model_.add_plain(rot.est, std::sqrt(0.5));
    for (std::size_t j = 0; j < s; ++j) rot.want[j] += bias[j];
    check(rot, "rotate + add + bias");
  }

  double worst_ratio() const { return worst_ratio_; }
  double tightest() const { return tightest_; }

 private:
  ContextPtr ctx_;
  KeyGenerator keygen_;
  Encoder enc_;
  Encryptor encryptor_;
  SymmetricEncryptor sym_;
  Decryptor dec_;
  Evaluator ev_;
  RelinKeys rk_;
  GaloisKeys gk_;
  PrecisionModel model_;
  std::mt19937_64 rng_;
  double worst_ratio_ = 0, tightest_ = 1e300;
};

TEST(CkksPrecision, MeasuredErrorNeverExceedsTheModelTinyInsecure) {
  double worst = 0, tight = 1e300;
  for (std::uint64_t trial = 0; trial < 20; ++trial) {
    Circuit c(tiny_insecure_params(), trial);
    c.run();
    worst = std::max(worst, c.worst_ratio());
    tight = std::min(tight, c.tightest());
  }
  std::printf("N=64: largest measured/bound %.3g, closest bound %.3gx the measured error\n", worst, tight);
  EXPECT_GT(worst, 1.0 / 300);  // the model is not uselessly loose
}

TEST(CkksPrecision, MeasuredErrorNeverExceedsTheModelAt8192) {
  Circuit c(Params::default_for(8192), 99);
  c.run();
  std::printf("N=8192: largest measured/bound %.3g, closest bound %.3gx the measured error\n", c.worst_ratio(),
              c.tightest());
  EXPECT_GT(c.worst_ratio(), 1.0 / 300);
}

// The key-switch term on its own: rotations of fresh ciphertexts at the top level, where the key
// switch dominates the error (the latency layout's baby steps). Measured <= model; the model's
// digit bound (||d_i|| <= N q_i) is about 150x above the measured error at N = 8192.
TEST(CkksPrecision, RotationOfAFreshCiphertextStaysWithinTheKeySwitchBound) {
  for (const auto& p : {tiny_insecure_params(), Params::default_for(8192)}) {
    auto ctx = Context::create(p);
    KeyGenerator kg(ctx);
    const std::vector<int> steps{1, -3, 17};
    const auto gk = create_rotation_keys(kg, steps, false);
    Encoder enc(ctx);
    SymmetricEncryptor sym(ctx, kg.secret_key());
    Decryptor dec(ctx, kg.secret_key());
    Evaluator ev(ctx);
    PrecisionModel model(p);
    std::mt19937_64 rng(7);
    double worst = 0;
    for (int trial = 0; trial < 4; ++trial) {
      const auto v = random_complex(enc.slot_count(), rng);
      const auto ct = sym.encrypt(enc.encode_complex(v));
      const double bound = model.key_switch(model.fresh_secret(std::sqrt(2.0), p.default_scale())).slot_error(p.n());
      const auto digits = ev.hoist(ct);
      for (int step : steps) {
        std::vector<Complex> want(v.size());
        for (std::size_t j = 0; j < v.size(); ++j) want[j] = v[(j + std::size_t(step + int(v.size()))) % v.size()];
        // Plain and hoisted rotations (the latency layout's baby steps): the same bound.
        for (const auto& rotated : {ev.rotate(ct, step, gk), ev.rotate_hoisted(ct, digits, step, gk)}) {
          const double measured = max_error(enc.decode_complex(dec.decrypt(rotated)), want);
          EXPECT_LE(measured, bound) << "N=" << p.n() << " step " << step;
          worst = std::max(worst, measured / bound);
        }
      }
    }
    std::printf("N=%zu rotations: largest measured/bound %.3g\n", p.n(), worst);
    EXPECT_GT(worst, 1e-5);  // not uselessly loose
  }
}

TEST(CkksPrecision, TermsGrowAsExpected) {
  PrecisionModel m(tiny_insecure_params());
  auto a = m.fresh_public(1, 0x1p40);
  auto b = m.fresh_secret(1, 0x1p40);
  EXPECT_GT(a.noise(), b.noise());  // the public key adds e*u + e1*s
  auto r = m.rescale(m.multiply(a, a));
  EXPECT_EQ(r.level, a.level - 1);
  EXPECT_LT(r.slot_error(64), 1e-6);
  EXPECT_GT(m.key_switch_noise(4), m.key_switch_noise(1));
}

}  // namespace
}  // namespace leukocrypt::ckks
