// The latency layout (cells in the slots of one ciphertext, rotations): slot and rotation
// semantics against a plain reference, the raw simulation of the layout against the throughput
// layout, and encrypted logits == raw logits exactly on real C-NMC cells (1, 7 and 100 cells, a
// request over several ciphertexts) with small INSECURE parameters, and the MNIST CryptoNets net.
#include <gtest/gtest.h>

#include <random>

#include "data/mnist.h"
#include "he/bfv/batch_encoder.h"
#include "he/bfv/decryptor.h"
#include "he/bfv/evaluator.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/symmetric_encryptor.h"
#include "nn/bfv_slot_evaluator.h"
#include "nn/circuit_privacy.h"

#include "exact_helpers.h"
#include "test_models.h"
#include "nn/backend.h"
#include "nn/keyholder/bfv_backend.h"
#include "nn/keyholder/bfv_keyholder.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "nn/slot_layout.h"
#include "nn/slot_steps.h"

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

// The engine's rotate_rows on encrypted slots == rotate_slot_rows on the plain vector (both rows
// cycle separately, wrap-around at N/2, negative steps rotate right). INSECURE N = 1024.
TEST(SlotLayout, EncryptedRotationsMatchThePlainReference) {
  auto ctx = bfv::Context::create(bfv::Params::create(1024, {50, 50, 50}, 12289, bfv::Security::kInsecureForTests));
  bfv::KeyGenerator kg(ctx);
  const std::vector<int> steps{1, -1, 7, 64, 511, -300};
  const auto gk = kg.create_galois_keys(steps, false);
  bfv::BatchEncoder enc(ctx);
  bfv::SymmetricEncryptor encryptor(ctx, kg.secret_key());
  bfv::Decryptor dec(ctx, kg.secret_key());
  bfv::Evaluator ev(ctx);
  std::mt19937_64 rng(5);
  std::vector<std::uint64_t> v(1024);
  for (auto& x : v) x = rng() % 12289;
  const auto ct = encryptor.encrypt(enc.encode(v));
  for (int step : steps) EXPECT_EQ(enc.decode(dec.decrypt(ev.rotate_rows(ct, step, gk))), rotate_slot_rows(v, step)) << step;
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
// for `bits`, 50-bit ciphertext primes (q_primes - 1 of them) and `specials` special primes, the
// greedy mod-switch schedule of the latency noise model.
BfvSettings latency_settings(const Plan& plan, int bits, std::size_t q_primes, std::size_t specials = 1) {
  ParamsRequest req;
  req.bits_needed = bits;
  req.n = plan.slots.n;
  req.q_bits.assign(q_primes - 1 + specials, 50);
  req.special_primes = specials;
  req.insecure_for_tests = true;
  return choose_params(plan, req).settings;
}

// Encrypted == raw (latency layout) == raw (throughput layout), exactly, on real C-NMC cells with
// the shipped model: 1 cell, 7 cells (4 ciphertexts of 2 cells at N = 8192, the last one half
// full) and 100 cells (25 ciphertexts of 4 cells at N = 16384). INSECURE parameters. specials > 1:
// hybrid key switching (digits of that many primes; partial digits at the lower levels).
void expect_shipped_exact(int cells, std::size_t n, bool measure_noise, std::size_t specials = 1) {
  Images img(cells, 32);
  const auto lat = to_latency(shipped().plan, n);
  const auto raw = make_raw_backend()->run(shipped().plan, img.ptrs);
  const auto s = latency_settings(lat, worst_case_bound(shipped().q).output_bits, 9, specials);
  ASSERT_EQ(s.special_primes, specials);
  ASSERT_EQ(s.levels(), 8u);
  BfvBackendOptions bo;
  bo.measure_noise = measure_noise;
  const auto enc = make_bfv_backend(s, bo)->run(lat, img.ptrs);
  expect_exact(enc.exact, raw.exact);
  EXPECT_EQ(enc.report.batches, lat.slots.ciphertexts_for(std::size_t(cells)));
  // Upload: one seeded ciphertext per plaintext prime per group of cells (keys apart).
  EXPECT_GT(enc.report.bytes_sent, 0u);
  EXPECT_LT(enc.report.bytes_sent, enc.report.batches * s.plain_primes.size() * n * 9 * 50 / 8 + 4096);
  if (!measure_noise) return;
  const auto sim = simulate_noise(lat, s.params()[0], s.mod_switch_levels);
  for (std::size_t st = 0; st + 1 < lat.steps.size(); ++st)
    EXPECT_GE(double(enc.report.steps[st].noise_budget_bits) + 1.0, sim.budget_after_step[st]) << lat.steps[st].name;
}

TEST(LatencyBfv, ShippedModelOneCellMatchesRawAndNoiseStaysAboveTheBound) { expect_shipped_exact(1, 8192, true); }
TEST(LatencyBfv, ShippedModelSevenCellsOverFourCiphertextsMatchRaw) { expect_shipped_exact(7, 8192, false); }
TEST(LatencyBfv, ShippedModelHundredCellsMatchRaw) { expect_shipped_exact(100, 16384, false); }
TEST(LatencyBfv, HybridKeySwitchingOneCellMatchesRawAndNoiseStaysAboveTheBound) { expect_shipped_exact(1, 8192, true, 3); }
TEST(LatencyBfv, HybridKeySwitchingSevenCellsMatchRaw) { expect_shipped_exact(7, 8192, false, 2); }

// The key holder decrypts every slot of a latency result, not only the logits (issue 11): the other
// slots must be exactly 0, or they would show intermediate values of the model (a rotate-and-sum
// fold in the last layer left partial sums of its weights there). The shipped model, real cells,
// N = 8192 (2 cells per ciphertext; 3 cells: the second ciphertext half full), results
// re-randomised and flooded as the service returns them; the logits stay == raw. INSECURE params.
TEST(LatencyBfv, ResultSlotsOtherThanTheLogitsAreZero) {
  constexpr std::size_t kCells = 3;
  Images img(int(kCells), 32);
  const auto lat = to_latency(shipped().plan, 8192);
  const auto raw = make_raw_backend()->run(shipped().plan, img.ptrs);
  auto req_settings = latency_settings(lat, worst_case_bound(shipped().q).output_bits, 9);
  BfvKeyHolder keys(req_settings);
  BfvSlotEvaluator ev(lat, req_settings, keys.contexts(), keys.relin_keys(), keys.galois_keys(lat.slots.rotation_steps()));
  const SlotLayout& sl = lat.slots;
  std::vector<bool> logit_slot(sl.block, false);
  for (auto o : sl.out_slot) logit_slot[o] = true;
  const std::size_t per = sl.cells_per_ciphertext();
  std::vector<std::vector<bfv::Ciphertext>> out(req_settings.plain_primes.size());
  std::size_t nonzero_logits = 0;
  for (std::size_t j = 0; j < out.size(); ++j) {
    std::vector<bfv::Ciphertext> in;
    for (std::size_t c0 = 0; c0 < kCells; c0 += per)
      in.push_back(keys.encrypt_cells(j, sl, img.ptrs.data() + c0, std::min(per, kCells - c0)));
    out[j] = ev.evaluate_prime(j, std::move(in));
    const auto& ctx = keys.contexts()[j];
    CircuitPrivacy privacy(ctx, keys.public_key(j));
    bfv::Decryptor dec(ctx, keys.secret_key(j));
    bfv::BatchEncoder enc(ctx);
    for (std::size_t c = 0; c < out[j].size(); ++c) {
      privacy.apply(out[j][c]);
      const auto slots = enc.decode(dec.decrypt(out[j][c]));
      std::size_t leaked = 0;
      for (std::size_t s = 0; s < slots.size(); ++s) {
        if (logit_slot[s % sl.block]) nonzero_logits += slots[s] != 0;
        else leaked += slots[s] != 0;
      }
      EXPECT_EQ(leaked, 0u) << "prime " << j << ", ciphertext " << c << ": non-zero slots outside the logits";
    }
  }
  EXPECT_GT(nonzero_logits, 0u);  // the check above looked at real results
  expect_exact(keys.decrypt_cells(sl, out, kCells), raw.exact);
}

// Every lowering keeps the last linear step free of folds (the check in to_latency), whatever N.
TEST(SlotLayout, LastLinearStepNeverFolds) {
  for (std::size_t n : {8192u, 16384u, 32768u}) {
    const auto lat = to_latency(shipped().plan, n);
    std::size_t last = 0;
    for (std::size_t s = 0; s < lat.steps.size(); ++s)
      if (lat.steps[s].kind == OpKind::kLinear) last = s;
    EXPECT_TRUE(lat.slots.linear[last].fold.empty()) << n;
    EXPECT_EQ(lat.slots.linear[last].out_slot, lat.slots.out_slot);
  }
}

// Linear steps run across the ciphertexts only when every worker stays >= 85 % busy; the exactness
// tests above take both paths on 2 workers (1 cell: inside the step; 4 and 25 ciphertexts: across).
TEST(SlotLayout, LinearStepsRunAcrossCiphertextsWhenTheWorkersStayBusy) {
  EXPECT_FALSE(linear_across_ciphertexts(1, 2));
  EXPECT_TRUE(linear_across_ciphertexts(2, 2));
  EXPECT_FALSE(linear_across_ciphertexts(3, 2));  // 75 %
  EXPECT_TRUE(linear_across_ciphertexts(4, 2));
  EXPECT_FALSE(linear_across_ciphertexts(5, 2));  // 83 %
  EXPECT_TRUE(linear_across_ciphertexts(7, 2));   // 87.5 %
  EXPECT_TRUE(linear_across_ciphertexts(13, 2));
  EXPECT_FALSE(linear_across_ciphertexts(13, 1));  // one worker: nothing to spread
  EXPECT_FALSE(linear_across_ciphertexts(3, 4));
  EXPECT_TRUE(linear_across_ciphertexts(4, 4));
}

// The chooser (128-bit, worst-case bound, 100 Mbit/s) picks the latency layout for one cell and
// the throughput layout for 16,384 cells, and records the layout in the settings.
TEST(LatencyParams, ChooserPicksLatencyForOneCellAndThroughputForAFullBatch) {
  ParamsRequest req;
  req.bits_needed = worst_case_bound(shipped().q).output_bits;
  req.threads = 2;
  req.images = 1;
  const auto one = choose_params(shipped().plan, req);
  EXPECT_EQ(one.settings.layout, Layout::kLatency) << one.to_json()["reasons"].dump(1);
  EXPECT_LT(one.cost.upload_bytes, 4e6);
  EXPECT_GT(one.cost.galois_key_bytes, 0);
  EXPECT_EQ(BfvSettings::from_json(one.settings.to_json()).layout, Layout::kLatency);
  EXPECT_EQ(BfvSettings::from_json(one.settings.to_json()).special_primes, one.settings.special_primes);
  req.images = 16384;
  const auto many = choose_params(shipped().plan, req);
  EXPECT_EQ(many.settings.layout, Layout::kThroughput) << many.to_json()["reasons"].dump(1);
  // Asking for a layout restricts the choice to it.
  req.layout = Layout::kLatency;
  EXPECT_EQ(choose_params(shipped().plan, req).settings.layout, Layout::kLatency);
  auto bad = one.settings.to_json();
  bad["layout"] = "sideways";
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
}

// Hybrid key switching: where the 128-bit budget holds them, the chooser adds special primes (100
// cells at N = 32768: 10 ciphertext primes, 5 special, 2 digits), which shrinks the Galois keys
// and the estimate; --special-primes 1 keeps the single special prime; a params.json without the
// field (before hybrid key switching) reads as one special prime.
TEST(LatencyParams, ChooserUsesHybridKeySwitchingWhereTheBudgetAllows) {
  ParamsRequest req;
  req.bits_needed = worst_case_bound(shipped().q).output_bits;
  req.threads = 2;
  req.images = 100;
  req.layout = Layout::kLatency;
  req.n = 32768;
  const auto hybrid = choose_params(shipped().plan, req);
  EXPECT_GT(hybrid.settings.special_primes, 1u) << hybrid.to_json()["reasons"].dump(1);
  EXPECT_TRUE(hybrid.settings.meets_128_bits());
  EXPECT_EQ(hybrid.settings.params()[0].special_primes().size(), hybrid.settings.special_primes);
  req.special_primes = 1;
  const auto one = choose_params(shipped().plan, req);
  EXPECT_EQ(one.settings.special_primes, 1u);
  EXPECT_EQ(one.settings.levels(), hybrid.settings.levels());
  EXPECT_LT(hybrid.cost.galois_key_bytes * 2, one.cost.galois_key_bytes);
  EXPECT_LT(hybrid.cost.server_seconds, one.cost.server_seconds);
  // More special primes than the budget holds at this N: refused, naming them.
  req.special_primes = 8;
  req.n = 16384;
  try {
    choose_params(shipped().plan, req);
    ADD_FAILURE() << "8 special primes at N = 16384 were accepted";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("8 special primes"), std::string::npos) << e.what();
  }
  auto old = hybrid.settings.to_json();
  old.erase("special_primes");
  old["q_bits"] = one.settings.q_bits;
  EXPECT_EQ(BfvSettings::from_json(old).special_primes, 1u);
  // A count that leaves no ciphertext prime, or 60-bit primes with several special primes, is refused.
  auto bad = hybrid.settings.to_json();
  bad["special_primes"] = bad["q_bits"].size();
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
  bad = hybrid.settings.to_json();
  bad["q_bits"][0] = 60;
  EXPECT_THROW(BfvSettings::from_json(bad), FormatError);
}

