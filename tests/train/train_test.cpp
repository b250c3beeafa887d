// Training module tests on real C-NMC cells (prepared once per run into a temporary folder) and on
// MNIST: metrics known answers, architectures and encrypted op counts, augmentation, protocols,
// determinism, the linear SVM, and the export path (collapsed logits == trained torch logits).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "common/error.h"
#include "data/dataset.h"
#include "nn/model.h"
#include "train/augment.h"
#include "train/commands.h"
#include "train/he_cost.h"
#include "train/metrics.h"
#include "train/net.h"
#include "train/svm.h"
#include "train/tensor_data.h"
#include "train/trainer.h"
#include "cnmc_helpers.h"

namespace fs = std::filesystem;
using namespace leukocrypt;
using namespace leukocrypt::train;

namespace {

const fs::path kData = fs::path(LEUKOCRYPT_DATA_DIR);

// Real cells, prepared once (32x32, patient groups A/B/C from SPLITS.tsv, C on the test side).
class CnmcData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(2);
    dir_ = train::testing::fresh_temp_dir("lc_train_test");
    data_ = new TensorData(from_dataset(data::load_dataset(train::testing::prepare_cnmc32(dir_))));
  }
  static void TearDownTestSuite() {
    delete data_;
    data_ = nullptr;
    fs::remove_all(dir_);
  }
  // Every k-th record of the given groups: a small real subset with both classes.
  static std::vector<int64_t> subset(const std::set<std::string>& groups, int64_t step) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < data_->size(); ++i)
      if (groups.count(data_->groups[i]) && i % step == 0) idx.push_back(i);
    return idx;
  }
  static TrainOptions quick(int epochs) {
    TrainOptions o;
    o.epochs = epochs;
    o.batch_size = 32;
    o.progress = false;
    o.log_epochs = false;
    return o;
  }
  static inline fs::path dir_;
  static inline TensorData* data_ = nullptr;
};

std::vector<float> pixels_of(const torch::Tensor& img_u8) {
  auto c = img_u8.contiguous();
  std::vector<float> p(c.numel());
  for (int64_t k = 0; k < c.numel(); ++k) p[k] = c.data_ptr<uint8_t>()[k];
  return p;
}

}  // namespace

TEST(Metrics, KnownAnswer) {
  // confusion [[3,1],[1,1]]: recall .75/.5, precision .75/.5, F1 .75/.5.
  auto m = compute_metrics({0, 0, 0, 0, 1, 1}, {0, 0, 0, 1, 1, 0}, 2, {"a", "a", "b", "b", "H1", "H1"});
  EXPECT_NEAR(m.accuracy, 4.0 / 6, 1e-12);
  EXPECT_NEAR(m.balanced_accuracy, 0.625, 1e-12);
  EXPECT_NEAR(m.weighted_f1, (0.75 * 4 + 0.5 * 2) / 6, 1e-12);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int>>{{3, 1}, {1, 1}}));
  ASSERT_EQ(m.subjects.size(), 3u);
  EXPECT_EQ(m.subjects[0].subject, "H1");
  EXPECT_EQ(m.subjects[0].label, 1);
  EXPECT_NEAR(m.subjects[0].accuracy(), 0.5, 1e-12);
  EXPECT_NEAR(m.subjects[1].accuracy(), 1.0, 1e-12);
  EXPECT_NEAR(m.subjects[2].accuracy(), 0.5, 1e-12);
}

TEST(Metrics, RejectsBadInput) {
  EXPECT_THROW(compute_metrics({0, 1}, {0}, 2), InvalidArgument);
  EXPECT_THROW(compute_metrics({0, 2}, {0, 1}, 2), InvalidArgument);
  EXPECT_THROW(compute_metrics({0, 1}, {0, 1}, 2, {"x"}), InvalidArgument);
}

