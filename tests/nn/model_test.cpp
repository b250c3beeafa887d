// Model: shapes, validation, forward, native format round trip and corruption, collapsing
// (collapsed logits == original logits on real cells), CryptoNets CSV.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/paths.h"
#include "nn/model.h"
#include "real_cells.h"
#include "test_models.h"

namespace leukocrypt::nn {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("lc_nn_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

TEST(Model, ShapesOfPaperLikeNetwork) {
  auto m = testing::cnmc_like_model();
  auto sh = m.shapes();
  ASSERT_EQ(sh.size(), m.layers.size());
  EXPECT_EQ(sh[0], (Shape{5, 15, 15}));
  EXPECT_EQ(sh[2], (Shape{5, 15, 15}));
  EXPECT_EQ(sh[3], (Shape{8, 7, 7}));
  EXPECT_EQ(sh[4], (Shape{10, 5, 5}));
  EXPECT_EQ(sh[7], (Shape{250, 1, 1}));
  EXPECT_EQ(sh.back(), (Shape{2, 1, 1}));
  EXPECT_NO_THROW(m.validate());
}

TEST(Model, ValidateNamesTheMismatch) {
  auto m = testing::cnmc_like_model();
  m.layers[3].weight.pop_back();
  try {
    m.validate();
    FAIL();
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 (conv2d)"), std::string::npos) << e.what();
  }
  m = testing::cnmc_like_model();
  m.classes = {"a", "b", "c"};
  EXPECT_THROW(m.validate(), InvalidArgument);
  m = testing::cnmc_like_model();
  m.layers[0].stride = 0;
  EXPECT_THROW(m.validate(), InvalidArgument);
  m = testing::cnmc_like_model();
  m.layers[8].weight[5] = NAN;
  EXPECT_THROW(m.validate(), InvalidArgument);
}

TEST(Model, ForwardKnownValues) {
  Model m;
  m.input = {1, 3, 3};
  m.input_scale = 1.0f;
  m.classes = {"a", "b"};
  Layer c = testing::simple(LayerKind::kConv2d);
  c.out_channels = 1;
  c.kernel_h = c.kernel_w = 2;
  c.stride = 1;
  c.weight = {1, 0, 0, -1};
  c.bias = {0.5f};
  m.layers.push_back(c);  // 1x2x2
  m.layers.push_back(testing::simple(LayerKind::kSquare));
  Layer d = testing::simple(LayerKind::kDense);
  d.out_features = 2;
  d.weight = {1, 1, 1, 1, 0, 0, 0, 2};
  d.bias = {0, 1};
  m.layers.push_back(d);
  const float px[9] = {1, 2, 3, 4, 5, 6, 7, 8, 10};
  auto y = forward(m, px);
  // conv: [1-5, 2-6, 4-8, 5-10] + 0.5 = [-3.5, -3.5, -3.5, -4.5]; squared 12.25 x3, 20.25
  ASSERT_EQ(y.size(), 2u);
  EXPECT_FLOAT_EQ(y[0], 12.25f * 3 + 20.25f);
  EXPECT_FLOAT_EQ(y[1], 1 + 2 * 20.25f);
}

TEST(Model, SaveLoadRoundTrip) {
  auto m = testing::cnmc_like_model();
  m.metadata["val_accuracy"] = 0.875;
  auto dir = temp_dir("rt");
  save_model(m, dir / "m.lkm");
  auto r = load_model(dir / "m.lkm");
  EXPECT_EQ(r.name, m.name);
  EXPECT_EQ(r.variant, m.variant);
  EXPECT_EQ(r.input, m.input);
  EXPECT_EQ(r.input_scale, m.input_scale);
  EXPECT_EQ(r.classes, m.classes);
  EXPECT_EQ(r.metadata["val_accuracy"], 0.875);
  ASSERT_EQ(r.layers.size(), m.layers.size());
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    EXPECT_EQ(r.layers[i].kind, m.layers[i].kind);
    EXPECT_EQ(r.layers[i].weight, m.layers[i].weight);
    EXPECT_EQ(r.layers[i].bias, m.layers[i].bias);
    EXPECT_EQ(r.layers[i].stride, m.layers[i].stride);
    EXPECT_EQ(r.layers[i].padding, m.layers[i].padding);
  }
  EXPECT_FLOAT_EQ(r.layers[6].dropout_p, 0.25f);
  fs::remove_all(dir);
}

TEST(Model, LoadRejectsCorruptFiles) {
  auto m = testing::tiny_model();
  auto dir = temp_dir("bad");
  save_model(m, dir / "m.lkm");
  const std::string good = read_file(dir / "m.lkm");
  auto expect_format_error = [&](std::string bytes, const char* what) {
    write_file_atomic(dir / "x.lkm", bytes);
    EXPECT_THROW(load_model(dir / "x.lkm"), FormatError) << what;
  };
  expect_format_error("", "empty");
  expect_format_error(good.substr(0, good.size() - 4), "truncated");
  expect_format_error(good + "x", "trailing byte");
  std::string b = good;
  b[0] = 'X';
  expect_format_error(b, "magic");
  b = good;
  b[8] = 9;
  expect_format_error(b, "version");
  b = good;
  b[12] = char(0xff);
  b[13] = char(0xff);
  b[14] = char(0xff);
  expect_format_error(b, "header length");
  b = good;
  // Last float (a bias) -> NaN.
  b[b.size() - 1] = char(0x7f);
  b[b.size() - 2] = char(0xc0);
  expect_format_error(b, "nan");
  b = good;
  auto pos = b.find("\"out_features\":4");
  ASSERT_NE(pos, std::string::npos);
  b[pos + 15] = '5';
  expect_format_error(b, "shape mismatch");
  b = good;
  pos = b.find("\"square\"");
  b.replace(pos, 8, "\"sqrxe\"");
  expect_format_error(b, "unknown kind");
  // Every truncation point is an error, never a crash.
  for (std::size_t n = 0; n < good.size(); n += 7) expect_format_error(good.substr(0, n), "prefix");
  EXPECT_THROW(load_model(dir / "missing.lkm"), IoError);
  fs::remove_all(dir);
}

void expect_same_logits(const Model& a, const Model& b, const std::vector<testing::Cell>& cells) {
  for (const auto& c : cells) {
    auto ya = forward(a, c.pixels.data());
    auto yb = forward(b, c.pixels.data());
    ASSERT_EQ(ya.size(), yb.size());
    for (std::size_t i = 0; i < ya.size(); ++i)
      EXPECT_NEAR(ya[i], yb[i], 1e-4 * (1 + std::fabs(ya[i]))) << c.file << " logit " << i;
  }
}

Model without_final_softmax(Model m) {
  while (m.layers.back().kind == LayerKind::kSoftmax || m.layers.back().kind == LayerKind::kSigmoid)
    m.layers.pop_back();
  return m;
}

TEST(Collapse, PaperNetworkOnRealCellsKeepsLogits) {
  auto m = testing::cnmc_like_model();
  auto c = collapse_linear(m);
  // conv, x², one collapsed linear layer (pool+conv+conv), x², one dense (dense+dense).
  ASSERT_EQ(c.layers.size(), 5u);
  EXPECT_EQ(c.layers[0].kind, LayerKind::kConv2d);
  EXPECT_EQ(c.layers[1].kind, LayerKind::kSquare);
  EXPECT_EQ(c.layers[2].kind, LayerKind::kConv2d);
  EXPECT_EQ(c.layers[2].kernel_h, 3 + 2 * 2 + 2);  // pool 3 (s1) -> conv 3 (s2) -> conv 3: 3+2+2·2
  EXPECT_EQ(c.layers[2].stride, 2);
  EXPECT_EQ(c.layers[3].kind, LayerKind::kSquare);
  EXPECT_EQ(c.layers[4].kind, LayerKind::kDense);
  EXPECT_EQ(c.shapes().back(), (Shape{2, 1, 1}));
  expect_same_logits(without_final_softmax(m), c, testing::load_real_cells(12, 32));
}

TEST(Collapse, PoolWithPaddingAfterConvBecomesDense) {
  std::mt19937 rng(11);
  Model m;
  m.input = {3, 16, 16};
  m.layers = {testing::conv(3, 4, 3, 2, 1, rng), testing::simple(LayerKind::kSquare),
              testing::conv(4, 4, 3, 1, 0, rng), testing::pool(2, 2, 1),
              testing::simple(LayerKind::kFlatten), testing::dense(4 * 4 * 4, 2, rng),
              testing::simple(LayerKind::kSigmoid)};
  auto c = collapse_linear(m);
  ASSERT_EQ(c.layers.size(), 3u);
  EXPECT_EQ(c.layers[2].kind, LayerKind::kDense);
  expect_same_logits(without_final_softmax(m), c, testing::load_real_cells(6, 16));
}

TEST(Collapse, ReluModelKeepsStructure) {
  auto m = testing::cnmc_like_model(5, LayerKind::kReLU);
  auto c = collapse_linear(m);
  expect_same_logits(without_final_softmax(m), c, testing::load_real_cells(6, 32));
}

TEST(Collapse, AlreadyCollapsedIsUnchanged) {
  auto m = testing::tiny_model();
  auto c = collapse_linear(m);
  ASSERT_EQ(c.layers.size(), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(c.layers[i].weight, m.layers[i == 0 ? 0 : i + 1].weight);
}

TEST(CryptoNetsCsv, OneLayerPerLineRowMajor) {
  auto m = collapse_linear(testing::cnmc_like_model());
  auto dir = temp_dir("csv");
  write_cryptonets_csv(m, dir);
  std::ifstream all(dir / "all_weights.csv");
  std::string line;
  std::vector<std::vector<float>> rows;
  while (std::getline(all, line)) {
    std::vector<float> v;
    std::stringstream ss(line);
    std::string tok;
    while (std::getline(ss, tok, ',')) v.push_back(std::stof(tok));
    rows.push_back(v);
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], m.layers[0].weight);  // 9 significant digits round-trip float exactly
  EXPECT_EQ(rows[1], m.layers[2].weight);
  EXPECT_EQ(rows[2], m.layers[4].weight);
  EXPECT_TRUE(fs::exists(dir / "all_bias.csv"));
  EXPECT_TRUE(fs::exists(dir / "layer0_conv2d_weights.csv"));
  EXPECT_TRUE(fs::exists(dir / "layer2_dense_bias.csv"));
  EXPECT_EQ(read_file(dir / "layer1_conv2d_weights.csv"),
            [&] { std::string s; std::ifstream f(dir / "all_weights.csv"); std::getline(f, s); std::getline(f, s); return s + "\n"; }());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace leukocrypt::nn
