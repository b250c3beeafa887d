// The throughput layout with spatial blocks (block_layout.h): the plan transformation simulated on
// plain slot vectors (packing, scalar steps, the block sum's rotations and row swap) equals the raw
// backend on the unblocked plan for every block count; encrypted logits == raw logits exactly with
// tiny INSECURE parameters (blocks in one and in both slot rows, deferred relinearisation or not,
// streamed and resident); settings, the chooser and refusals.
#include <gtest/gtest.h>

#include <random>

#include "exact_helpers.h"
#include "nn/backend.h"
#include "nn/bfv_settings.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "nn/slot_layout.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

using testing::expect_exact;
using testing::Images;

QuantizedModel tiny_q() {
  QuantizeOptions o;
  o.weight_max = {15, 7, 7};
  return quantize(collapse_linear(testing::tiny_model()), o);
}

QuantizedModel cnmc_like_q() {
  QuantizeOptions o;
  o.weight_max = {15, 7, 7};
  return quantize(collapse_linear(testing::cnmc_like_model()), o);
}

// Tiny INSECURE throughput parameters (N = 256, 8 x 50-bit primes) with `blocks` spatial blocks.
BfvSettings blocked_settings(const QuantizedModel& q, const Plan& plan, std::size_t blocks) {
  ParamsRequest req;
  req.bits_needed = worst_case_bound(q).output_bits;
  req.n = 256;
  req.q_bits = {50, 50, 50, 50, 50, 50, 50, 50};
  req.insecure_for_tests = true;
  req.layout = Layout::kThroughput;
  req.blocks = blocks;
  return choose_params(plan, req).settings;
}

// The blocked plan on plain slot vectors of N integers: what the BFV evaluator computes mod t, here
// without a modulus. Logits of cell i: slot i of block 0.
std::vector<Int128> run_blocks_plain(const Plan& p, const std::vector<const std::uint8_t*>& images) {
  const BlockLayout& bl = p.blocks;
  const std::size_t n = bl.n, B = bl.count;
  using Slots = std::vector<Int128>;
  std::vector<Slots> v(p.input_size(), Slots(n, Int128(0)));
  for (std::size_t u = 0; u < v.size(); ++u)
    for (std::size_t b = 0; b < B; ++b) {
      const std::int32_t src = bl.source[u * B + b];
      if (src >= 0)
        for (std::size_t i = 0; i < images.size(); ++i) v[u][bl.slot(b, i)] = Int128(images[i][std::size_t(src)]);
    }
  for (std::size_t s = 1; s + 1 < p.steps.size(); ++s) {
    const auto& st = p.steps[s];
    if (st.kind == OpKind::kLinear) {
      const auto& l = st.linear;
      std::vector<Slots> out(std::size_t(l.n_out), Slots(n));
      for (int o = 0; o < l.n_out; ++o) {
        for (std::size_t x = 0; x < n; ++x) out[o][x] = l.bias[o];
        for (auto t = l.row_start[o]; t < l.row_start[o + 1]; ++t)
          for (std::size_t x = 0; x < n; ++x) out[o][x] += Int128(l.weight[t]) * v[l.index[t]][x];
      }
      v = std::move(out);
    } else if (st.kind == OpKind::kSquare) {
      for (auto& s2 : v)
        for (auto& x : s2) x = x * x;
    } else if (st.kind == OpKind::kBlockSum) {
      const std::size_t row0 = std::min(B, bl.per_row);
      std::vector<Slots> out;
      for (int o = 0; o < st.size; ++o) {
        auto row = [&](std::size_t b0, std::size_t b1) {
          Slots acc = v[o * B + b0];
          for (std::size_t b = b0 + 1; b < b1; ++b) {
            const Slots r = rotate_slot_rows(v[o * B + b], int((b - b0) * bl.slots));
            for (std::size_t x = 0; x < n; ++x) acc[x] += r[x];
          }
          return acc;
        };
        Slots acc = row(0, row0);
        if (B > row0) {
          const Slots r1 = row(row0, B);
          for (std::size_t x = 0; x < n; ++x) acc[x] += r1[(x + n / 2) % n];  // the row swap
        }
        out.push_back(std::move(acc));
      }
      v = std::move(out);
    }
  }
  std::vector<Int128> logits;
  for (std::size_t i = 0; i < images.size(); ++i)
    for (const auto& o : v) logits.push_back(o[i]);
  return logits;
}

