// Streaming encrypted inference (BfvPlanEvaluator::evaluate with a CiphertextSource, one plaintext
// prime at a time) and deferred relinearisation: exact agreement with the raw integer backend on
// real C-NMC cells with the shipped model (models/cnmc-x2.lcm), the source's access contract, the
// bounded input window, rejection of bad source ciphertexts, and the noise simulation of deferred
// relinearisation against measured budgets with 128-bit parameters. Tiny INSECURE parameters
// (N = 256, named as such) where only exactness is checked.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <stdexcept>

#include "common/error.h"
#include "he/bfv/params.h"
#include "nn/backend.h"
#include "nn/bfv_evaluator.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/keyholder/bfv_keyholder.h"
#include "nn/model.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "exact_helpers.h"
#include "real_cells.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

using testing::expect_exact;
using testing::Images;
using testing::insecure_settings;

// The shipped C-NMC model with the quantisation stored in it.
struct ShippedModel {
  QuantizedModel q;
  Plan plan;
  ShippedModel() {
    auto collapsed = collapse_linear(load_model(std::string(LEUKOCRYPT_SOURCE_DIR) + "/models/cnmc-x2.lcm"));
    q = quantize(collapsed, QuantizeOptions::from_json(collapsed.metadata.at("quantization")));
    plan = lower(q);
  }
};

const ShippedModel& shipped() {
  static const ShippedModel m;
  return m;
}

class StreamingShippedModel : public ::testing::TestWithParam<bool> {};

// Streaming (both relinearisation placements) == resident step-by-step path == raw integers,
// exactly, on 12 real cells; every (prime, input) pulled once, prime-major, in a bounded window.
TEST_P(StreamingShippedModel, MatchesRawExactlyAndHonoursTheSourceContract) {
  const bool defer = GetParam();
  const auto& m = shipped();
  Images img(12, 32);
  const auto raw = make_raw_backend()->run(m.plan, img.ptrs);
  const auto settings = insecure_settings(m.plan, worst_case_bound(m.q).output_bits, defer);
  BfvKeyHolder keys(settings);
  BfvPlanEvaluator server(m.plan, settings, keys.contexts(), keys.relin_keys());
  const std::size_t k = settings.plain_primes.size(), n_in = m.plan.input_size();
  ASSERT_GE(k, 2u);

  std::mutex mu;
  std::vector<std::vector<int>> calls(k, std::vector<int>(n_in, 0));
  std::size_t last_prime = 0;
  bool prime_major = true;
  auto source = [&](std::size_t j, std::size_t v) {
    {
      std::lock_guard<std::mutex> lk(mu);
      ++calls[j][v];
      if (j < last_prime) prime_major = false;
      last_prime = j;
    }
    return keys.encrypt_value(j, img.ptrs, v);
  };
  StreamStats stats;
  EncryptedBatch out;
  out.images = img.ptrs.size();
  out.values = server.evaluate(k, n_in, source, &stats);
  EXPECT_TRUE(prime_major);
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t v = 0; v < n_in; ++v) ASSERT_EQ(calls[j][v], 1) << "prime " << j << " input " << v;
  // The convolution proceeds row by row: far fewer inputs than the 3,072 are resident at once.
  EXPECT_LT(stats.max_resident_inputs, n_in / 2);
  EXPECT_GT(stats.max_resident_inputs, 0u);
  ASSERT_EQ(stats.step_seconds.size(), m.plan.steps.size());
  for (const auto& v : out.values)
    for (const auto& ct : v) EXPECT_EQ(ct.size(), 2u);  // relinearised
  expect_exact(keys.decrypt(out), raw.exact);

  // The resident, step-by-step path gives the same logits with the same settings.
  auto batch = keys.encrypt(m.plan, img.ptrs);
  server.evaluate(batch);
  expect_exact(keys.decrypt(batch), raw.exact);
}

