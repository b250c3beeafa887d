// Test helper: small real-shaped models with random weights from a fixed seed (until trained
// models are in models/). Weight scales follow He initialisation so activations stay O(1).
#pragma once

#include <cmath>
#include <random>

#include "nn/model.h"

namespace leukocrypt::nn::testing {

inline void fill_random(Layer& l, int fan_in, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, std::sqrt(1.0f / float(fan_in)));
  for (auto& w : l.weight) w = d(rng);
  for (auto& b : l.bias) b = 0.1f * d(rng);
}

inline Layer conv(int in_c, int out_c, int k, int stride, int pad, std::mt19937& rng) {
  Layer l;
  l.kind = LayerKind::kConv2d;
  l.out_channels = out_c;
  l.kernel_h = l.kernel_w = k;
  l.stride = stride;
  l.padding = pad;
  l.weight.resize(std::size_t(out_c) * in_c * k * k);
  l.bias.resize(out_c);
  fill_random(l, in_c * k * k, rng);
  return l;
}

inline Layer dense(int in, int out, std::mt19937& rng) {
  Layer l;
  l.kind = LayerKind::kDense;
  l.out_features = out;
  l.weight.resize(std::size_t(out) * in);
  l.bias.resize(out);
  fill_random(l, in, rng);
  return l;
}

inline Layer simple(LayerKind k) {
  Layer l;
  l.kind = k;
  return l;
}

inline Layer pool(int k, int stride, int pad) {
  Layer l;
  l.kind = LayerKind::kMeanPool2d;
  l.kernel_h = l.kernel_w = k;
  l.stride = stride;
  l.padding = pad;
  return l;
}

// The paper's shape of network on 3x32x32 cells: conv, x², mean pool, conv, conv, x², dropout,
// flatten, dense, dense, softmax (x² variant, multiplicative depth 2 after collapsing).
inline Model cnmc_like_model(unsigned seed = 7, LayerKind act = LayerKind::kSquare) {
  std::mt19937 rng(seed);
  Model m;
  m.name = "test-cnmc";
  m.variant = act == LayerKind::kSquare ? "x2" : "relu";
  m.input = {3, 32, 32};
  m.layers.push_back(conv(3, 5, 5, 2, 1, rng));  // 5x15x15
  m.layers.push_back(simple(act));
  m.layers.push_back(pool(3, 1, 1));             // 5x15x15
  m.layers.push_back(conv(5, 8, 3, 2, 0, rng));  // 8x7x7
  m.layers.push_back(conv(8, 10, 3, 1, 0, rng)); // 10x5x5
  m.layers.push_back(simple(act));
  Layer drop = simple(LayerKind::kDropout);
  drop.dropout_p = 0.25f;
  m.layers.push_back(drop);
  m.layers.push_back(simple(LayerKind::kFlatten));
  m.layers.push_back(dense(250, 16, rng));
  m.layers.push_back(dense(16, 2, rng));
  m.layers.push_back(simple(act == LayerKind::kSquare ? LayerKind::kSoftmax : LayerKind::kSigmoid));
  if (act != LayerKind::kSquare) {
    m.layers.pop_back();
    m.layers.back() = dense(16, 2, rng);
    m.layers.push_back(simple(LayerKind::kSoftmax));
  }
  return m;
}

// A tiny model for fast encrypted tests: conv 3->2 5x5 stride 4 on 3x16x16, x², dense 2*3*3->4, x², dense 4->2.
inline Model tiny_model(unsigned seed = 3) {
  std::mt19937 rng(seed);
  Model m;
  m.name = "test-tiny";
  m.variant = "x2";
  m.input = {3, 16, 16};
  m.layers.push_back(conv(3, 2, 5, 4, 1, rng));  // 2x4x4
  m.layers.push_back(simple(LayerKind::kSquare));
  m.layers.push_back(simple(LayerKind::kFlatten));
  m.layers.push_back(dense(32, 4, rng));
  m.layers.push_back(simple(LayerKind::kSquare));
  m.layers.push_back(dense(4, 2, rng));
  return m;
}

}  // namespace leukocrypt::nn::testing
