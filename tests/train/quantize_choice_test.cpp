// The quantisation chooser on the shipped C-NMC x² model and real cells: the sweep measures what a
// direct evaluation measures, the choice is the cheapest grid point within tolerance (exhaustively
// checked), and the chosen worst-case bits never increase as the tolerance grows.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "nn/quantize.h"
#include "cnmc_helpers.h"

namespace fs = std::filesystem;
using namespace leukocrypt;

namespace {

const fs::path kModel = fs::path(LEUKOCRYPT_SOURCE_DIR) / "models" / "cnmc-x2.lcm";

// Real cells (32x32, groups from SPLITS.tsv) and the shipped model, collapsed; calibration on
// every 6th cell of groups A and B, as `export` calibrates on the training groups.
class ShippedModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = train::testing::fresh_temp_dir("lc_train_quant_test");
    ds_ = new data::Dataset(data::load_dataset(train::testing::prepare_cnmc32(dir_)));
    model_ = new nn::Model(nn::collapse_linear(nn::load_model(kModel)));
    calib_ = new nn::LabeledImages;
    for (std::size_t i = 0; i < ds_->records.size(); i += 6) {
      const auto& r = ds_->records[i];
      if (r.group == "C") continue;
      calib_->pixels.push_back(r.pixels.data());
      calib_->labels.push_back(r.label);
    }
    sweep_ = new nn::QuantizeSweep(nn::sweep_quantization(*model_, *calib_, 1, 12));
  }
  static void TearDownTestSuite() {
    delete sweep_;
    delete calib_;
    delete model_;
    delete ds_;
    fs::remove_all(dir_);
  }
  static inline fs::path dir_;
  static inline data::Dataset* ds_ = nullptr;
  static inline nn::Model* model_ = nullptr;
  static inline nn::LabeledImages* calib_ = nullptr;
  static inline nn::QuantizeSweep* sweep_ = nullptr;
};

TEST_F(ShippedModel, SweepCoversTheGridAndMatchesDirectEvaluation) {
  ASSERT_GT(calib_->size(), 300u);
  ASSERT_EQ(sweep_->trials.size(), 12u * 12u * 12u);  // three weighted layers, 12 precisions each
  EXPECT_NEAR(sweep_->float_accuracy, nn::accuracy_float(*model_, *calib_), 1e-12);
  // A few grid points re-measured one by one (double sums in another order: at most one image may
  // flip on a near-tie).
  const double one = 1.0 / double(calib_->size()) + 1e-12;
  for (std::size_t i : {0ul, 100ul, 777ul, 1000ul, 1727ul}) {
    const auto& t = sweep_->trials[i];
    ASSERT_EQ(t.options.weight_max.size(), 3u);
    auto q = nn::quantize(*model_, t.options);
    EXPECT_NEAR(t.accuracy, nn::accuracy_quantized(q, *calib_), one) << i;
    EXPECT_EQ(t.worst_case_bits, nn::worst_case_bound(q).output_bits) << i;
  }
  // The coarsest grid point is cheaper than the finest.
  EXPECT_LT(sweep_->trials.front().worst_case_bits, sweep_->trials.back().worst_case_bits);
}

TEST_F(ShippedModel, ChoiceIsCheapestWithinToleranceAndMonotone) {
  int previous_bits = 1 << 20;
  for (double tol : {0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 20.0}) {
    auto c = nn::select_quantization(*model_, *sweep_, tol);
    // Exhaustive: the fewest bits of any usable grid point within tolerance.
    int best = 1 << 20;
    for (const auto& t : sweep_->trials)
      if (t.agreement >= 1.0 - tol / 100.0 - 1e-12 && t.worst_case_bits <= 126) best = std::min(best, t.worst_case_bits);
    if (best == 1 << 20) {  // nothing qualifies (possible at 0 pp): flagged, most faithful returned
      EXPECT_FALSE(c.within_tolerance) << tol;
      EXPECT_EQ(c.agreement, c.most_accurate.agreement) << tol;
      continue;
    }
    ASSERT_TRUE(c.within_tolerance) << tol;
    EXPECT_GE(c.agreement, 1.0 - tol / 100.0 - 1e-12) << tol;
    EXPECT_GE(c.int_accuracy, c.float_accuracy - tol / 100.0 - 1e-12) << tol;
    EXPECT_EQ(c.worst_case_bits, nn::worst_case_bound(c.model).output_bits) << tol;
    EXPECT_LE(c.worst_case_bits, 126);
    EXPECT_EQ(c.worst_case_bits, best) << tol;
    // Monotone: a looser tolerance never costs more bits.
    EXPECT_LE(c.worst_case_bits, previous_bits) << tol;
    previous_bits = c.worst_case_bits;
    // The most faithful point is reported too, and is at least as faithful.
    EXPECT_GE(c.most_accurate.agreement, c.agreement);
    EXPECT_EQ(c.to_json()["most_accurate"]["worst_case_bits"], c.most_accurate.worst_case_bits);
  }
  // The Pareto front: more bits buy strictly more agreement.
  auto front = nn::select_quantization(*model_, *sweep_, 0.5).pareto();
  ASSERT_FALSE(front.empty());
  for (std::size_t i = 1; i < front.size(); ++i) {
    EXPECT_GT(front[i].agreement, front[i - 1].agreement);
    EXPECT_GT(front[i].worst_case_bits, front[i - 1].worst_case_bits);
  }
  // choose_quantization = sweep + select (default grid).
  auto direct = nn::choose_quantization(*model_, *calib_, 1.0);
  EXPECT_EQ(direct.worst_case_bits, nn::select_quantization(*model_, *sweep_, 1.0).worst_case_bits);
}

TEST_F(ShippedModel, RejectsBadRequests) {
  nn::LabeledImages empty;
  EXPECT_THROW(nn::sweep_quantization(*model_, empty), InvalidArgument);
  EXPECT_THROW(nn::sweep_quantization(*model_, *calib_, 5, 3), InvalidArgument);
  EXPECT_THROW(nn::sweep_quantization(*model_, *calib_, 0, 3), InvalidArgument);
  EXPECT_THROW(nn::select_quantization(*model_, *sweep_, -1.0), InvalidArgument);
  nn::LabeledImages mismatched = *calib_;
  mismatched.labels.pop_back();
  EXPECT_THROW(nn::sweep_quantization(*model_, mismatched), InvalidArgument);
  EXPECT_EQ(nn::plaintext_primes_50bit(99), 2);
  EXPECT_EQ(nn::plaintext_primes_50bit(100), 2);
  EXPECT_EQ(nn::plaintext_primes_50bit(101), 3);
}

}  // namespace