INSTANTIATE_TEST_SUITE_P(RelinPlacement, StreamingShippedModel, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Deferred" : "AfterSquare"; });

// One prime at a time through evaluate_prime, as the backend does, with the default backend too.
TEST(Streaming, PerPrimeAndBackendMatchRaw) {
  const auto& m = shipped();
  Images img(6, 32);
  const auto raw = make_raw_backend()->run(m.plan, img.ptrs);
  const auto settings = insecure_settings(m.plan, worst_case_bound(m.q).output_bits, true);
  BfvKeyHolder keys(settings);
  BfvPlanEvaluator server(m.plan, settings, keys.contexts(), keys.relin_keys());
  EncryptedBatch out;
  out.images = img.ptrs.size();
  for (std::size_t j = 0; j < settings.plain_primes.size(); ++j)
    out.values.push_back(server.evaluate_prime(j, [&](std::size_t v) { return keys.encrypt_value(j, img.ptrs, v); }));
  expect_exact(keys.decrypt(out), raw.exact);

  BfvBackendOptions o;
  o.measure_noise = false;
  auto enc = make_bfv_backend(settings, o)->run(m.plan, img.ptrs);
  expect_exact(enc.exact, raw.exact);
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_GE(enc.report.client_cpu_seconds, 0.0);
}

// Bad ciphertexts from the source are refused with InvalidArgument; a throwing source propagates.
TEST(Streaming, RejectsBadSourceCiphertexts) {
  Images img(2, 16);
  QuantizeOptions qo;
  qo.weight_max = {15, 7, 7};
  const auto q = quantize(collapse_linear(testing::tiny_model()), qo);
  const auto plan = lower(q);
  const auto settings = insecure_settings(plan, worst_case_bound(q).output_bits, true);
  BfvKeyHolder keys(settings);
  BfvPlanEvaluator server(plan, settings, keys.contexts(), keys.relin_keys());
  const std::size_t k = settings.plain_primes.size(), n_in = plan.input_size();
  auto good = [&](std::size_t j, std::size_t v) { return keys.encrypt_value(j, img.ptrs, v); };
  EXPECT_NO_THROW(server.evaluate(k, n_in, good));
  EXPECT_THROW(server.evaluate(k + 1, n_in, good), InvalidArgument);
  EXPECT_THROW(server.evaluate(k, n_in + 1, good), InvalidArgument);
  // Prime 0 fed with prime 1's ciphertexts (other parameters).
  if (k > 1) {
    EXPECT_THROW(server.evaluate(k, n_in, [&](std::size_t, std::size_t v) { return keys.encrypt_value(1, img.ptrs, v); }),
                 InvalidArgument);
  }
  // Mixed levels.
  bfv::Evaluator ev(keys.contexts()[0]);
  EXPECT_THROW(server.evaluate_prime(0,
                                     [&](std::size_t v) {
                                       auto ct = keys.encrypt_value(0, img.ptrs, v);
                                       if (v % 2) ev.mod_switch_to_next_inplace(ct);
                                       return ct;
                                     }),
               InvalidArgument);
  // Size 3.
  EXPECT_THROW(server.evaluate_prime(0, [&](std::size_t v) { return ev.square(keys.encrypt_value(0, img.ptrs, v)); }),
               InvalidArgument);
  std::atomic<int> n{0};
  EXPECT_THROW(server.evaluate_prime(0,
                                     [&](std::size_t v) -> bfv::Ciphertext {
                                       if (++n > 3) throw std::runtime_error("source failed");
                                       return keys.encrypt_value(0, img.ptrs, v);
                                     }),
               std::runtime_error);
}

// 128-bit parameters with deferred relinearisation: the measured noise budget after every step
// (streaming path, sampled ciphertexts) is at least the worst-case simulation of that placement.
TEST(Streaming, DeferredRelinNoiseStaysAboveTheSimulation) {
  Images img(8, 16);
  QuantizeOptions qo;
  qo.weight_max = {15, 7, 7};
  const auto q = quantize(collapse_linear(testing::tiny_model()), qo);
  const auto plan = lower(q);
  ParamsRequest req;
  req.bits_needed = worst_case_bound(q).output_bits;
  req.images = img.ptrs.size();
  req.layout = Layout::kThroughput;  // deferral is a throughput-layout choice (latency rotates size-2 ciphertexts)
  auto settings = choose_params(plan, req).settings;
  settings.defer_relin = true;
  const auto params = settings.params();
  settings.mod_switch_levels = choose_mod_switch_levels(plan, params, 10.0, true);
  std::vector<double> sim(plan.steps.size(), 1e9);
  for (const auto& p : params) {
    const auto s = simulate_noise(plan, p, settings.mod_switch_levels, true);
    for (std::size_t i = 0; i < sim.size(); ++i) sim[i] = std::min(sim[i], s.budget_after_step[i]);
  }
  ASSERT_GE(sim.back(), 10.0);
  const auto raw = make_raw_backend()->run(plan, img.ptrs);
  auto enc = make_bfv_backend(settings)->run(plan, img.ptrs);  // streaming, noise measured
  expect_exact(enc.exact, raw.exact);
  for (std::size_t s = 0; s + 1 < plan.steps.size(); ++s) {
    const int measured = enc.report.steps[s].noise_budget_bits;
    ASSERT_GE(measured, 0) << plan.steps[s].name;
    EXPECT_GE(double(measured) + 1.0, sim[s]) << plan.steps[s].name;
  }
}

TEST(Streaming, DeferralTargetsTheNextLinearLayer) {
  const auto& plan = shipped().plan;
  const auto t = relin_deferral_targets(plan);
  std::size_t deferred = 0;
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    if (t[s] == 0) continue;
    ++deferred;
    EXPECT_EQ(plan.steps[s].kind, OpKind::kRelinearize);
    EXPECT_EQ(plan.steps[t[s]].kind, OpKind::kLinear);
    for (std::size_t u = s + 1; u < t[s]; ++u) EXPECT_NE(plan.steps[u].kind, OpKind::kSquare);
  }
  EXPECT_EQ(deferred, 2u);  // both squares of conv -> x2 -> dense -> x2 -> dense
}

// The estimate of resident ciphertexts follows the folded stream: the first layer's 1,024 outputs
// pass a task at a time into the second layer's per-thread accumulators, so the estimate is far
// below holding them all (1,024 size-3 ciphertexts), and grows with the threads holding sets.
TEST(Streaming, PeakEstimateCountsTheFoldedSecondLayerNotEveryFirstLayerOutput) {
  const auto& plan = shipped().plan;
  BfvSettings s;
  s.n = 16384;
  s.q_bits = {50, 50, 50, 50, 50, 50, 50, 50};
  s.plain_primes = {562949954142209ULL, 562949954961409ULL};
  s.mod_switch_levels = {6, 5, 0, 3, 0};
  s.defer_relin = true;
  const double all_outputs = 1024.0 * 3 * 5 * 16384 * 8;  // squared, level 5
  const auto two = estimate_cost(plan, s, 1198, 2, 100, true);
  const auto eight = estimate_cost(plan, s, 1198, 8, 100, true);
  EXPECT_LT(two.peak_bytes, all_outputs / 4);
  EXPECT_GT(eight.peak_bytes, two.peak_bytes);
}

}  // namespace
}  // namespace leukocrypt::nn
