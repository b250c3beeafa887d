// Writes a real-shaped model with random weights (fixed seed) in the native format, for
// benchmarks and CLI checks before a trained model exists:
//   nn_random_model cnmc OUT [SEED]   3x32x32: conv 5x5/2 ->5, x², pool 3/1, conv 3/2 ->8, conv 3 ->10, x², dense 250->16->2
//   (a 4th argument WMAX stores quantisation settings weight_max = WMAX in the metadata)
//   nn_random_model mnist OUT [SEED]  CryptoNets MNIST: conv 5x5/2 pad 1 ->5 (845), x², dense 845->100, x², dense 100->10
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>

#include "nn/model.h"

using namespace leukocrypt::nn;

namespace {
Layer weighted(LayerKind kind, int in, int out, int k, int stride, int pad, std::mt19937& rng) {
  Layer l;
  l.kind = kind;
  if (kind == LayerKind::kConv2d) {
    l.out_channels = out;
    l.kernel_h = l.kernel_w = k;
    l.stride = stride;
    l.padding = pad;
    l.weight.resize(std::size_t(out) * in * k * k);
  } else {
    l.out_features = out;
    l.weight.resize(std::size_t(out) * in);
  }
  l.bias.resize(out);
  std::normal_distribution<float> d(0.0f, std::sqrt(1.0f / float(in * (kind == LayerKind::kConv2d ? k * k : 1))));
  for (auto& w : l.weight) w = d(rng);
  for (auto& b : l.bias) b = 0.1f * d(rng);
  return l;
}
Layer simple(LayerKind k) {
  Layer l;
  l.kind = k;
  return l;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: nn_random_model cnmc|mnist OUT [SEED [WMAX]]\n";
    return 2;
  }
  const std::string arch = argv[1];
  std::mt19937 rng(argc > 3 ? unsigned(std::atoi(argv[3])) : 1u);
  Model m;
  m.variant = "x2";
  m.metadata["note"] = "random weights (fixed seed), for benchmarks only";
  if (arch == "cnmc") {
    m.name = "random-cnmc";
    m.input = {3, 32, 32};
    Layer pool = simple(LayerKind::kMeanPool2d);
    pool.kernel_h = pool.kernel_w = 3;
    pool.stride = 1;
    pool.padding = 1;
    m.layers = {weighted(LayerKind::kConv2d, 3, 5, 5, 2, 1, rng), simple(LayerKind::kSquare), pool,
                weighted(LayerKind::kConv2d, 5, 8, 3, 2, 0, rng), weighted(LayerKind::kConv2d, 8, 10, 3, 1, 0, rng),
                simple(LayerKind::kSquare), simple(LayerKind::kFlatten), weighted(LayerKind::kDense, 250, 16, 0, 1, 0, rng),
                weighted(LayerKind::kDense, 16, 2, 0, 1, 0, rng), simple(LayerKind::kSoftmax)};
  } else if (arch == "mnist") {
    m.name = "random-cryptonets-mnist";
    m.input = {1, 28, 28};
    m.classes = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    m.layers = {weighted(LayerKind::kConv2d, 1, 5, 5, 2, 1, rng), simple(LayerKind::kSquare), simple(LayerKind::kFlatten),
                weighted(LayerKind::kDense, 845, 100, 0, 1, 0, rng), simple(LayerKind::kSquare),
                weighted(LayerKind::kDense, 100, 10, 0, 1, 0, rng)};
  } else {
    std::cerr << "unknown arch '" << arch << "'\n";
    return 2;
  }
  if (argc > 4) m.metadata["quantization"] = {{"weight_max", {std::atoi(argv[4])}}};
  save_model(m, argv[2]);
  std::cout << "wrote " << argv[2] << "\n";
  return 0;
}
