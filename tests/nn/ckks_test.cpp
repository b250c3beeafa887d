// The ckks backend: parameter choice from the precision model (refusals with numbers), agreement
// with the float backend on real data (argmax equal on every cell, largest logit error within the
// model's bound) with tiny INSECURE parameters (named so) on a few real C-NMC cells. The exactness
// checks on all of group C and 8,192 MNIST digits are in ckks_exact_test.cpp (label long).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "common/error.h"
#include "common/thread_pool.h"
#include "nn/backend.h"
#include "nn/ckks_circuit_privacy.h"
#include "nn/ckks_evaluator.h"
#include "nn/ckks_settings.h"
#include "nn/evaluate.h"
#include "nn/keyholder/ckks_backend.h"
#include "nn/keyholder/ckks_keyholder.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "ckks_test_helpers.h"

namespace leukocrypt::nn {
namespace {

using testing::compare;
using testing::group_c;
using testing::plan_of;

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

// Where the uniform chain puts q_0 above the SIMD kernels' 50 bits (MNIST: 58-bit q_0 and special
// prime at scale 2^49), the chooser cuts q_0 to 50 bits and enlarges the prime rescaled away before
// the last linear layer instead: every prime on the SIMD kernels, the target still met.
TEST(CkksSettings, EveryPrimeFitsTheSimdKernelsWhereTheTargetAllows) {
  const Plan plan = plan_of("mnist-cryptonets.lcm");
  const auto set = load_eval_set(std::string(LEUKOCRYPT_DATA_DIR) + "/mnist", "test", 256, Shape{1, 28, 28});
  const auto mag = plan_magnitudes(plan, set.images);
  CkksChoiceOptions o;
  o.target_error = 1e-3;
  const auto s = choose_ckks_settings(plan, mag, o);
  EXPECT_LE(s.predicted_error, 1e-3);
  const auto& q = s.params.q();
  ASSERT_EQ(q.size(), 6u);
  for (auto p : q) EXPECT_LE(std::bit_width(p), 50) << p;
  EXPECT_LE(std::bit_width(s.params.special_prime()), 50);
  // q_2 carries the bits q_0 gave up: the result's scale is the nominal one / 2^k.
  EXPECT_GT(std::bit_width(q[2]), std::bit_width(q[3]));
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

// Circuit privacy in the choice (nn/ckks_circuit_privacy.h): the wide scale chain (CkksStepScale)
// whose flood, counted in the predicted error, still meets the target at N = 16384 for C-NMC; a
// target beyond it is refused with the flood's numbers; the flood and the schedule travel with the
// parameters document.
TEST(CkksSettings, CircuitPrivacyTakesTheWideChainWithItsFlood) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  const auto mag = plan_magnitudes(plan, group_c().images);
  CkksChoiceOptions o;
  o.circuit_privacy = true;
  o.target_error = 1e-3;
  const auto s = choose_ckks_settings(plan, mag, o);
  EXPECT_EQ(s.params.n(), 16384u);
  EXPECT_EQ(s.params.security(), ckks::Security::k128);
  EXPECT_LE(s.predicted_error, 1e-3);
  ASSERT_TRUE(s.circuit_privacy);
  EXPECT_EQ(s.statistical_bits, 40);
  EXPECT_EQ(s.privacy_ciphertexts, ckks_result_ciphertexts_per_job(plan, s.params.slots(), o.caps));
  // The flood is counted: the prediction with it is above the same parameters' without it.
  const auto unflooded = predict_ckks_errors(plan, s.params, mag, s.schedule);
  EXPECT_GT(s.predicted_error, 0.0);
  // The schedule: the first layer's weights at 2^k without a rescale, the squares rescaled back to
  // the wide scale (one prime for the first, two for the second), the layer between them by one
  // prime, the last layer kept in q_0; every prime on the SIMD kernels.
  ASSERT_EQ(s.schedule.size(), plan.steps.size());
  EXPECT_EQ(ckks_rescales(plan, s.schedule) + 3, s.params.max_level());  // q_0: three primes
  int squares = 0, linears = 0;
  for (std::size_t st = 0; st < plan.steps.size(); ++st) {
    const auto& e = s.schedule[st];
    if (plan.steps[st].kind == OpKind::kSquare) EXPECT_EQ(e.rescales, squares++ == 0 ? 1 : 2) << st;
    if (plan.steps[st].kind == OpKind::kLinear) {
      ++linears;
      EXPECT_EQ(e.rescales, linears == 2 ? 1 : 0) << st;
      EXPECT_EQ(e.weight_bits > 0, linears != 2) << st;
    }
  }
  for (auto q : s.params.q()) EXPECT_LT(std::bit_width(q), 50) << q;
  EXPECT_LE(std::bit_width(s.params.special_prime()), 50);
  // The flood fits q_0 with the logits: 2^b well below the result's modulus.
  double log2_q0 = 0;
  for (std::size_t i = 0; i < 3; ++i) log2_q0 += std::log2(double(s.params.q()[i]));
  EXPECT_LT(s.flood_bits + 4, log2_q0);
  EXPECT_LE(unflooded.back(), s.predicted_error);

  // Beyond what the wide chain reaches: refused with the numbers.
  o.target_error = 1e-9;
  try {
    choose_ckks_settings(plan, mag, o);
    FAIL() << "expected SecurityError";
  } catch (const SecurityError& e) {
    const std::string m = e.what();
    std::printf("%s\n", m.c_str());
    for (const char* part : {"with circuit privacy", "best predicted", "flood: 2^", "2^-40", "without the flood",
                             "--no-circuit-privacy"})
      EXPECT_NE(m.find(part), std::string::npos) << part << " missing in: " << m;
  }

  // The document carries the flood and the schedule; a bad schedule is a FormatError.
  const auto back = ckks_settings_from_json(s.to_json(), "test");
  EXPECT_EQ(back.params.id(), s.params.id());
  EXPECT_TRUE(back.circuit_privacy);
  EXPECT_EQ(back.flood_bits, s.flood_bits);
  EXPECT_EQ(back.privacy_ciphertexts, s.privacy_ciphertexts);
  EXPECT_EQ(back.statistical_bits, 40);
  EXPECT_EQ(back.schedule, s.schedule);
  auto bad = s.to_json();
  bad["circuit_privacy"]["flood_bits"] = 500;
  EXPECT_THROW(ckks_settings_from_json(bad, "test"), FormatError);
  bad = s.to_json();
  bad["schedule"]["rescales"][2] = 9;
  EXPECT_THROW(ckks_settings_from_json(bad, "test"), FormatError);
  bad = s.to_json();
  bad["schedule"]["weight_bits"].erase(0);
  EXPECT_THROW(ckks_settings_from_json(bad, "test"), FormatError);
  bad = s.to_json();
  bad["schedule"]["rescales"][0] = 8;  // more rescales than primes
  EXPECT_THROW(ckks_settings_from_json(bad, "test"), FormatError);
  // A schedule that does not fit the plan: refused where the plan is known.
  auto wrong = s.schedule;
  wrong[1] = {0, 0};  // the first layer with neither a rescale nor a weight scale
  EXPECT_THROW(ckks_rescales(plan, wrong), InvalidArgument);
  wrong.pop_back();
  EXPECT_THROW(ckks_rescales(plan, wrong), InvalidArgument);
  // Without circuit privacy: the default schedule, no flood.
  o.circuit_privacy = false;
  o.target_error = 1e-3;
  const auto plain = choose_ckks_settings(plan, mag, o);
  EXPECT_TRUE(plain.schedule.empty());
  EXPECT_FALSE(plain.to_json()["circuit_privacy"]["enabled"].get<bool>());
  EXPECT_FALSE(plain.to_json().contains("schedule"));
}

// The loader behind keygen, serve and infer: every document shape gives back the same parameters
// (same id); a weak set needs the caller's flag, whatever the document says; bad fields are
// FormatErrors naming the source.
TEST(CkksSettings, LoadsEveryDocumentShapeAndRefusesBadOnes) {
  CkksSettings s;
  s.params = ckks::Params::default_for(8192);
  s.target_error = 2;
  s.predicted_error = 0.5;
  const auto j = s.to_json();
  const nlohmann::json params_doc = {{"format", "leukocrypt-params"}, {"scheme", "ckks"}, {"ckks", j}};
  const nlohmann::json card = {{"scheme", "ckks"}, {"params", j}};
  const nlohmann::json keys = {{"settings", j}};
  for (const auto& doc : {j, params_doc, card, keys}) {
    EXPECT_TRUE(is_ckks_document(doc)) << doc.dump();
    const auto t = ckks_settings_from_json(doc, "doc");
    EXPECT_EQ(t.params.id(), s.params.id());
    EXPECT_EQ(t.predicted_error, 0.5);
  }
  EXPECT_FALSE(is_ckks_document(nlohmann::json{{"settings", {{"n", 8192}}}}));
  EXPECT_THROW(ckks_settings_from_json(nlohmann::json{{"bfv", 1}}, "doc"), FormatError);
  auto bad = j;
  bad["params"]["q"][1] = 12345;  // not an NTT prime
  EXPECT_THROW(ckks_settings_from_json(bad, "doc"), FormatError);
  bad = j;
  bad["params"]["n"] = "big";
  EXPECT_THROW(ckks_settings_from_json(bad, "doc"), FormatError);
  bad = j;
  bad["params"]["id"] = "0000000000000000";
  EXPECT_THROW(ckks_settings_from_json(bad, "doc"), FormatError);
  // A weak set: refused unless the caller allows it; marking it 128 does not help.
  CkksSettings weak;
  weak.params = ckks::Params::create(1024, 30, 2, 25, 30, ckks::Security::kInsecureForTests);
  auto w = weak.to_json();
  EXPECT_THROW(ckks_settings_from_json(w, "doc"), SecurityError);
  EXPECT_EQ(ckks_settings_from_json(w, "doc", true).params.id(), weak.params.id());
  w["params"]["security"] = "128";
  w["params"].erase("id");
  EXPECT_THROW(ckks_settings_from_json(w, "doc", true), SecurityError);
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

// The precision model's choice for `plan` on a tiny INSECURE ring (N >= 1024), from group C's magnitudes.
CkksSettings tiny_insecure_settings(const Plan& plan) {
  CkksChoiceOptions o;
  o.insecure_for_tests = true;
  o.min_n = 1024;
  return choose_ckks_settings(plan, plan_magnitudes(plan, group_c().images), o);
}

// Tiny INSECURE ring (N = 1024, 512 slots): 40 real group-C cells agree with the float model.
TEST(CkksBackend, InsecureSmallRingAgreesWithFloatOnRealCells) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  std::vector<const std::uint8_t*> images(group_c().images.begin(), group_c().images.begin() + 40);
  const auto s = tiny_insecure_settings(plan);
  auto enc = make_ckks_backend(s)->run(plan, images);
  auto ref = make_float_backend()->run(plan, images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_GT(enc.report.bytes_received, 0u);
}

// 8 real group-C cells encrypted once on the tiny INSECURE ring: the inputs of the determinism
// tests below, which compare whole ciphertexts bit for bit.
struct EightCells {
  Plan plan = plan_of("cnmc-x2.lcm");
  CkksKeyHolder kh{tiny_insecure_settings(plan)};
  std::vector<ckks::Ciphertext> in;
  EightCells() {
    std::vector<const std::uint8_t*> images(group_c().images.begin(), group_c().images.begin() + 8);
    for (std::size_t v = 0; v < plan.input_size(); ++v) in.push_back(kh.encrypt_value(plan, images, v));
  }
  CkksSource source() const {
    return [this](std::size_t u) { return in[u]; };
  }
};

void expect_same_ciphertexts(const std::vector<ckks::Ciphertext>& a, const std::vector<ckks::Ciphertext>& b, std::size_t n) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t out = 0; out < a.size(); ++out) {
    ASSERT_EQ(a[out].scale(), b[out].scale());
    ASSERT_EQ(a[out].level(), b[out].level());
    ASSERT_EQ(a[out].size(), b[out].size());
    for (std::size_t k = 0; k < a[out].size(); ++k)
      for (std::size_t i = 0; i < a[out].level(); ++i)
        EXPECT_TRUE(std::equal(a[out].data(k, i), a[out].data(k, i) + n, b[out].data(k, i)))
            << "output " << out << " polynomial " << k << " prime " << i;
  }
}

// The streamed evaluation does not depend on the thread schedule: the pool's parallel run and a
// serial one (evaluate called from inside a pool task, where nested loops run on one thread) give
// the same ciphertexts.
TEST(CkksEvaluator, SerialAndParallelRunsGiveTheSameCiphertexts) {
  const EightCells c;
  const CkksPlanEvaluator ev(c.plan, c.kh.context(), c.kh.relin_keys());
  const auto parallel = ev.evaluate(c.source());
  std::vector<ckks::Ciphertext> serial;
  ThreadPool::global().parallel_for(0, 2, [&](std::size_t i) {
    if (i == 0) serial = ev.evaluate(c.source());
  });
  expect_same_ciphertexts(parallel, serial, c.kh.context()->n());
}

// The second linear layer folded into the stream (chunks of first-layer outputs summed into its
// accumulators, the default) gives the very ciphertexts of the unfolded layer (LEUKOCRYPT_FOLD=off):
// the sums are taken mod q either way.
TEST(CkksEvaluator, FoldedAndUnfoldedSecondLayerGiveTheSameCiphertexts) {
  const EightCells c;
  const auto rk = c.kh.relin_keys();  // one key for both (each call makes a fresh one)
  const CkksPlanEvaluator folded(c.plan, c.kh.context(), rk);
  ::setenv("LEUKOCRYPT_FOLD", "off", 1);
  const CkksPlanEvaluator unfolded(c.plan, c.kh.context(), rk);
  ::unsetenv("LEUKOCRYPT_FOLD");
  CkksStreamStats fs;
  const auto a = folded.evaluate(c.source(), &fs), b = unfolded.evaluate(c.source());
  EXPECT_GT(fs.step_seconds[6], 0.0);  // the folded layer (step 6) reports its own time
  expect_same_ciphertexts(a, b, c.kh.context()->n());
}

// The wide chain end to end on a tiny INSECURE ring (N = 1024, 512 slots): 40 real group-C cells
// through the streamed evaluator with the schedule, each result re-randomised and flooded by the
// server's CkksCircuitPrivacy with the chosen bits: every argmax equals the float model's and the
// largest logit error stays within the predicted (flooded) bound; unflooded, within the
// unflooded prediction. The flooded results differ from the unflooded ones (the flood is there).
TEST(CkksEvaluator, WideChainFloodedResultsStayWithinTheModel) {
  const Plan plan = plan_of("cnmc-x2.lcm");
  CkksChoiceOptions o;
  o.insecure_for_tests = true;
  o.min_n = 1024;
  o.circuit_privacy = true;
  const auto mag = plan_magnitudes(plan, group_c().images);
  const auto s = choose_ckks_settings(plan, mag, o);
  ASSERT_FALSE(s.schedule.empty());
  std::vector<const std::uint8_t*> images(group_c().images.begin(), group_c().images.begin() + 40);
  const CkksKeyHolder kh(s);
  const CkksPlanEvaluator ev(plan, kh.context(), kh.relin_keys(), s.schedule);
  auto out = ev.evaluate([&](std::size_t u) { return kh.encrypt_value(plan, images, u); });
  const auto plain_logits = kh.decrypt(out, images.size());
  const CkksCircuitPrivacy privacy(kh.context(), kh.public_key(), s.flood_bits);
  for (auto& ct : out) privacy.apply(ct);
  const auto flooded_logits = kh.decrypt(out, images.size());
  auto ref = make_float_backend()->run(plan, images);
  BatchOutput plain = ref, flooded = ref;
  plain.logits = plain_logits;
  flooded.logits = flooded_logits;
  const auto a = compare(plain, ref), b = compare(flooded, ref);
  EXPECT_EQ(b.argmax_mismatches, 0u);
  EXPECT_LE(b.max_error, s.predicted_error);
  EXPECT_LE(a.max_error, predict_ckks_errors(plan, s.params, mag, s.schedule).back());
  EXPECT_NE(plain_logits, flooded_logits);
  std::printf("wide chain, N = %zu: flood 2^%d; largest logit error %.3g unflooded, %.3g flooded (bound %.3g)\n",
              s.params.n(), s.flood_bits, a.max_error, b.max_error, s.predicted_error);
  // The evaluator refuses a schedule of another plan.
  auto wrong = s.schedule;
  wrong.pop_back();
  EXPECT_THROW(CkksPlanEvaluator(plan, kh.context(), kh.relin_keys(), wrong), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::nn