TEST(Net, CnnX2HasDepthTwoAndFourteenLayers) {
  seed_everything(3);
  auto net = make_net("cnn-x2", {3, 32, 32}, 2);
  auto* seq = dynamic_cast<SequentialNetImpl*>(net.get());
  ASSERT_NE(seq, nullptr);
  net->eval();
  EXPECT_EQ(net->forward(torch::zeros({1, 3, 32, 32})).sizes(), (std::vector<int64_t>{1, 2}));
  auto model = to_nn_model(*seq, "t", "x2", {"all", "hem"});
  model.validate();
  EXPECT_EQ(model.layers.size(), 14u);  // batch norm folded away
  auto cost = he_cost(nn::collapse_linear(model));
  EXPECT_TRUE(cost.encryptable);
  EXPECT_EQ(cost.depth, 2);
  EXPECT_EQ(cost.squares, 5 * 16 * 16 + 32);
  EXPECT_EQ(cost.input_ciphertexts, 3 * 32 * 32);
  EXPECT_EQ(cost.output_ciphertexts, 2);
}

// The first convolution's kernel and stride are free: 8x8 stride 4 on 64x64 input gives the same
// 16x16 maps (and encrypted squares) as the default 5x5 stride 2 on 32x32.
TEST(Net, FirstConvolutionKernelAndStrideAreConfigurable) {
  seed_everything(3);
  for (auto [side, kernel, stride] : {std::tuple{64, 8, 4}, std::tuple{48, 6, 3}, std::tuple{32, 5, 2}}) {
    CnnWidths w;
    w.conv1 = 4;
    w.conv1_kernel = kernel;
    w.conv1_stride = stride;
    auto net = make_net("cnn-x2", {3, side, side}, 2, w);
    net->eval();
    EXPECT_EQ(net->forward(torch::zeros({2, 3, side, side})).sizes(), (std::vector<int64_t>{2, 2}));
    auto model = to_nn_model(*dynamic_cast<SequentialNetImpl*>(net.get()), "t", "x2", {"all", "hem"});
    auto cost = he_cost(nn::collapse_linear(model));
    EXPECT_EQ(cost.squares, 4 * 16 * 16 + 32) << side;
    EXPECT_EQ(cost.input_ciphertexts, 3 * side * side);
    EXPECT_EQ(cost.depth, 2);
  }
  CnnWidths bad;
  bad.conv1_kernel = 2;
  bad.conv1_stride = 4;
  EXPECT_THROW(make_net("cnn-x2", {3, 32, 32}, 2, bad), InvalidArgument);
  bad.conv1_kernel = 15;
  bad.conv1_stride = 2;
  EXPECT_THROW(make_net("cnn-relu", {3, 8, 8}, 2, bad), InvalidArgument);
}

// Module names are the keys of saved checkpoints, and describe() is printed by `train`: both stay
// exactly as they are.
TEST(Net, ModuleNamesAndDescriptionAreStable) {
  auto net = make_net("cnn-x2", {3, 32, 32}, 2);
  auto* seq = dynamic_cast<SequentialNetImpl*>(net.get());
  ASSERT_NE(seq, nullptr);
  std::set<std::string> names;
  for (const auto& p : net->named_parameters()) names.insert(p.key());
  for (const char* want : {"l0_conv2d.weight", "l0_conv2d.bias", "l1_batchnorm2d.weight", "l10_dense.weight",
                           "l11_batchnorm1d.bias", "l14_dense.bias"})
    EXPECT_EQ(names.count(want), 1u) << want;
  const auto d = seq->describe();
  for (const char* line : {"  1  conv2d 5x5/2       5x16x16     380\n", "  4  meanpool2d 2x2/2   5x8x8       0\n",
                           " 10  dropout 0.25       128         0\n"})
    EXPECT_NE(d.find(line), std::string::npos) << line << "in\n" << d;
}

