// The lazy small-weight multiply-add in the encrypted linear layers (BfvPlanEvaluator with
// he::eltwise_mac_small): which rows take it, that rows over the 64-bit bound fall back to the
// reduced Shoup kernel, and that encrypted logits stay exactly the raw integer logits either way,
// on real C-NMC cells. Tiny INSECURE parameters (N = 256, named as such): only exactness matters.
#include <gtest/gtest.h>

#include <cstdlib>

#include "nn/backend.h"
#include "nn/bfv_evaluator.h"
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

std::vector<std::size_t> linear_steps(const Plan& plan) {
  std::vector<std::size_t> s;
  for (std::size_t i = 0; i < plan.steps.size(); ++i)
    if (plan.steps[i].kind == OpKind::kLinear) s.push_back(i);
  return s;
}

// The tiny model with output 0 of its last dense layer given weights of magnitude 2^20: with a
// 50-bit q, sum |w| = 2^22 > 2^64 / q ~ 2^14, so that row cannot be summed in 64 bits and must
// take the reduced kernel; output 1 and every earlier layer stay lazy. Exact on real cells through
// the streaming and the resident paths.
TEST(LazyMac, RowsOverTheBoundFallBackAndStayExact) {
  QuantizeOptions qo;
  qo.weight_max = {15, 7, 7};
  auto q = quantize(collapse_linear(testing::tiny_model()), qo);
  QuantizedLayer* last = nullptr;
  for (auto& l : q.layers)
    if (l.kind == LayerKind::kDense) last = &l;
  ASSERT_NE(last, nullptr);
  const std::size_t n_in = std::size_t(last->in.size());
  ASSERT_EQ(n_in, 4u);
  for (std::size_t k = 0; k < n_in; ++k) last->weight[k] = (last->weight[k] < 0 ? -1 : 1) * (std::int64_t{1} << 20);
  const auto plan = lower(q);
  const auto steps = linear_steps(plan);
  ASSERT_EQ(steps.size(), 3u);

  Images img(8, 16);
  const auto raw = make_raw_backend()->run(plan, img.ptrs);
  const auto settings = insecure_settings(plan, worst_case_bound(q).output_bits, true);
  BfvKeyHolder keys(settings);
  BfvPlanEvaluator server(plan, settings, keys.contexts(), keys.relin_keys());
  const std::size_t k = settings.plain_primes.size();
  for (std::size_t j = 0; j < k; ++j) {
    EXPECT_EQ(server.lazy_rows(steps[0], j), std::size_t(plan.steps[steps[0]].linear.n_out)) << "prime " << j;
    EXPECT_EQ(server.lazy_rows(steps[1], j), std::size_t(plan.steps[steps[1]].linear.n_out)) << "prime " << j;
    EXPECT_EQ(server.lazy_rows(steps[2], j), 1u) << "prime " << j;  // output 1 only
  }
  EXPECT_EQ(server.lazy_rows(0, 0), 0u);  // Encrypt: not a linear step
  EXPECT_THROW(server.lazy_rows(plan.steps.size(), 0), InvalidArgument);

  EncryptedBatch out;
  out.images = img.ptrs.size();
  out.values = server.evaluate(k, plan.input_size(),
                               [&](std::size_t j, std::size_t v) { return keys.encrypt_value(j, img.ptrs, v); });
  expect_exact(keys.decrypt(out), raw.exact);
  auto batch = keys.encrypt(plan, img.ptrs);
  server.evaluate(batch);
  expect_exact(keys.decrypt(batch), raw.exact);
}

// The shipped C-NMC model: every row of every linear layer fits the lazy bound (the speed-up
// applies to all of it), and LEUKOCRYPT_LAZY_MAC=off turns it off without changing the logits.
TEST(LazyMac, ShippedModelIsLazyEverywhereAndTheSwitchKeepsLogits) {
  auto collapsed = collapse_linear(load_model(std::string(LEUKOCRYPT_SOURCE_DIR) + "/models/cnmc-x2.lcm"));
  const auto q = quantize(collapsed, QuantizeOptions::from_json(collapsed.metadata.at("quantization")));
  const auto plan = lower(q);
  Images img(4, 32);
  const auto raw = make_raw_backend()->run(plan, img.ptrs);
  const auto settings = insecure_settings(plan, worst_case_bound(q).output_bits, true);
  BfvKeyHolder keys(settings);
  const std::size_t k = settings.plain_primes.size();
  auto run = [&](const BfvPlanEvaluator& server) {
    EncryptedBatch out;
    out.images = img.ptrs.size();
    out.values = server.evaluate(k, plan.input_size(),
                                 [&](std::size_t j, std::size_t v) { return keys.encrypt_value(j, img.ptrs, v); });
    expect_exact(keys.decrypt(out), raw.exact);
  };
  {
    BfvPlanEvaluator server(plan, settings, keys.contexts(), keys.relin_keys());
    for (std::size_t s : linear_steps(plan))
      for (std::size_t j = 0; j < k; ++j)
        EXPECT_EQ(server.lazy_rows(s, j), std::size_t(plan.steps[s].linear.n_out)) << plan.steps[s].name;
    run(server);
  }
  ASSERT_EQ(setenv("LEUKOCRYPT_LAZY_MAC", "off", 1), 0);
  BfvPlanEvaluator reduced(plan, settings, keys.contexts(), keys.relin_keys());
  unsetenv("LEUKOCRYPT_LAZY_MAC");
  for (std::size_t s : linear_steps(plan)) EXPECT_EQ(reduced.lazy_rows(s, 0), 0u) << plan.steps[s].name;
  run(reduced);
}

}  // namespace
}  // namespace leukocrypt::nn
