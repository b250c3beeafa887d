// The CKKS latency layout (a cell's values in the slots of one ciphertext, N/2 slots in one row,
// float weights): the layout planned for CKKS slots, rotations against the plain reference, and
// encrypted logits within the precision model of the float logits, argmax equal, on real C-NMC
// cells (1 cell, 7 cells over 4 ciphertexts) with small INSECURE parameters (named so); missing
// Galois keys and mismatched plans refused.
#include <gtest/gtest.h>

#include <random>

#include "common/error.h"
#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/symmetric_encryptor.h"
#include "nn/backend.h"
#include "nn/ckks_settings.h"
#include "nn/ckks_slot_evaluator.h"
#include "nn/keyholder/ckks_backend.h"
#include "nn/keyholder/ckks_keyholder.h"
#include "nn/plan.h"
#include "ckks_test_helpers.h"

namespace leukocrypt::nn {
namespace {

using testing::compare;
using testing::group_c;
using testing::plan_of;

const Plan& shipped() {
  static const Plan p = plan_of("cnmc-x2.lcm");
  return p;
}

// One row of N/2 slots (not BFV's two rows): a block of 4096 slots gives 2 cells per ciphertext at
// N = 16384 (BFV: 4), float diagonals only; N = 4096 cannot hold a cell.
TEST(CkksSlotLayout, PlannedForOneRowOfHalfNSlots) {
  const auto p = to_latency(shipped(), 16384, SlotScheme::kCkks);
  EXPECT_EQ(p.slots.rows, 1u);
  EXPECT_EQ(p.slots.scheme(), SlotScheme::kCkks);
  EXPECT_EQ(p.slots.block, 4096u);
  EXPECT_EQ(p.slots.slot_count(), 8192u);
  EXPECT_EQ(p.slots.cells_per_ciphertext(), 2u);
  EXPECT_EQ(to_latency(shipped(), 16384).slots.cells_per_ciphertext(), 4u);
  for (const auto& l : p.slots.linear)
    for (const auto& g : l.giants)
      for (const auto& t : g.terms) {
        EXPECT_TRUE(t.diag.empty());
        EXPECT_EQ(t.fdiag.size(), p.slots.block);
      }
  EXPECT_THROW(to_latency(shipped(), 4096, SlotScheme::kCkks), InvalidArgument);
  EXPECT_EQ(ckks_latency_plan(shipped()).slots.n, 8192u);  // the smallest N holding one cell
  // The key holder's view keeps the row count; documents without it are BFV's.
  const auto view = SlotLayout::from_client_json(p.slots.client_json());
  EXPECT_EQ(view.rows, 1u);
  EXPECT_EQ(view.cells_per_ciphertext(), 2u);
  auto old = p.slots.client_json();
  old.erase("rows");
  EXPECT_EQ(SlotLayout::from_client_json(old).rows, 2u);
  old["rows"] = 3;
  EXPECT_THROW(SlotLayout::from_client_json(old), FormatError);
}

// ckks::Evaluator::rotate on encrypted slots == rotate_slot_rows(v, step, 1): one cycle over all
// N/2 slots, negative steps rotate right. INSECURE N = 1024.
TEST(CkksSlotLayout, EncryptedRotationsMatchThePlainReference) {
  auto ctx = ckks::Context::create(ckks::Params::create(1024, 40, 1, 30, 40, ckks::Security::kInsecureForTests));
  ckks::KeyGenerator kg(ctx);
  const std::vector<int> steps{1, -1, 7, 64, 255, -300};
  const auto gk = ckks::create_rotation_keys(kg, steps, false);
  ckks::Encoder enc(ctx);
  ckks::SymmetricEncryptor encryptor(ctx, kg.secret_key());
  ckks::Decryptor dec(ctx, kg.secret_key());
  ckks::Evaluator ev(ctx);
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> v(512);
  for (auto& x : v) x = u(rng);
  const auto ct = encryptor.encrypt(enc.encode(v));
  for (int step : steps) {
    const auto got = enc.decode(dec.decrypt(ev.rotate(ct, step, gk)));
    const auto want = rotate_slot_rows(v, step, 1);
    for (std::size_t s = 0; s < v.size(); ++s) ASSERT_NEAR(got[s], want[s], 1e-4) << "step " << step << " slot " << s;
  }
}

// The parameters the precision model picks for the latency plan: INSECURE, N = min_n (at least two
// blocks), magnitudes measured over every slot of the packed group-C cells.
CkksSettings latency_settings(std::size_t n, bool circuit_privacy = false) {
  const auto lp = ckks_latency_plan(shipped());
  CkksChoiceOptions o;
  o.insecure_for_tests = true;
  o.circuit_privacy = circuit_privacy;
  o.min_n = n;
  o.min_scale_bits = 30;  // N = 16384 has too few NTT primes of 20 bits
  o.target_error = 1e-3;  // the default target: reached with the latency layout's 59-bit special prime
  return choose_ckks_settings(lp, plan_magnitudes(lp, group_c().images), o);
}

// Encrypted (latency layout) logits vs the float model's on real C-NMC cells: argmax equal on every
// cell, the largest error within the precision model's prediction.
void expect_agrees_with_float(std::size_t cells, std::size_t n, bool circuit_privacy = false) {
  const auto s = latency_settings(n, circuit_privacy);
  ASSERT_EQ(s.circuit_privacy, circuit_privacy);
  ASSERT_EQ(s.layout, Layout::kLatency);
  ASSERT_EQ(s.params.n(), n);
  std::vector<const std::uint8_t*> images(group_c().images.begin(), group_c().images.begin() + std::ptrdiff_t(cells));
  const auto enc = make_ckks_backend(s)->run(shipped(), images);
  const auto ref = make_float_backend()->run(shipped(), images);
  const auto a = compare(enc, ref);
  EXPECT_EQ(a.argmax_mismatches, 0u);
  EXPECT_LE(a.max_error, s.predicted_error);
  EXPECT_GT(a.max_error, 0.0);
  const auto lp = ckks_plan_for(shipped(), s);
  EXPECT_EQ(enc.report.batches, lp.slots.ciphertexts_for(cells));
  // Upload: one seeded ciphertext (half size) per group of cells.
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_LT(enc.report.bytes_sent, enc.report.batches * (n * s.params.max_level() * 8 + 4096));
  std::cerr << cells << " cells, N = " << n << ": largest logit error " << a.max_error << ", predicted "
            << s.predicted_error << ", " << enc.report.bytes_sent << " bytes sent, server " << enc.report.evaluate_seconds
            << " s\n";
}

TEST(CkksLatency, OneRealCellAgreesWithFloatWithinTheModel) { expect_agrees_with_float(1, 8192); }
// Circuit privacy in the latency layout: the wide chain (inputs at the wide scale, every linear
// step rescaled by a 2^40 prime, squares back to 2^t; nn/ckks_circuit_privacy.h) and every result
// flooded as the server floods it; INSECURE N = 8192 (128-bit needs N = 32768 and ~3.4 GB of
// Galois keys). Argmax = float, error within the flooded prediction.
TEST(CkksLatency, WideChainFloodedCellsAgreeWithFloat) { expect_agrees_with_float(3, 8192, true); }
// 2 cells per ciphertext at N = 16384: 4 ciphertexts, the last one half full.
TEST(CkksLatency, SevenRealCellsOverFourCiphertextsAgreeWithFloat) { expect_agrees_with_float(7, 16384); }

// The precision model step by step: after every server step, the largest error over every slot of
// a packed ciphertext (2 real cells, partial sums and neighbours included) against the doubles of
// the same slot program stays within the model's prediction for that step. INSECURE N = 16384.
TEST(CkksLatency, MeasuredErrorAfterEveryStepWithinTheModel) {
  const auto s = latency_settings(16384);
  const auto lp = ckks_plan_for(shipped(), s);
  CkksKeyHolder kh(s);
  CkksSlotEvaluator server(lp, kh.context(), kh.relin_keys(), kh.galois_keys(lp.slots.rotation_steps()));
  const std::vector<const std::uint8_t*> cells(group_c().images.begin(), group_c().images.begin() + 2);
  const auto want = slot_program_trace(lp, cells);
  ckks::Encoder enc(kh.context());
  ckks::Decryptor dec(kh.context(), kh.secret_key());
  std::vector<double> measured(lp.steps.size(), 0.0);
  server.evaluate({kh.encrypt_cells(lp, cells.data(), cells.size())}, nullptr,
                  [&](std::size_t step, const ckks::Ciphertext& ct) {
                    const auto got = enc.decode(dec.decrypt(ct));
                    for (std::size_t i = 0; i < got.size(); ++i)
                      measured[step] = std::max(measured[step], std::fabs(got[i] - want[step][i]));
                  });
  for (std::size_t st = 1; st + 1 < lp.steps.size(); ++st) {
    std::cerr << lp.steps[st].name << ": measured " << measured[st] << ", model " << s.step_error[st] << "\n";
    EXPECT_LE(measured[st], s.step_error[st]) << lp.steps[st].name;
  }
}

// A BFV latency plan (integer diagonals, two rows), a throughput plan and missing Galois keys are
// refused with messages naming what is wrong.
TEST(CkksLatency, RefusesMismatchedPlansAndMissingGaloisKeys) {
  CkksSettings s;
  s.params = ckks::Params::create(8192, 50, 5, 30, 50, ckks::Security::kInsecureForTests);  // INSECURE
  s.layout = Layout::kLatency;
  CkksKeyHolder kh(s);
  const auto lp = ckks_plan_for(shipped(), s);
  const auto steps = lp.slots.rotation_steps();
  ASSERT_GT(steps.size(), 1u);
  EXPECT_THROW(CkksSlotEvaluator(shipped(), kh.context(), kh.relin_keys(), kh.galois_keys(steps)), InvalidArgument);
  EXPECT_THROW(CkksSlotEvaluator(to_latency(shipped(), 8192), kh.context(), kh.relin_keys(), kh.galois_keys(steps)),
               InvalidArgument);
  std::vector<int> fewer(steps.begin() + 1, steps.end());
  try {
    CkksSlotEvaluator(lp, kh.context(), kh.relin_keys(), kh.galois_keys(fewer));
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("missing Galois key for rotation step " + std::to_string(steps[0])),
              std::string::npos)
        << e.what();
  }
  EXPECT_NO_THROW(CkksSlotEvaluator(lp, kh.context(), kh.relin_keys(), kh.galois_keys(steps)));
  // Throughput settings refuse a latency plan.
  s.layout = Layout::kThroughput;
  EXPECT_THROW(ckks_plan_for(lp, s), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::nn
