// Evaluation helpers: metrics on a known confusion matrix, softmax, and loading the real MNIST
// test split with shape checking.
#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "nn/evaluate.h"

namespace leukocrypt::nn {
namespace {

TEST(Metrics, KnownConfusionMatrix) {
  // true 0: 8 cells (6 right), true 1: 2 cells (1 right).
  std::vector<int> y{0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
  std::vector<int> p{0, 0, 0, 0, 0, 0, 1, 1, 1, 0};
  auto m = compute_metrics(y, p, 2);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.7);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, (6.0 / 8 + 1.0 / 2) / 2);
  const double f0 = 2 * (6.0 / 7) * (6.0 / 8) / (6.0 / 7 + 6.0 / 8);
  const double f1 = 2 * (1.0 / 3) * (1.0 / 2) / (1.0 / 3 + 1.0 / 2);
  EXPECT_NEAR(m.weighted_f1, (8 * f0 + 2 * f1) / 10, 1e-12);
  EXPECT_EQ(m.confusion[0][1], 2u);
  EXPECT_THROW(compute_metrics(y, {0}, 2), InvalidArgument);
}

TEST(Softmax, SumsToOneAndIsStable) {
  const double l[3] = {1000.0, 1001.0, 999.0};
  auto p = softmax(l, 3);
  EXPECT_NEAR(p[0] + p[1] + p[2], 1.0, 1e-12);
  EXPECT_GT(p[1], p[0]);
  EXPECT_TRUE(std::isfinite(p[2]));
}

TEST(EvalSet, RealMnistTestSplit) {
  const std::string dir = std::string(LEUKOCRYPT_DATA_DIR) + "/mnist";
  auto s = load_eval_set(dir, "test", 5, Shape{1, 28, 28});
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s.labels[0], 7);  // the first t10k digit is a 7
  EXPECT_EQ(s.label_names.size(), 10u);
  EXPECT_THROW(load_eval_set(dir, "test", 5, Shape{3, 32, 32}), InvalidArgument);
  EXPECT_THROW(load_eval_set(dir, "A", 5, Shape{1, 28, 28}), InvalidArgument);
}

}  // namespace
}  // namespace leukocrypt::nn
