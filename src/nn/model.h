// Contract: the float model description shared by training (src/train builds it from libtorch
// modules), export (native format, CryptoNets CSV), collapsing and quantisation (src/nn).
// Tensors are row-major float vectors: conv weight (out, in, kh, kw), dense weight (out, in).
// Input: C x H x W planar, float value = pixel(0..255) * input_scale (default 1/255).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace leukocrypt::nn {

struct Shape {
  int c = 0, h = 0, w = 0;
  int size() const { return c * h * w; }
  bool operator==(const Shape&) const = default;
};

enum class LayerKind {
  kConv2d,     // out_channels, kernel_h/w, stride, padding (zero), weight, bias
  kDense,      // out_features, weight (out, in), bias; input is flattened CHW
  kSquare,     // x -> x^2 (the CryptoNets activation)
  kReLU,
  kSigmoid,
  kMeanPool2d, // kernel_h/w, stride, padding (zero padding counted in the mean, as CryptoNets)
  kFlatten,
  kDropout,    // identity at inference; p kept for the record
  kSoftmax,
};

const char* to_string(LayerKind kind);
LayerKind layer_kind_from_string(const std::string& name);  // throws FormatError

struct Layer {
  LayerKind kind = LayerKind::kFlatten;
  int out_channels = 0;  // conv
  int out_features = 0;  // dense
  int kernel_h = 0, kernel_w = 0, stride = 1, padding = 0;  // conv, pool
  float dropout_p = 0.0f;
  std::vector<float> weight;
  std::vector<float> bias;
};

struct Model {
  std::string name;               // e.g. "cnmc-x2"
  std::string variant;            // "x2" or "relu" (or a baseline name)
  Shape input{3, 32, 32};
  float input_scale = 1.0f / 255.0f;
  std::vector<std::string> classes{"all", "hem"};  // index = label; 0 = ALL, 1 = hem
  std::vector<Layer> layers;
  nlohmann::json metadata = nlohmann::json::object();  // metrics, training settings, provenance

  // Output shape of every layer (size() == layers.size()); throws InvalidArgument on mismatch.
  std::vector<Shape> shapes() const;
  void validate() const;
};

// Float reference forward pass for one image given as raw pixels (C*H*W values 0..255).
std::vector<float> forward(const Model& model, const float* pixels);

// Native format: versioned, validated on load (throws FormatError/IoError).
void save_model(const Model& model, const std::filesystem::path& path);
Model load_model(const std::filesystem::path& path);

// Collapse for encrypted inference: dropout and final softmax/sigmoid removed, mean pooling folded
// into the next linear layer, flatten dropped, consecutive linear layers merged. Logits unchanged.
Model collapse_linear(const Model& model);

// CryptoNets CSV export: per-layer weight/bias files plus all_weights.csv / all_bias.csv.
void write_cryptonets_csv(const Model& model, const std::filesystem::path& dir);

}  // namespace leukocrypt::nn
