// Dataset-level helpers for `leukocrypt params` and `leukocrypt eval`: loading the images of a
// split (a prepared dataset directory, or the MNIST idx folder), classification metrics, softmax
// on the key holder's side, and the quantisation a model runs with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nn/model.h"
#include "nn/quantize.h"

namespace leukocrypt::nn {

struct EvalSet {
  std::vector<std::vector<std::uint8_t>> storage;
  std::vector<const std::uint8_t*> images;
  std::vector<int> labels;
  std::vector<std::string> names;  // source file (prepared dataset) or "t10k[i]" (MNIST)
  std::vector<std::string> label_names;
  std::size_t size() const { return images.size(); }
  LabeledImages labeled() const { return {images, labels}; }
};

// `dir` is a prepared dataset (dataset.json: split "train", "test" or a patient group) or an MNIST
// folder (t10k-images-idx3-ubyte.gz: split "test" = t10k, "train" = train). limit = 0: all.
// Throws InvalidArgument when the images do not have the model's input shape.
EvalSet load_eval_set(const std::filesystem::path& dir, const std::string& split, std::size_t limit,
                      const Shape& expected);

// Whether dir is the MNIST idx folder (t10k-images-idx3-ubyte[.gz] in it) rather than a prepared dataset.
bool is_mnist_folder(const std::filesystem::path& dir);

struct Metrics {
  std::size_t n = 0;
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean per-class recall over classes present
  double weighted_f1 = 0;        // per-class F1 weighted by support (the C-NMC challenge metric)
  std::vector<std::vector<std::size_t>> confusion;  // [true][predicted]
  nlohmann::json to_json() const;
};
Metrics compute_metrics(const std::vector<int>& labels, const std::vector<int>& predicted, int classes);

std::vector<double> softmax(const double* logits, std::size_t n);

// The quantisation a model runs with: model.metadata["quantization"] (written by `export`) if
// present, else chosen on `calibration` with choose_quantization (0.5 pp tolerance).
struct QuantizationSource {
  QuantizedModel model;
  std::string origin;  // "model metadata", "params.json", "chosen on <n> calibration images"
};
QuantizationSource quantization_for(const Model& collapsed, const std::optional<QuantizeOptions>& given,
                                    const EvalSet* calibration);

}  // namespace leukocrypt::nn
