// Quantisation of a collapsed float model to the integer model that runs encrypted (CryptoNets
// style): integer input = the raw pixels 0..255, per-layer integer weights W = round(w * s_l),
// integer biases at the accumulated scale, x -> x^2 kept exact. Every value of the integer model
// is a fixed positive multiple ("scale") of the float value it approximates, so argmax is kept.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/int128.h"
#include "nn/model.h"

namespace leukocrypt::nn {

struct QuantizeOptions {
  // Largest integer weight magnitude of each weighted layer (conv/dense, in order): layer l's
  // weights are scaled by s_l = weight_max[l] / max|w_l|. One entry applies to every layer.
  std::vector<int> weight_max{15};

  int weight_max_for(std::size_t weighted_index) const;
  nlohmann::json to_json() const;
  static QuantizeOptions from_json(const nlohmann::json& j);  // throws FormatError
};

struct QuantizedLayer {
  LayerKind kind = LayerKind::kSquare;  // kConv2d, kDense or kSquare
  Shape in, out;
  int kernel_h = 0, kernel_w = 0, stride = 1, padding = 0;  // conv
  std::vector<std::int64_t> weight;  // same layout as the float layer
  std::vector<Int128> bias;          // at the layer's output scale
  double weight_scale = 1.0;         // s_l (1 for square)
  long double scale = 1.0;           // integer units per float unit of this layer's output
};

struct QuantizedModel {
  std::string name;
  Shape input;
  float input_scale = 1.0f / 255.0f;
  std::vector<std::string> classes;
  QuantizeOptions options;
  std::vector<QuantizedLayer> layers;
  Model collapsed;  // the float model it was made from; layers[i] <-> collapsed.layers[i]

  long double output_scale() const { return layers.empty() ? 1.0L : layers.back().scale; }
  int weighted_layers() const;
  nlohmann::json summary() const;  // per layer: kind, shape, weight_max, scale (log2), max |W|
};

// `collapsed` must contain only conv2d, dense and square layers (collapse_linear output of an x²
// model); anything else throws InvalidArgument naming the layer.
QuantizedModel quantize(const Model& collapsed, const QuantizeOptions& options = {});

// Integer-model logits computed in double (fast; exact while values stay below 2^53, and argmax
// is reliable well beyond). The exact 128-bit evaluation is the raw backend (nn/backend.h).
std::vector<double> forward_quantized(const QuantizedModel& q, const std::uint8_t* pixels);

// Guaranteed bound for ANY input with pixels in [0, pixel_max]: interval arithmetic through the
// integer model. max_abs[i] bounds |value| after layer i; output_bits = signed bits of the logits,
// i.e. the plaintext modulus product T must exceed 2^output_bits (centred lift).
struct WorstCaseBound {
  std::vector<long double> max_abs;  // per layer (long double: can exceed 2^127 for bad choices)
  int output_bits = 0;
  int max_bits = 0;                  // largest over all layers (informative: BFV is exact mod T)
};
WorstCaseBound worst_case_bound(const QuantizedModel& q, int pixel_max = 255);

// A set of labelled images (pixels 0..255, model input layout) for calibration and evaluation.
struct LabeledImages {
  std::vector<const std::uint8_t*> pixels;
  std::vector<int> labels;
  std::size_t size() const { return pixels.size(); }
};

struct QuantizeTrial {
  QuantizeOptions options;
  double accuracy = 0;
  double agreement = 0;  // fraction of images whose argmax equals the float model's
  int worst_case_bits = 0;
};

// Every per-layer precision on a grid, measured once on calibration images; selections for any
// tolerance are then free (select_quantization).
struct QuantizeSweep {
  double float_accuracy = 0;
  std::size_t images = 0;
  int min_weight_bits = 1, max_weight_bits = 12;  // weight_max in {2^b - 1 : b in [min, max]}
  std::vector<QuantizeTrial> trials;              // the whole grid, one per weight_max vector
};

struct QuantizeChoice {
  QuantizedModel model;
  double float_accuracy = 0;
  double int_accuracy = 0;
  double agreement = 0;
  int worst_case_bits = 0;
  double max_drop_pp = 0;
  bool within_tolerance = false;  // false only when no grid point met the tolerance
  // The most faithful grid point (highest agreement, then fewest bits), for comparison with the
  // chosen (cheapest within tolerance) one.
  QuantizeTrial most_accurate;
  std::vector<QuantizeTrial> trials;  // the sweep's grid
  // Trials on the bits/agreement Pareto front: no other trial has fewer-or-equal bits and higher
  // agreement. Ordered by bits.
  std::vector<QuantizeTrial> pareto() const;
  nlohmann::json to_json() const;
};

// Plaintext primes of at most 50 bits whose product exceeds 2^bits (the HE cost of a choice: one
// full encrypted network per prime).
int plaintext_primes_50bit(int worst_case_bits);

// Evaluates every weight_max vector with entries 2^b - 1, b in [min_weight_bits, max_weight_bits]
// (one entry per conv/dense layer): agreement with the float argmax and accuracy on `calibration`,
// and the worst-case logit bits. Depth-first over layers, so each prefix of the integer network is
// computed once per image; images are processed in blocks across the global thread pool.
QuantizeSweep sweep_quantization(const Model& collapsed, const LabeledImages& calibration,
                                 int min_weight_bits = 1, int max_weight_bits = 12);

// Among the sweep's trials whose argmax agrees with the float model's on at least
// 1 - max_drop_pp/100 of the calibration images (which bounds the accuracy difference by
// max_drop_pp points), the one with the fewest worst-case logit bits (fewest plaintext primes);
// ties go to higher agreement, then higher accuracy, then smaller weights. Monotone: a larger
// tolerance admits a superset, so the chosen bits never increase with it. When nothing qualifies
// the most faithful trial is returned with within_tolerance = false.
QuantizeChoice select_quantization(const Model& collapsed, const QuantizeSweep& sweep, double max_drop_pp);

// sweep_quantization + select_quantization.
QuantizeChoice choose_quantization(const Model& collapsed, const LabeledImages& calibration,
                                   double max_drop_pp = 0.5);

// Fraction of images whose argmax matches the label.
double accuracy_float(const Model& m, const LabeledImages& data);
double accuracy_quantized(const QuantizedModel& q, const LabeledImages& data);

}  // namespace leukocrypt::nn