TEST(Blocks, PlainSlotSimulationEqualsRawForEveryBlockCount) {
  Images img(20, 32);
  const Plan plan = lower(cnmc_like_q());
  const auto raw = make_raw_backend()->run(plan, img.ptrs);
  const std::size_t rows = std::size_t(plan.steps[1].linear.conv->out.h);
  std::size_t tried = 0;
  for (std::size_t b = 2; b <= rows; ++b) {
    if (!canonical_block_count(rows, b)) {
      EXPECT_THROW(to_blocked(plan, 1024, b), InvalidArgument) << b;
      continue;
    }
    const Plan p = to_blocked(plan, 1024, b);
    ASSERT_EQ(p.blocks.count, b);
    ASSERT_GE(p.blocks.slots, img.ptrs.size()) << b;
    EXPECT_LT(p.input_size(), plan.input_size()) << b;
    EXPECT_LT(p.counts().squares, plan.counts().squares) << b;
    expect_exact(run_blocks_plain(p, img.ptrs), raw.exact);
    ++tried;
  }
  EXPECT_GE(tried, 4u);
}

TEST(Blocks, RefusesModelsWithoutALeadingConvolutionAndBadCounts) {
  Plan plan = lower(tiny_q());
  EXPECT_EQ(to_blocked(plan, 256, 1).steps.size(), plan.steps.size());
  EXPECT_THROW(to_blocked(plan, 256, 3), InvalidArgument);   // 4 rows: 3 blocks do not tile them
  EXPECT_THROW(to_blocked(plan, 256, 5), InvalidArgument);   // more blocks than rows
  EXPECT_NO_THROW(to_blocked(plan, 256, 4));
  Plan dense_first = plan;
  dense_first.steps[1].linear.conv.reset();
  EXPECT_THROW(to_blocked(dense_first, 256, 2), InvalidArgument);
  const Plan blocked = to_blocked(plan, 256, 2);
  EXPECT_THROW(make_raw_backend()->run(blocked, {}), InvalidArgument);
}

// The card's blocks section (untrusted input to the key holder): round trip to the same packing,
// and every malformed or oversized document refused with FormatError, never a crash or a huge map.
TEST(Blocks, ClientJsonRoundTripAndRefusesBadDocuments) {
  const Plan p = to_blocked(lower(cnmc_like_q()), 1024, 4);
  const auto j = p.blocks.client_json();
  const auto back = BlockLayout::from_client_json(j);
  EXPECT_EQ(back.source, p.blocks.source);
  EXPECT_EQ(back.slots, p.blocks.slots);
  EXPECT_EQ(back.rotation_steps(), p.blocks.rotation_steps());
  EXPECT_EQ(back.swaps(), p.blocks.swaps());
  auto bad = [&](const char* key, const nlohmann::json& v) {
    auto d = j;
    if (v.is_null()) d.erase(key);
    else d[key] = v;
    EXPECT_THROW(BlockLayout::from_client_json(d), FormatError) << key << " = " << v.dump();
  };
  bad("n", nullptr);
  bad("n", 1000);                       // not a power of two
  bad("n", -4);
  bad("blocks", 1);                     // a blocks section has at least 2
  bad("blocks", 6);                     // does not tile 15 rows (3 per block make 5 blocks)
  bad("blocks", "four");
  bad("input", nlohmann::json::array({3, 32}));
  {  // a packing map far beyond 2^24 entries
    auto d = j;
    d["input"] = nlohmann::json::array({64, 4096, 4096});
    d["out_rows"] = 2046;
    d["blocks"] = 2;
    EXPECT_THROW(BlockLayout::from_client_json(d), FormatError);
  }
  bad("kernel_h", 0);
  bad("stride", 0);
  bad("out_rows", 4096);                // more rows than the input gives
  EXPECT_THROW(BlockLayout::from_client_json(nlohmann::json::array()), FormatError);
  EXPECT_THROW(BlockLayout::from_client_json("blocks"), FormatError);
}