// The server refuses Galois keys that lack a step of the plan, naming the step.
TEST(LatencyBfv, MissingGaloisKeyIsRefused) {
  QuantizeOptions o;
  o.weight_max = {15, 7, 7};
  const auto lat = to_latency(lower(quantize(collapse_linear(testing::tiny_model()), o)), 2048);
  const auto s = latency_settings(lat, 40, 8);
  BfvKeyHolder keys(s);
  auto steps = lat.slots.rotation_steps();
  ASSERT_GE(steps.size(), 2u);
  const int dropped = steps.back();
  steps.pop_back();
  try {
    BfvSlotEvaluator ev(lat, s, keys.contexts(), keys.relin_keys(), keys.galois_keys(steps));
    FAIL() << "accepted Galois keys without step " << dropped;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("rotation step " + std::to_string(dropped)), std::string::npos) << e.what();
  }
}

// The MNIST CryptoNets network (conv 5x5/2 with 5 maps: four in the stride offsets, the fifth in
// a second plane) in the latency layout: encrypted == raw on real t10k digits. INSECURE N = 4096.
TEST(LatencyBfv, MnistCryptoNetsMatchesRaw) {
  const std::string dir = std::string(LEUKOCRYPT_DATA_DIR) + "/mnist/";
  const auto set = data::load_mnist(dir + "t10k-images-idx3-ubyte.gz", dir + "t10k-labels-idx1-ubyte.gz");
  std::vector<const std::uint8_t*> ptrs;
  for (std::size_t i = 0; i < 3; ++i) ptrs.push_back(set.images.data() + i * 784);
  QuantizeOptions o;
  o.weight_max = {15, 15, 15};
  const auto q = quantize(collapse_linear(load_model(std::string(LEUKOCRYPT_SOURCE_DIR) + "/models/mnist-cryptonets.lcm")), o);
  const auto plan = lower(q);
  const auto lat = to_latency(plan, 4096);
  EXPECT_EQ(lat.slots.block, 2048u);
  const auto raw = make_raw_backend()->run(plan, ptrs);
  const auto s = latency_settings(lat, worst_case_bound(q).output_bits, 9);
  BfvBackendOptions bo;
  bo.measure_noise = false;
  const auto enc = make_bfv_backend(s, bo)->run(lat, ptrs);
  expect_exact(enc.exact, raw.exact);
}

}  // namespace
}  // namespace leukocrypt::nn
