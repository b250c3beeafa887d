// Encrypted inference: CRT, settings, parameter selection and the central agreement test —
// encrypted logits == raw integer logits exactly, on real C-NMC cells, with tiny insecure
// parameters (named as such) for speed and once with automatically chosen 128-bit parameters,
// where the measured noise budget must also stay above the worst-case simulation at every step.
#include <gtest/gtest.h>

#include "he/bfv/params.h"
#include "nn/backend.h"
#include "nn/bfv_settings.h"
#include "nn/crt.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "real_cells.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

struct Images {
  std::vector<testing::Cell> cells;
  std::vector<std::vector<std::uint8_t>> bytes;
  std::vector<const std::uint8_t*> ptrs;
  Images(int n, int size) : cells(testing::load_real_cells(n, size)) {
    for (const auto& c : cells) bytes.emplace_back(c.pixels.begin(), c.pixels.end());
    for (const auto& b : bytes) ptrs.push_back(b.data());
  }
};

Plan tiny_plan(QuantizeOptions o = {}) { return lower(quantize(collapse_linear(testing::tiny_model()), o)); }

TEST(Crt, CentredLiftOfTwoPaperPrimes) {
  Crt crt({957181001729ULL, 957181034497ULL});
  for (Int128 v : {Int128(0), Int128(1), Int128(-1), Int128(123456789) * 987654321 * 1000, -(Int128(1) << 78)}) {
    std::uint64_t r[2] = {Crt::reduce(v, crt.primes()[0]), Crt::reduce(v, crt.primes()[1])};
    EXPECT_TRUE(crt.lift(r) == v) << to_string128(v);
  }
  EXPECT_THROW(Crt({7, 7}), InvalidArgument);
  EXPECT_THROW(Crt({(1ULL << 61) - 1, (1ULL << 61) - 1 - 2, 1000003}), InvalidArgument);
}

TEST(BfvSettings, JsonRoundTripAndValidation) {
  BfvSettings s;
  s.n = 16384;
  s.q_bits = {48, 48, 48, 49};
  s.plain_primes = {957181001729ULL, 957181034497ULL};
  s.mod_switch_levels = {2, 0, 1};
  s.defer_relin = true;
  auto r = BfvSettings::from_json(s.to_json());
  EXPECT_EQ(r.to_json(), s.to_json());
  EXPECT_TRUE(r.defer_relin);
  auto old = s.to_json();
  old.erase("defer_relinearization");  // params.json from before the flag: relinearise after squares
  EXPECT_FALSE(BfvSettings::from_json(old).defer_relin);
  auto bad = s.to_json();
  bad["plain_primes"][0] = "957181001731";  // not = 1 mod 2N
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
  bad = s.to_json();
  bad["n"] = 3000;
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
  bad = s.to_json();
  bad.erase("q_bits");
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
}

TEST(ParamSelect, AutomaticChoiceIsSecureAndFits) {
  auto plan = tiny_plan();
  ParamsRequest req;
  req.bits_needed = 60;
  req.images = 1000;
  auto c = choose_params(plan, req);
  EXPECT_GE(c.settings.log2_plain(), 60.0);
  EXPECT_GE(c.noise.final_budget, req.margin_bits);
  EXPECT_NO_THROW(c.settings.params());  // 128-bit secure
  EXPECT_FALSE(c.reasons.empty());
  EXPECT_GT(c.candidates.size(), 3u);
}

TEST(ParamSelect, AcceptsThePapersSettingsAndRefusesUnsafeOnes) {
  auto plan = tiny_plan();
  ParamsRequest req;
  req.bits_needed = 70;
  req.n = 16384;
  req.plain_primes = {957181001729ULL, 957181034497ULL};
  auto c = choose_params(plan, req);
  EXPECT_EQ(c.settings.n, 16384u);
  EXPECT_EQ(c.settings.plain_primes, req.plain_primes);
  // Over the 128-bit bound for N = 4096 (109 bits).
  ParamsRequest insecure = req;
  insecure.n = 4096;
  insecure.plain_primes = {};
  insecure.q_bits = {50, 50, 50};
  EXPECT_THROW(choose_params(plan, insecure), SecurityError);
  // Logits need more bits than the primes hold.
  ParamsRequest small = req;
  small.bits_needed = 90;
  EXPECT_THROW(choose_params(plan, small), InvalidArgument);
  // Too little noise budget: N = 16384 with a single 40-bit ciphertext prime.
  ParamsRequest noisy = req;
  noisy.q_bits = {40, 40};
  EXPECT_THROW(choose_params(plan, noisy), InvalidArgument);
}

