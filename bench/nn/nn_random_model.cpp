// Writes a real-shaped model with random weights (fixed seed) in the native format, for
// benchmarks and CLI checks before a trained model exists:
//   nn_random_model cnmc OUT [SEED]   3x32x32: conv 5x5/2 ->5, x², pool 3/1, conv 3/2 ->8, conv 3 ->10, x², dense 250->16->2
//   (a 4th argument WMAX stores quantisation settings weight_max = WMAX in the metadata)
//   nn_random_model mnist OUT [SEED]  CryptoNets MNIST: conv 5x5/2 pad 1 ->5 (845), x², dense 845->100, x², dense 100->10
#include <cstdlib>
#include <iostream>
#include <random>

#include "nn/model.h"
#include "random_layer.h"

using namespace leukocrypt::nn;

namespace {
Layer weighted(LayerKind kind, int in, int out, int k, int stride, int pad, std::mt19937& rng) {
  return bench::random_layer(kind, in, out, k, stride, pad, bench::fan_in_std(kind, in, k), 0.1f, rng);
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