TEST(Blocks, SettingsRoundTripAndRefuseBlocksOutsideTheThroughputLayout) {
  BfvSettings s;
  s.n = 256;
  s.q_bits = {50, 50, 50};
  s.plain_primes = {7681};
  s.insecure_for_tests = true;
  s.blocks = 4;
  EXPECT_EQ(s.cells_per_batch(), 64u);
  auto r = BfvSettings::from_json(s.to_json(), true);
  EXPECT_EQ(r.blocks, 4u);
  s.blocks = 1;
  EXPECT_FALSE(s.to_json().contains("blocks"));  // documents without blocks are unchanged
  EXPECT_EQ(BfvSettings::from_json(s.to_json(), true).blocks, 1u);
  auto j = s.to_json();
  j["blocks"] = 2;
  j["layout"] = "latency";
  EXPECT_THROW(BfvSettings::from_json(j, true), FormatError);
  j["layout"] = "throughput";
  j["blocks"] = 0;
  EXPECT_THROW(BfvSettings::from_json(j, true), FormatError);
}

// Encrypted == raw exactly on real cells, tiny INSECURE parameters: 2 blocks (one per slot row:
// the row swap only), 4 blocks (2 per row: a rotation and the swap), streamed and resident,
// relinearisation deferred or not.
TEST(Blocks, EncryptedLogitsEqualRawExactly) {
  Images img(12, 16);
  const auto q = tiny_q();
  const Plan plan = lower(q);
  const auto raw = make_raw_backend()->run(plan, img.ptrs);
  for (std::size_t blocks : {2u, 4u})
    for (bool defer : {false, true})
      for (bool streaming : {false, true}) {
        auto s = blocked_settings(q, plan, blocks);
        ASSERT_EQ(s.blocks, blocks);
        s.defer_relin = defer;
        const Plan bp = plan_for(plan, s);
        s.mod_switch_levels = choose_mod_switch_levels(bp, s.params(), 10.0, defer);
        BfvBackendOptions o;
        o.streaming = streaming;
        o.measure_noise = !streaming;
        auto enc = make_bfv_backend(s, o)->run(plan, img.ptrs);
        SCOPED_TRACE("blocks " + std::to_string(blocks) + (defer ? " deferred" : "") + (streaming ? " streamed" : ""));
        expect_exact(enc.exact, raw.exact);
        EXPECT_EQ(enc.report.batches, 1u);
        // The noise simulation bounds the measured budget at every step, block sum included.
        if (!streaming) {
          const auto sim = simulate_noise(bp, s.params()[0], s.mod_switch_levels, defer);
          for (std::size_t st = 0; st + 1 < bp.steps.size(); ++st)
            EXPECT_GE(double(enc.report.steps[st].noise_budget_bits) + 1.0, sim.budget_after_step[st]) << bp.steps[st].name;
        }
      }
}

// Cells beyond one block's slots go to further batches.
TEST(Blocks, SeveralBatchesOfOneBlockEach) {
  Images img(10, 16);
  std::vector<const std::uint8_t*> many;
  for (int i = 0; i < 150; ++i) many.push_back(img.ptrs[i % img.ptrs.size()]);
  const auto q = tiny_q();
  const Plan plan = lower(q);
  const auto s = blocked_settings(q, plan, 4);  // 2 per row: 64 slots per block -> 3 batches
  BfvBackendOptions o;
  o.measure_noise = false;
  auto enc = make_bfv_backend(s, o)->run(plan, many);
  expect_exact(enc.exact, make_raw_backend()->run(plan, many).exact);
  EXPECT_EQ(enc.report.batches, 3u);
}

// For the shipped C-NMC model's group C (1,198 cells) the chooser packs blocks with and without
// circuit privacy (fewer inputs and squares than the unblocked set at the same N).
TEST(Blocks, ChooserPicksBlocksForAGroupSizedBatch) {
  const auto q = cnmc_like_q();
  const Plan plan = lower(q);
  ParamsRequest req;
  req.bits_needed = worst_case_bound(q).output_bits;
  req.images = 1198;
  req.layout = Layout::kThroughput;
  for (bool privacy : {true, false}) {
    req.circuit_privacy = privacy;
    const auto c = choose_params(plan, req);
    EXPECT_GT(c.settings.blocks, 1u) << privacy;
    EXPECT_GE(c.settings.cells_per_batch(), 1198u) << privacy;
    ParamsRequest none = req;
    none.blocks = 1;
    none.n = c.settings.n;
    const auto u = choose_params(plan, none);
    EXPECT_EQ(u.settings.blocks, 1u);
    EXPECT_LT(c.cost.server_seconds, u.cost.server_seconds) << privacy;
  }
}

}  // namespace
}  // namespace leukocrypt::nn