// The security level is never taken from a document: a params.json or model card saying
// "insecure-for-tests" is checked against the 128-bit table like any other, and only the caller's
// explicit permission (the CLI's --insecure-for-tests) accepts a set below it.
TEST(BfvSettings, SecurityIsNeverTakenFromADocument) {
  nlohmann::json tiny = {{"n", 256},
                         {"q_bits", {50, 50, 50}},
                         {"plain_primes", {"7681"}},
                         {"security", "insecure-for-tests"}};
  EXPECT_THROW(BfvSettings::from_json(tiny), SecurityError);
  try {
    BfvSettings::from_json(tiny);
  } catch (const SecurityError& e) {
    EXPECT_NE(std::string(e.what()).find("--insecure-for-tests"), std::string::npos) << e.what();
  }
  tiny["security"] = "128";  // lying the other way changes nothing either
  EXPECT_THROW(BfvSettings::from_json(tiny), SecurityError);
  auto allowed = BfvSettings::from_json(tiny, true);
  EXPECT_FALSE(allowed.meets_128_bits());
  EXPECT_EQ(allowed.to_json()["security"], "insecure-for-tests");
  EXPECT_EQ(allowed.params()[0].security(), bfv::Security::kInsecureForTests);
  // Over the table for N = 4096 (109 bits), whatever the document claims.
  nlohmann::json wide = {{"n", 4096}, {"q_bits", {50, 50, 50}}, {"plain_primes", {"40961"}}, {"security", "128"}};
  EXPECT_THROW(BfvSettings::from_json(wide), SecurityError);
  // A 128-bit set is tagged k128 whether or not the caller allowed insecure sets (same params id).
  nlohmann::json secure = {{"n", 4096}, {"q_bits", {36, 36, 37}}, {"plain_primes", {"40961"}},
                           {"security", "insecure-for-tests"}};
  auto a = BfvSettings::from_json(secure), b = BfvSettings::from_json(secure, true);
  EXPECT_TRUE(a.meets_128_bits());
  EXPECT_EQ(a.params()[0].security(), bfv::Security::k128);
  EXPECT_EQ(a.params()[0].id(), b.params()[0].id());
  EXPECT_EQ(a.to_json()["security"], "128");
}

// Tiny INSECURE parameters (N = 256) for speed; several batches (600 images > 256 slots).
TEST(BfvBackend, InsecureTinyParamsMatchRawExactlyOverSeveralBatches) {
  Images img(10, 16);
  std::vector<const std::uint8_t*> many;
  for (int i = 0; i < 600; ++i) many.push_back(img.ptrs[i % img.ptrs.size()]);
  QuantizeOptions o;
  o.weight_max = {15, 7, 7};
  auto plan = tiny_plan(o);
  const int bits = worst_case_bound(quantize(collapse_linear(testing::tiny_model()), o)).output_bits;
  ParamsRequest req;
  req.bits_needed = bits;
  req.n = 256;
  req.q_bits = {50, 50, 50, 50, 50, 50, 50};
  req.insecure_for_tests = true;
  auto choice = choose_params(plan, req);
  ASSERT_GE(choice.settings.plain_primes.size(), 1u);
  auto raw = make_raw_backend()->run(plan, many);
  BfvBackendOptions bo;
  bo.measure_noise = false;
  auto enc = make_bfv_backend(choice.settings, bo)->run(plan, many);
  ASSERT_EQ(enc.exact.size(), raw.exact.size());
  for (std::size_t i = 0; i < raw.exact.size(); ++i)
    ASSERT_TRUE(enc.exact[i] == raw.exact[i]) << "logit " << i << ": " << to_string128(enc.exact[i]) << " vs "
                                              << to_string128(raw.exact[i]);
  EXPECT_EQ(enc.report.batches, 3u);
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_GT(enc.report.bytes_received, 0u);
}

// 128-bit parameters chosen automatically for the tiny model on real cells; the measured noise
// budget after every step is at least the worst-case simulation.
TEST(BfvBackend, SecureParamsMatchRawAndNoiseStaysAboveTheBound) {
  Images img(12, 16);
  QuantizeOptions o;
  o.weight_max = {15, 7, 7};
  auto q = quantize(collapse_linear(testing::tiny_model()), o);
  auto plan = lower(q);
  ParamsRequest req;
  req.bits_needed = worst_case_bound(q).output_bits;
  req.images = img.ptrs.size();
  auto choice = choose_params(plan, req);
  ASSERT_NO_THROW(choice.settings.params());
  auto raw = make_raw_backend()->run(plan, img.ptrs);
  auto enc = make_bfv_backend(choice.settings)->run(plan, img.ptrs);
  for (std::size_t i = 0; i < raw.exact.size(); ++i) ASSERT_TRUE(enc.exact[i] == raw.exact[i]) << "logit " << i;
  // The report and the simulation follow the plan the parameters run (blocked when they have blocks).
  const Plan run = plan_for(plan, choice.settings);
  ASSERT_EQ(enc.report.steps.size(), run.steps.size());
  for (std::size_t s = 0; s + 1 < run.steps.size(); ++s) {
    const int measured = enc.report.steps[s].noise_budget_bits;
    ASSERT_GE(measured, 0) << run.steps[s].name;
    EXPECT_GE(double(measured) + 1.0, choice.noise.budget_after_step[s]) << run.steps[s].name;
  }
  for (std::size_t i = 0; i < img.ptrs.size(); ++i) EXPECT_EQ(enc.predicted(i), raw.predicted(i));
}

}  // namespace
}  // namespace leukocrypt::nn
