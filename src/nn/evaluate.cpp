// Evaluation helpers: data loading for eval/params, metrics, softmax, quantisation source.
#include "nn/evaluate.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "data/dataset.h"
#include "data/mnist.h"

namespace leukocrypt::nn {

namespace fs = std::filesystem;

bool is_mnist_folder(const fs::path& dir) {
  return fs::exists(dir / "t10k-images-idx3-ubyte.gz") || fs::exists(dir / "t10k-images-idx3-ubyte");
}

EvalSet load_eval_set(const fs::path& dir, const std::string& split, std::size_t limit, const Shape& expected) {
  EvalSet set;
  if (is_mnist_folder(dir)) {
    require(split == "test" || split == "train", "MNIST has splits 'test' (t10k) and 'train', not '" + split + "'");
    const std::string stem = split == "test" ? "t10k" : "train";
    auto pick = [&](const std::string& name) {
      return fs::exists(dir / (name + ".gz")) ? dir / (name + ".gz") : dir / name;
    };
    auto m = data::load_mnist(pick(stem + "-images-idx3-ubyte"), pick(stem + "-labels-idx1-ubyte"));
    require(expected == Shape{1, m.rows, m.cols},
            "model input " + std::to_string(expected.c) + "x" + std::to_string(expected.h) + "x" +
                std::to_string(expected.w) + " does not match MNIST 1x" + std::to_string(m.rows) + "x" +
                std::to_string(m.cols));
    const std::size_t n = limit ? std::min(limit, m.size()) : m.size();
    const std::size_t px = std::size_t(m.rows) * m.cols;
    for (std::size_t i = 0; i < n; ++i) {
      set.storage.emplace_back(m.images.begin() + std::ptrdiff_t(i * px), m.images.begin() + std::ptrdiff_t((i + 1) * px));
      set.labels.push_back(m.labels[i]);
      set.names.push_back(stem + "[" + std::to_string(i) + "]");
    }
    for (int d = 0; d < 10; ++d) set.label_names.push_back(std::to_string(d));
  } else {
    auto ds = data::load_dataset(dir);
    require(expected == Shape{ds.channels, ds.image_size, ds.image_size},
            "model input " + std::to_string(expected.c) + "x" + std::to_string(expected.h) + "x" +
                std::to_string(expected.w) + " does not match the dataset's " + std::to_string(ds.channels) + "x" +
                std::to_string(ds.image_size) + "x" + std::to_string(ds.image_size) + " images");
    auto recs = split == "all" ? std::vector<const data::Record*>{} : ds.select(split);
    if (split == "all")
      for (const auto& r : ds.records) recs.push_back(&r);
    require(!recs.empty(), "dataset '" + dir.string() + "' has no images in split '" + split + "'");
    const std::size_t n = limit ? std::min(limit, recs.size()) : recs.size();
    for (std::size_t i = 0; i < n; ++i) {
      set.storage.push_back(recs[i]->pixels);
      set.labels.push_back(recs[i]->label);
      set.names.push_back(recs[i]->source);
    }
    set.label_names = ds.label_names;
  }
  for (const auto& s : set.storage) set.images.push_back(s.data());
  return set;
}

nlohmann::json Metrics::to_json() const {
  return {{"n", n}, {"accuracy", accuracy}, {"balanced_accuracy", balanced_accuracy},
          {"weighted_f1", weighted_f1}, {"confusion", confusion}};
}

Metrics compute_metrics(const std::vector<int>& labels, const std::vector<int>& predicted, int classes) {
  require(labels.size() == predicted.size(), "compute_metrics: labels and predictions differ in size");
  Metrics m;
  m.n = labels.size();
  m.confusion.assign(classes, std::vector<std::size_t>(classes, 0));
  std::size_t ok = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    require(labels[i] >= 0 && labels[i] < classes && predicted[i] >= 0 && predicted[i] < classes,
            "compute_metrics: class index out of range");
    ++m.confusion[labels[i]][predicted[i]];
    ok += labels[i] == predicted[i];
  }
  if (m.n == 0) return m;
  m.accuracy = double(ok) / double(m.n);
  double recall_sum = 0, f1_sum = 0;
  int present = 0;
  for (int c = 0; c < classes; ++c) {
    std::size_t support = 0, predicted_c = 0;
    for (int k = 0; k < classes; ++k) {
      support += m.confusion[c][k];
      predicted_c += m.confusion[k][c];
    }
    if (support == 0) continue;
    ++present;
    const double tp = double(m.confusion[c][c]);
    const double recall = tp / double(support);
    const double precision = predicted_c ? tp / double(predicted_c) : 0.0;
    recall_sum += recall;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    f1_sum += f1 * double(support);
  }
  m.balanced_accuracy = present ? recall_sum / present : 0;
  m.weighted_f1 = f1_sum / double(m.n);
  return m;
}

std::vector<double> softmax(const double* logits, std::size_t n) {
  std::vector<double> p(logits, logits + n);
  const double mx = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (auto& v : p) sum += (v = std::exp(v - mx));
  for (auto& v : p) v /= sum;
  return p;
}

QuantizationSource quantization_for(const Model& collapsed, const std::optional<QuantizeOptions>& given,
                                    const EvalSet* calibration) {
  QuantizationSource s;
  if (given) {
    s.model = quantize(collapsed, *given);
    s.origin = "given";
  } else if (collapsed.metadata.contains("quantization")) {
    s.model = quantize(collapsed, QuantizeOptions::from_json(collapsed.metadata["quantization"]));
    s.origin = "model metadata";
  } else {
    require(calibration && calibration->size() > 0,
            "model has no quantisation settings and no calibration images were given");
    s.model = choose_quantization(collapsed, calibration->labeled(), 0.5).model;
    s.origin = "chosen on " + std::to_string(calibration->size()) + " calibration images";
  }
  return s;
}

}  // namespace leukocrypt::nn