TEST(Net, CryptonetsMnistCollapsesToPublishedShape) {
  seed_everything(3);
  auto net = make_net("cryptonets-mnist", {1, 28, 28}, 10);
  auto m = nn::collapse_linear(to_nn_model(*dynamic_cast<SequentialNetImpl*>(net.get()), "m", "x2",
                                           {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  auto shapes = m.shapes();
  ASSERT_EQ(m.layers.size(), 5u);
  EXPECT_EQ(shapes[0].size(), 845);  // 5 x 13 x 13
  EXPECT_EQ(shapes[2].size(), 100);
  EXPECT_EQ(shapes[4].size(), 10);
  EXPECT_EQ(he_cost(m).squares, 945);
}

TEST(Net, BaselinesRunAndMaxPoolDoesNotConvert) {
  for (const std::string arch : {"alexnet", "vgg", "resnet", "cnn-relu"}) {
    auto net = make_net(arch, {3, 32, 32}, 2);
    net->eval();
    EXPECT_EQ(net->forward(torch::zeros({2, 3, 32, 32})).size(1), 2) << arch;
    EXPECT_GT(net->parameter_count(), 1000) << arch;
  }
  auto vgg = make_net("vgg", {3, 32, 32}, 2);
  EXPECT_THROW(to_nn_model(*dynamic_cast<SequentialNetImpl*>(vgg.get()), "v", "vgg", {"all", "hem"}),
               InvalidArgument);
  EXPECT_THROW(make_net("lenet", {3, 32, 32}, 2), InvalidArgument);
  auto relu = make_net("cnn-relu", {3, 32, 32}, 2);
  auto m = to_nn_model(*dynamic_cast<SequentialNetImpl*>(relu.get()), "r", "relu", {"all", "hem"});
  EXPECT_FALSE(he_cost(nn::collapse_linear(m)).encryptable);
}

TEST_F(CnmcData, PreparedCellsLoad) {
  EXPECT_EQ(data_->size(), 3581);
  EXPECT_EQ(data_->shape, (nn::Shape{3, 32, 32}));
  EXPECT_EQ(data_->classes, (std::vector<std::string>{"all", "hem"}));
}

TEST_F(CnmcData, FlipOnlyAugmentationPermutesPixels) {
  auto x = to_input(data_->images.slice(0, 0, 8));
  AugmentOptions o;
  o.max_rotation_deg = 0;
  o.max_translate = 0;
  torch::manual_seed(5);
  auto y = augment_batch(x, o);
  ASSERT_EQ(y.sizes(), x.sizes());
  for (int64_t i = 0; i < 8; ++i) {
    double best = 1e9;
    for (auto dims : std::vector<std::vector<int64_t>>{{}, {1}, {2}, {1, 2}}) {  // C x H x W
      auto f = dims.empty() ? x[i] : x[i].flip(dims);
      best = std::min(best, (f - y[i]).abs().max().item<double>());
    }
    EXPECT_LT(best, 1e-5) << "image " << i;
  }
  // Full augmentation: same shape, black stays black at the corners' range, values in [0, 1].
  auto z = augment_batch(x);
  EXPECT_GE(z.min().item<double>(), -1e-6);
  EXPECT_LE(z.max().item<double>(), 1.0 + 1e-6);
}

TEST_F(CnmcData, ProtocolsArePatientDisjointOrStratified) {
  auto folds = make_folds(*data_, "patient-cv", 1);
  ASSERT_EQ(folds.size(), 3u);
  for (const auto& f : folds) {
    std::set<std::string> tr, va;
    for (auto i : f.train) tr.insert(data_->subjects[i]);
    for (auto i : f.val) {
      va.insert(data_->subjects[i]);
      EXPECT_EQ(data_->groups[i], f.name);
    }
    for (const auto& s : va) EXPECT_EQ(tr.count(s), 0u) << "subject " << s << " on both sides of fold " << f.name;
    EXPECT_EQ(f.train.size() + f.val.size(), 3581u);
  }
  auto r = make_folds(*data_, "random", 7);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_NEAR(static_cast<double>(r[0].val.size()) / 3581, 0.2, 0.01);
  std::set<int64_t> all(r[0].train.begin(), r[0].train.end());
  for (auto i : r[0].val) EXPECT_EQ(all.count(i), 0u);
  auto s = make_folds(*data_, "split", 1);
  EXPECT_EQ(s[0].val.size(), 1198u);  // group C
  EXPECT_THROW(make_folds(*data_, "kfold", 1), InvalidArgument);
}

TEST_F(CnmcData, SameSeedSameTraining) {
  auto tr = subset({"A", "B"}, 16), va = subset({"C"}, 32);
  auto run = [&] {
    seed_everything(11);
    auto net = make_net("cnn-x2", data_->shape, 2);
    return train_net(*net, *data_, tr, va, quick(1));
  };
  auto a = run(), b = run();
  EXPECT_DOUBLE_EQ(a.history[0].train_loss, b.history[0].train_loss);
  EXPECT_DOUBLE_EQ(a.history[0].val_loss, b.history[0].val_loss);
  EXPECT_EQ(a.val_pred, b.val_pred);
}

// The export test: the collapsed integer-ready float model gives the trained torch logits.
TEST_F(CnmcData, CollapsedLogitsEqualTrainedTorchLogits) {
  auto tr = subset({"A", "B"}, 6), va = subset({"C"}, 19);
  seed_everything(2);
  auto net = make_net("cnn-x2", data_->shape, 2);
  auto res = train_net(*net, *data_, tr, va, quick(2));
  ASSERT_EQ(res.history.size(), 2u);
  auto model = to_nn_model(*dynamic_cast<SequentialNetImpl*>(net.get()), "t", "x2", data_->classes);
  auto collapsed = nn::collapse_linear(model);
  ASSERT_EQ(collapsed.layers.size(), 5u);  // conv, x², dense, x², dense
  auto imgs = data_->images.index_select(0, index_tensor(va));
  auto ref = predict_logits(*net, imgs);
  double worst = 0;
  for (int64_t i = 0; i < imgs.size(0); ++i) {
    auto px = pixels_of(imgs[i]);
    auto logits = nn::forward(collapsed, px.data());
    auto probs = nn::forward(model, px.data());  // uncollapsed, with the final softmax
    auto ref_p = torch::softmax(ref[i], 0);
    ASSERT_EQ(logits.size(), 2u);
    for (int k = 0; k < 2; ++k) {
      const double r = ref[i][k].item<double>();
      worst = std::max(worst, std::abs(logits[k] - r) / (1.0 + std::abs(r)));
      EXPECT_NEAR(probs[k], ref_p[k].item<double>(), 1e-4);
    }
  }
  EXPECT_LT(worst, 1e-4) << "collapsed model disagrees with torch on real cells";
}

TEST_F(CnmcData, ColourJitterScalesChannelsAndKeepsBackgroundBlack) {
  auto x = to_input(data_->images.slice(0, 0, 8));
  AugmentOptions o;
  o.flips = false;
  o.max_rotation_deg = 0;
  o.max_translate = 0;
  o.colour_jitter = 0.3;
  torch::manual_seed(9);
  auto y = augment_batch(x, o);
  ASSERT_EQ(y.sizes(), x.sizes());
  EXPECT_GE(y.min().item<double>(), 0.0);
  EXPECT_LE(y.max().item<double>(), 1.0);
  // Black stays black; elsewhere one gain per image and channel, within [(1-j)^2, (1+j)^2].
  EXPECT_LT(y.masked_select(x.eq(0)).abs().max().item<double>(), 1e-6);
  bool changed = false;
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t c = 0; c < 3; ++c) {
      auto xs = x[i][c], ys = y[i][c];
      auto mask = xs.gt(0.05).logical_and(ys.lt(0.999));  // unclipped pixels
      if (mask.sum().item<int64_t>() < 10) continue;
      auto ratio = ys.masked_select(mask) / xs.masked_select(mask);
      EXPECT_LT((ratio.max() - ratio.min()).item<double>(), 1e-3) << i << " " << c;
      EXPECT_GE(ratio.min().item<double>(), 0.7 * 0.7 - 1e-4);
      EXPECT_LE(ratio.max().item<double>(), 1.3 * 1.3 + 1e-4);
      changed |= std::abs(ratio.mean().item<double>() - 1.0) > 1e-3;
    }
  EXPECT_TRUE(changed);
}

// Balanced sampling, label smoothing, mixup, colour jitter and the weight average together: the
// run is reproducible, and the averaged weights (with averaged batch-norm statistics) still
// convert to a collapsed model that gives the torch logits.
TEST_F(CnmcData, RegularisersAreReproducibleAndEmaModelExports) {
  auto tr = subset({"A", "B"}, 12), va = subset({"C"}, 40);
  auto opt = quick(2);
  opt.balanced_sampling = true;
  opt.label_smoothing = 0.1;
  opt.mixup_alpha = 0.2;
  opt.ema_decay = 0.9;
  opt.augmentation.colour_jitter = 0.2;
  auto run = [&](Net& net) {
    seed_everything(3);
    net = make_net("cnn-x2", data_->shape, 2);
    return train_net(*net, *data_, tr, va, opt);
  };
  Net n1, n2;
  auto a = run(n1), b = run(n2);
  EXPECT_TRUE(std::isfinite(a.history.back().train_loss));
  EXPECT_DOUBLE_EQ(a.history.back().train_loss, b.history.back().train_loss);
  EXPECT_EQ(a.val_pred, b.val_pred);
  auto collapsed = nn::collapse_linear(
      to_nn_model(*dynamic_cast<SequentialNetImpl*>(n1.get()), "t", "x2", data_->classes));
  auto imgs = data_->images.index_select(0, index_tensor(va));
  auto ref = predict_logits(*n1, imgs);
  for (int64_t i = 0; i < imgs.size(0); ++i) {
    auto px = pixels_of(imgs[i]);
    auto logits = nn::forward(collapsed, px.data());
    for (int k = 0; k < 2; ++k) {
      const double r = ref[i][k].item<double>();
      EXPECT_NEAR(logits[k], r, 1e-4 * (1.0 + std::abs(r)));
    }
  }
  auto bad = quick(1);
  bad.label_smoothing = 1.5;
  seed_everything(3);
  auto net = make_net("cnn-x2", data_->shape, 2);
  EXPECT_THROW(train_net(*net, *data_, tr, va, bad), InvalidArgument);
  bad.label_smoothing = 0;
  bad.ema_decay = 1.0;
  EXPECT_THROW(train_net(*net, *data_, tr, va, bad), InvalidArgument);
}

// Subject-balanced draws: both classes equally often, and within a class every subject equally
// often (fold A+B: 6 ALL patients from 53 to 757 cells, 2 healthy subjects); without subjects
// the draws are only class-balanced and the big patient dominates its class again.
TEST_F(CnmcData, SubjectBalancedDrawsWeighEverySubjectOfAClassEqually) {
  auto idx = subset({"A", "B"}, 1);
  std::mt19937_64 rng(7);
  std::map<std::string, int> per_subject;
  int per_class[2] = {0, 0};
  for (auto i : balanced_draws(idx, data_->labels, &data_->subjects, rng)) {
    ++per_subject[data_->subjects[i]];
    ++per_class[data_->labels[i].item<int64_t>()];
  }
  const double n = static_cast<double>(idx.size());
  EXPECT_NEAR(per_class[0] / n, 0.5, 0.05);
  ASSERT_EQ(per_subject.size(), 8u);
  for (const auto& [subject, count] : per_subject) {
    const double expected = subject[0] == 'H' ? n / 4 : n / 12;  // hem: 2 subjects, all: 6
    EXPECT_NEAR(count, expected, 0.25 * expected) << subject;
  }
  std::mt19937_64 rng2(7);
  std::map<std::string, int> class_only;
  for (auto i : balanced_draws(idx, data_->labels, nullptr, rng2)) ++class_only[data_->subjects[i]];
  EXPECT_GT(class_only["51"], 2 * per_subject["51"]);  // 757 of 1,593 ALL cells

  auto opt = quick(1);
  opt.subject_balanced = true;
  seed_everything(3);
  auto net = make_net("cnn-x2", data_->shape, 2);
  auto r = train_net(*net, *data_, subset({"A", "B"}, 12), subset({"C"}, 40), opt);
  EXPECT_TRUE(std::isfinite(r.history.back().train_loss));
  TensorData anonymous = *data_;
  anonymous.subjects.clear();
  EXPECT_THROW(train_net(*net, anonymous, subset({"A"}, 40), {}, opt), InvalidArgument);
}

TEST_F(CnmcData, ReluSigmoidModelMatchesTorch) {
  auto tr = subset({"A", "B"}, 12), va = subset({"C"}, 40);
  seed_everything(4);
  auto net = make_net("cnn-relu", data_->shape, 2);
  train_net(*net, *data_, tr, va, quick(1));
  auto model = to_nn_model(*dynamic_cast<SequentialNetImpl*>(net.get()), "r", "relu", data_->classes);
  auto imgs = data_->images.index_select(0, index_tensor(va));
  auto ref = torch::sigmoid(predict_logits(*net, imgs));
  for (int64_t i = 0; i < imgs.size(0); ++i) {
    auto px = pixels_of(imgs[i]);
    auto out = nn::forward(model, px.data());
    for (int k = 0; k < 2; ++k) EXPECT_NEAR(out[k], ref[i][k].item<double>(), 1e-4);
  }
}

TEST_F(CnmcData, LinearSvmLearnsRealPixels) {
  auto tr = subset({"A", "B"}, 4);
  auto x = to_input(data_->images.index_select(0, index_tensor(tr))).flatten(1);
  auto y = data_->labels.index_select(0, index_tensor(tr));
  SvmOptions o;
  o.epochs = 15;
  auto svm = train_linear_svm(x, y, o);
  const double acc = svm.predict(x).eq(y).to(torch::kFloat64).mean().item<double>();
  const double majority = std::max(y.to(torch::kFloat64).mean().item<double>(),
                                   1 - y.to(torch::kFloat64).mean().item<double>());
  EXPECT_GT(acc, majority + 0.05);
  EXPECT_THROW(train_linear_svm(x, y.slice(0, 0, 3)), InvalidArgument);
}

TEST_F(CnmcData, ExportWritesEveryFormatAndQuantisesWithinTolerance) {
  auto tr = subset({"A", "B"}, 6), va = subset({"C"}, 19);
  seed_everything(2);
  auto net = make_net("cnn-x2", data_->shape, 2);
  train_net(*net, *data_, tr, va, quick(2));
  auto model = to_nn_model(*dynamic_cast<SequentialNetImpl*>(net.get()), "cnmc-x2", "x2", data_->classes);
  model.metadata["val_group"] = "C";
  const auto out = dir_ / "export";
  fs::create_directories(out);
  nn::save_model(model, out / "trained.lcm");
  ExportRequest req;
  req.model = out / "trained.lcm";
  req.out = out / "e";
  req.data = dir_ / "cnmc32";
  std::ostringstream log;
  auto j = run_export(req, log);
  for (const char* f : {"model.lcm", "collapsed.lcm", "quantization.json", "export.json",
                        "cryptonets/all_weights.csv", "cryptonets/all_bias.csv",
                        "collapsed-cryptonets/all_weights.csv"})
    EXPECT_TRUE(fs::exists(req.out / f)) << f;
  const auto& q = j["quantization"];
  EXPECT_EQ(q["evaluation_side"], "group C");
  // choose_quantization guarantees the tolerance on its calibration side.
  EXPECT_LE(100.0 * (q["calibration"]["float_accuracy"].get<double>() -
                     q["calibration"]["integer_accuracy"].get<double>()),
            0.5 + 1e-9);
  auto reloaded = nn::load_model(req.out / "model.lcm");
  EXPECT_TRUE(reloaded.metadata.contains("quantization"));
  EXPECT_EQ(j["he_cost"]["multiplicative_depth"], 2);
  // A ReLU model is not quantised.
  auto relu = make_net("cnn-relu", data_->shape, 2);
  nn::save_model(to_nn_model(*dynamic_cast<SequentialNetImpl*>(relu.get()), "r", "relu", data_->classes),
                 out / "relu.lcm");
  req.model = out / "relu.lcm";
  req.out = out / "r";
  EXPECT_THROW(run_export(req, log), InvalidArgument);
}

TEST(Mnist, CryptonetsNetLearnsRealDigits) {
  // One short epoch on 3,000 real MNIST digits: far above chance (10%).
  TrainRequest req;
  req.mnist = kData / "mnist";
  req.arch = "cryptonets-mnist";
  req.epochs = 1;
  req.threads = 2;
  req.progress = false;
  req.out = fs::temp_directory_path() / ("lc_train_mnist_" + std::to_string(::getpid()));
  req.limit_train = 3000;
  req.limit_val = 1000;
  std::ostringstream log;
  auto s = run_train(req, log);
  EXPECT_GT(s["folds"][0]["val"]["accuracy"].get<double>(), 0.6);
  auto m = nn::load_model(req.out / "mnist" / "model.lcm");
  EXPECT_EQ(m.input, (nn::Shape{1, 28, 28}));
  EXPECT_EQ(m.classes.size(), 10u);
  fs::remove_all(req.out);
}
