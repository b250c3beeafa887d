// The ckks backend's acceptance checks on real data with 128-bit parameters from the chooser:
// encrypted argmax equals float argmax on every cell of C-NMC group C (1,198 cells,
// models/cnmc-x2.lcm) and on 8,192 MNIST test digits (models/mnist-cryptonets.lcm), and the
// largest logit error stays within the precision model's prediction; also with circuit privacy
// (the wide chain, every result flooded as the service floods it). Slow (tens of seconds each,
// up to ~3 GB): label long, own TIMEOUT (tests/nn/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstdio>

#include "nn/backend.h"
#include "nn/ckks_settings.h"
#include "nn/keyholder/ckks_backend.h"
#include "ckks_test_helpers.h"

namespace leukocrypt::nn {
namespace {

using testing::compare;
using testing::group_c;
using testing::plan_of;

void print_report(const char* what, const CkksSettings& s, const testing::Agreement& a, const BatchOutput& enc) {
  std::printf("%s: N = %zu, scale 2^%.1f, largest logit error %.3g (model bound %.3g)\n", what, s.params.n(),
              std::log2(s.params.default_scale()), a.max_error, s.predicted_error);
  for (const auto& st : enc.report.steps)
    if (st.seconds >= 0.01) std::printf("  %-12s %8.2f s\n", st.name.c_str(), st.seconds);
  std::printf("  encrypt %.2f s, evaluate %.2f s, decrypt %.2f s\n", enc.report.encrypt_seconds,
              enc.report.evaluate_seconds, enc.report.decrypt_seconds);
}

// The ckks backend against the float backend on these images: argmax equal everywhere, largest
// logit error within the model's bound (recorded as test properties and printed).
void check_against_float(const char* what, const Plan& plan, const std::vector<const std::uint8_t*>& images,
                         const CkksSettings& s) {
  auto enc = make_ckks_backend(s)->run(plan, images);
  auto ref = make_float_backend()->run(plan, images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
  ::testing::Test::RecordProperty("largest_logit_error", std::to_string(a.max_error));
  ::testing::Test::RecordProperty("predicted_logit_error", std::to_string(s.predicted_error));
  ::testing::Test::RecordProperty("n", std::to_string(s.params.n()));
  print_report(what, s, a, enc);
}

// Every cell of group C at the given target (the chooser picks N and the scale from the model;
// with circuit privacy the wide chain, and the backend floods every result as the service does).
void check_group_c(double target, std::size_t expected_n, bool circuit_privacy = false) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  const auto& c = group_c();
  ASSERT_EQ(c.size(), 1198u);
  CkksChoiceOptions o;
  o.target_error = target;
  o.circuit_privacy = circuit_privacy;
  const auto s = choose_ckks_settings(plan, plan_magnitudes(plan, c.images), o);
  EXPECT_EQ(s.params.n(), expected_n);
  check_against_float("group C", plan, c.images, s);
}

// The default target (1e-3): the model guarantees a logit error far below the logit gaps; N = 16384.
TEST(CkksExact, GroupCArgmaxEqualsFloatOnEveryCell) { check_group_c(1e-3, 16384); }

// The fast setting: a stated target of 2 logits (the model's worst case; it is ~4e4x above the
// measured error) lets the chooser take N = 8192, half the work; argmax must still match everywhere.
TEST(CkksExact, GroupCAtTheSmallestRingArgmaxEqualsFloat) { check_group_c(2.0, 8192); }

// Circuit privacy (nn/ckks_circuit_privacy.h): the wide chain at the default target, every result
// re-randomised and flooded with the chosen 2^b (2^-40 over the largest job); the flooded logits
// still give the float model's argmax on every cell, within the predicted (flooded) bound.
TEST(CkksExact, GroupCWithCircuitPrivacyFloodedArgmaxEqualsFloat) { check_group_c(1e-3, 16384, true); }

// 8,192 real MNIST digits (the first of t10k), 128-bit parameters at the default target, without
// and with circuit privacy (flooded).
TEST(CkksExact, Mnist8192ArgmaxEqualsFloat) {
  const Plan plan = plan_of("mnist-cryptonets.lcm");
  const auto set = load_eval_set(std::string(LEUKOCRYPT_DATA_DIR) + "/mnist", "test", 8192, Shape{1, 28, 28});
  ASSERT_EQ(set.size(), 8192u);
  check_against_float("MNIST 8192", plan, set.images, choose_ckks_settings(plan, plan_magnitudes(plan, set.images)));
}

TEST(CkksExact, Mnist8192WithCircuitPrivacyFloodedArgmaxEqualsFloat) {
  const Plan plan = plan_of("mnist-cryptonets.lcm");
  const auto set = load_eval_set(std::string(LEUKOCRYPT_DATA_DIR) + "/mnist", "test", 8192, Shape{1, 28, 28});
  ASSERT_EQ(set.size(), 8192u);
  CkksChoiceOptions o;
  o.circuit_privacy = true;
  const auto s = choose_ckks_settings(plan, plan_magnitudes(plan, set.images), o);
  ASSERT_TRUE(s.circuit_privacy);
  check_against_float("MNIST 8192, flooded", plan, set.images, s);
}

}  // namespace
}  // namespace leukocrypt::nn
