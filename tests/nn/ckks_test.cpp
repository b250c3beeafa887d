// The ckks backend: parameter choice from the precision model (refusals with numbers), agreement
// with the float backend on real data (argmax equal on every cell, largest logit error within the
// model's bound): tiny INSECURE parameters (named so) on a few real C-NMC cells, and the chosen
// 128-bit parameters on the whole of C-NMC group C (1,198 cells, models/cnmc-x2.lcm) and on real
// MNIST digits (models/mnist-cryptonets.lcm).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "nn/backend.h"
#include "nn/ckks_evaluator.h"
#include "nn/ckks_settings.h"
#include "nn/evaluate.h"
#include "nn/keyholder/ckks_backend.h"
#include "nn/keyholder/ckks_keyholder.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "../train/cnmc_helpers.h"

namespace leukocrypt::nn {
namespace {

Plan plan_of(const std::string& model_file) {
  auto collapsed = collapse_linear(load_model(std::string(LEUKOCRYPT_SOURCE_DIR) + "/models/" + model_file));
  return lower(quantize(collapsed));  // only the float rows (f_*) matter for CKKS
}

// Real group-C cells (32x32), prepared once per test process.
const EvalSet& group_c() {
  static const EvalSet set = [] {
    const auto dir = train::testing::fresh_temp_dir("lc_ckks_test");
    auto prepared = train::testing::prepare_cnmc32(dir);
    auto s = load_eval_set(prepared, "C", 0, Shape{3, 32, 32});
    return s;
  }();
  return set;
}

struct Agreement {
  std::size_t argmax_mismatches = 0;
  double max_error = 0;
};

Agreement compare(const BatchOutput& enc, const BatchOutput& ref) {
  Agreement a;
  for (std::size_t k = 0; k < ref.images; ++k) {
    a.argmax_mismatches += enc.predicted(k) != ref.predicted(k) ? 1 : 0;
    for (std::size_t o = 0; o < ref.outputs; ++o)
      a.max_error = std::max(a.max_error, std::fabs(enc.logits[k * ref.outputs + o] - ref.logits[k * ref.outputs + o]));
  }
  return a;
}

TEST(CkksSettings, LevelsAreOnePerLinearLayerAndSquare) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  EXPECT_EQ(ckks_levels(plan), 5u);  // conv, x^2, conv, x^2, dense
}

TEST(CkksSettings, ChoiceMeetsTheTargetAtTheSmallestRing) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  const auto mag = plan_magnitudes(plan, group_c().images);
  CkksChoiceOptions o;
  o.target_error = 1e-3;
  const auto s = choose_ckks_settings(plan, mag, o);
  EXPECT_LE(s.predicted_error, 1e-3);
  EXPECT_EQ(s.params.max_level(), 6u);
  EXPECT_EQ(s.params.security(), ckks::Security::k128);
  // A tighter target never picks a smaller ring.
  o.target_error = 1e-6;
  const auto t = choose_ckks_settings(plan, mag, o);
  EXPECT_GE(t.params.n(), s.params.n());
  EXPECT_LE(t.predicted_error, 1e-6);
}

TEST(CkksSettings, RefusesAnUnreachableTargetWithTheNumbers) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  const auto mag = plan_magnitudes(plan, group_c().images);
  CkksChoiceOptions o;
  o.target_error = 1e-14;
  try {
    choose_ckks_settings(plan, mag, o);
    FAIL() << "expected SecurityError";
  } catch (const SecurityError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("1e-14"), std::string::npos) << m;
    EXPECT_NE(m.find("best predicted"), std::string::npos) << m;
    EXPECT_NE(m.find("N = "), std::string::npos) << m;
  }
  o.target_error = -1;
  EXPECT_THROW(choose_ckks_settings(plan, mag, o), InvalidArgument);
  EXPECT_THROW(choose_ckks_settings(plan, std::vector<double>(2, 1.0), {}), InvalidArgument);
}

TEST(CkksEvaluator, RejectsTooFewPrimesAndForeignKeys) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  CkksSettings s;
  s.params = ckks::Params::create(1024, 40, 3, 30, 40, ckks::Security::kInsecureForTests);  // INSECURE: 3 rescales
  CkksKeyHolder kh(s);
  EXPECT_THROW(CkksPlanEvaluator(plan, kh.context(), kh.relin_keys()), InvalidArgument);
  s.params = ckks::Params::create(1024, 40, 5, 30, 40, ckks::Security::kInsecureForTests);
  CkksSettings other = s;
  other.params = ckks::Params::create(2048, 40, 5, 30, 40, ckks::Security::kInsecureForTests);
  CkksKeyHolder a(s), b(other);
  EXPECT_THROW(CkksPlanEvaluator(plan, a.context(), b.relin_keys()), InvalidArgument);
}

// Tiny INSECURE ring (N = 1024, 512 slots): 40 real group-C cells agree with the float model.
TEST(CkksBackend, InsecureSmallRingAgreesWithFloatOnRealCells) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  std::vector<const std::uint8_t*> images(group_c().images.begin(), group_c().images.begin() + 40);
  CkksChoiceOptions o;
  o.insecure_for_tests = true;
  o.min_n = 1024;
  const auto s = choose_ckks_settings(plan, plan_magnitudes(plan, group_c().images), o);
  auto enc = make_ckks_backend(s)->run(plan, images);
  auto ref = make_float_backend()->run(plan, images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_GT(enc.report.bytes_received, 0u);
}

// The acceptance check: every cell of group C, 128-bit parameters from the chooser.
TEST(CkksBackend, GroupCArgmaxEqualsFloatOnEveryCell) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  const auto& c = group_c();
  ASSERT_EQ(c.size(), 1198u);
  const auto s = choose_ckks_settings(plan, plan_magnitudes(plan, c.images));
  auto enc = make_ckks_backend(s)->run(plan, c.images);
  auto ref = make_float_backend()->run(plan, c.images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
  RecordProperty("largest_logit_error", std::to_string(a.max_error));
  RecordProperty("predicted_logit_error", std::to_string(s.predicted_error));
  RecordProperty("n", std::to_string(s.params.n()));
  std::printf("group C: N = %zu, scale 2^%.1f, largest logit error %.3g (model bound %.3g)\n", s.params.n(),
              std::log2(s.params.default_scale()), a.max_error, s.predicted_error);
  for (const auto& st : enc.report.steps) std::printf("  %-12s %8.2f s\n", st.name.c_str(), st.seconds);
  std::printf("  encrypt %.2f s, evaluate %.2f s, decrypt %.2f s\n", enc.report.encrypt_seconds,
              enc.report.evaluate_seconds, enc.report.decrypt_seconds);
}

// Real MNIST digits (the first 256 of t10k), 128-bit parameters.
TEST(CkksBackend, MnistArgmaxEqualsFloat) {
  const Plan plan = plan_of("mnist-cryptonets.lcm");
  const auto set = load_eval_set(std::string(LEUKOCRYPT_DATA_DIR) + "/mnist", "test", 256, Shape{1, 28, 28});
  const auto s = choose_ckks_settings(plan, plan_magnitudes(plan, set.images));
  auto enc = make_ckks_backend(s)->run(plan, set.images);
  auto ref = make_float_backend()->run(plan, set.images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
}

}  // namespace
}  // namespace leukocrypt::nn
