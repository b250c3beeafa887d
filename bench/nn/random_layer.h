// Random weighted layers for the nn benchmarks and nn_random_model: real shapes, weights from a
// seeded generator, so a fixed seed always gives the same model.
#pragma once

#include <cmath>
#include <cstddef>
#include <random>

#include "nn/model.h"

namespace leukocrypt::nn::bench {

// A conv2d (k x k, stride, pad; `in` input channels) or dense (`in` features) layer with `out`
// outputs. Weights ~ N(0, weight_std), then biases bias_scale x N(0, weight_std), drawn in that
// order from rng.
inline Layer random_layer(LayerKind kind, int in, int out, int k, int stride, int pad, float weight_std,
                          float bias_scale, std::mt19937& rng) {
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
  std::normal_distribution<float> d(0.0f, weight_std);
  for (auto& w : l.weight) w = d(rng);
  for (auto& b : l.bias) b = bias_scale * d(rng);
  return l;
}

// 1/sqrt(fan-in) of such a layer: the weight scale at which activations keep their magnitude.
inline float fan_in_std(LayerKind kind, int in, int k) {
  return std::sqrt(1.0f / float(in * (kind == LayerKind::kConv2d ? k * k : 1)));
}

}  // namespace leukocrypt::nn::bench
