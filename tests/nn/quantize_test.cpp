// Quantisation, the plan, and agreement of the float and raw backends on real cells; the
// worst-case bound holds on real cells and exceeds what they reach.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "nn/backend.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "real_cells.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

struct Cells {
  std::vector<testing::Cell> cells;
  std::vector<std::vector<std::uint8_t>> bytes;
  LabeledImages set;
  std::vector<const std::uint8_t*> ptrs;
  Cells(int n, int size) : cells(testing::load_real_cells(n, size)) {
    for (const auto& c : cells) bytes.emplace_back(c.pixels.begin(), c.pixels.end());
    for (std::size_t i = 0; i < cells.size(); ++i) {
      set.pixels.push_back(bytes[i].data());
      set.labels.push_back(cells[i].label);
    }
    ptrs = set.pixels;
  }
};

TEST(Int128, TextRoundTrip) {
  for (Int128 v : {Int128(0), Int128(-1), Int128(12345), -(Int128(1) << 100), (Int128(1) << 126) + 7})
    EXPECT_TRUE(parse_int128(to_string128(v), "v") == v);
  EXPECT_THROW(parse_int128("12a", "v"), FormatError);
  EXPECT_THROW(parse_int128("", "v"), FormatError);
  EXPECT_THROW(parse_int128("999999999999999999999999999999999999999", "v"), FormatError);
  EXPECT_EQ(signed_bits(0), 1);
  EXPECT_EQ(signed_bits(1), 2);
  EXPECT_EQ(signed_bits(255), 9);
  EXPECT_EQ(signed_bits(256), 10);
}

TEST(Quantize, ScalesAndRounding) {
  auto m = collapse_linear(testing::cnmc_like_model());
  QuantizeOptions o;
  o.weight_max = {15, 31, 7};
  auto q = quantize(m, o);
  ASSERT_EQ(q.layers.size(), 5u);
  std::int64_t mx = 0;
  for (auto w : q.layers[0].weight) mx = std::max<std::int64_t>(mx, std::llabs(w));
  EXPECT_EQ(mx, 15);
  for (auto w : q.layers[2].weight) mx = std::max<std::int64_t>(mx, std::llabs(w));
  EXPECT_EQ(mx, 31);
  // Scales: S0 = s0 * 255, S1 = S0^2, S2 = s2 * S1, S3 = S2^2, S4 = s4 * S3.
  const long double s0 = q.layers[0].weight_scale / (long double)m.input_scale;
  EXPECT_NEAR(double(q.layers[1].scale / (s0 * s0)), 1.0, 1e-12);
  EXPECT_NEAR(double(q.output_scale() / (q.layers[3].scale * q.layers[4].weight_scale)), 1.0, 1e-12);
  EXPECT_EQ(o.to_json(), QuantizeOptions::from_json(o.to_json()).to_json());
  EXPECT_THROW(QuantizeOptions::from_json({{"weight_max", {0}}}), FormatError);
  // A ReLU model cannot be quantised for encryption.
  EXPECT_THROW(quantize(collapse_linear(testing::cnmc_like_model(5, LayerKind::kReLU))), InvalidArgument);
}

TEST(Backends, FloatAndRawAgreeOnRealCells) {
  Cells c(24, 32);
  auto m = collapse_linear(testing::cnmc_like_model());
  QuantizeOptions o;
  o.weight_max = {63, 63, 63};
  auto q = quantize(m, o);
  auto plan = lower(q);
  auto counts = plan.counts();
  EXPECT_EQ(counts.depth, 2);
  EXPECT_EQ(counts.input_values, 3u * 32 * 32);
  EXPECT_EQ(counts.squares, 5u * 15 * 15 + 10u * 5 * 5);
  auto f = make_float_backend()->run(plan, c.ptrs);
  auto r = make_raw_backend()->run(plan, c.ptrs);
  ASSERT_EQ(f.logits.size(), 48u);
  ASSERT_EQ(r.exact.size(), 48u);
  int agree = 0;
  for (std::size_t k = 0; k < c.cells.size(); ++k) {
    // Float backend == float model.
    auto y = forward(m, c.cells[k].pixels.data());
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(f.logits[k * 2 + j], y[j], 1e-4 * (1 + std::fabs(y[j])));
    // Raw == integer model in double (exact to double rounding).
    auto d = forward_quantized(q, c.bytes[k].data());
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(double(r.exact[k * 2 + j]) / d[j], 1.0, 1e-9);
    // Raw / scale approximates float.
    for (int j = 0; j < 2; ++j)
      EXPECT_NEAR(r.logits[k * 2 + j], f.logits[k * 2 + j], 0.05 * (1 + std::fabs(f.logits[k * 2 + j])));
    agree += f.predicted(k) == r.predicted(k);
  }
  EXPECT_GE(agree, 23);
  // Worst case bounds what real cells reach, step by step.
  auto b = worst_case_bound(q);
  std::size_t li = 0;
  for (std::size_t si = 0; si < plan.steps.size(); ++si) {
    const auto k = plan.steps[si].kind;
    if (k != OpKind::kLinear && k != OpKind::kSquare) continue;
    EXPECT_LE((long double)r.report.steps[si].max_abs, b.max_abs[li]) << plan.steps[si].name;
    ++li;
  }
  EXPECT_GE(b.output_bits, r.report.steps[plan.steps.size() - 3].bits);
}

TEST(Backends, RawDetectsOverflow) {
  Cells c(2, 32);
  auto m = collapse_linear(testing::cnmc_like_model());
  auto plan = lower(quantize(m));
  // Weights near 2^62 in the middle layer: squared, the result cannot fit 127 bits.
  auto it = std::find_if(plan.steps.begin(), plan.steps.end(), [](const PlanStep& s) { return s.name == "conv2d2"; });
  ASSERT_NE(it, plan.steps.end());
  for (auto& w : it->linear.weight) w = std::int64_t(1) << 62;
  EXPECT_THROW(make_raw_backend()->run(plan, c.ptrs), OverflowError);
}

TEST(Quantize, ChoiceStaysWithinHalfAPointOfFloat) {
  Cells c(60, 32);
  // Real labels; an untrained model, so what is checked is the tolerance, not the accuracy.
  auto m = collapse_linear(testing::cnmc_like_model(9));
  auto choice = choose_quantization(m, c.set, 0.5);
  EXPECT_GE(choice.int_accuracy, choice.float_accuracy - 0.005 - 1e-12);
  EXPECT_FALSE(choice.trials.empty());
  EXPECT_EQ(choice.worst_case_bits, worst_case_bound(choice.model).output_bits);
  EXPECT_LT(choice.worst_case_bits, 127);
}

}  // namespace
}  // namespace leukocrypt::nn
