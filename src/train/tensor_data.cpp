// Dataset -> tensors and the protocol folds.
#include "train/tensor_data.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "common/error.h"

namespace leukocrypt::train {

TensorData from_dataset(const data::Dataset& ds) {
  const int64_t n = static_cast<int64_t>(ds.records.size());
  require(n > 0, "dataset has no records");
  const std::size_t px = ds.pixels_per_image();
  TensorData t;
  t.shape = {ds.channels, ds.image_size, ds.image_size};
  t.classes = ds.label_names;
  t.images = torch::empty({n, ds.channels, ds.image_size, ds.image_size}, torch::kUInt8);
  t.labels = torch::empty({n}, torch::kInt64);
  auto* img = t.images.data_ptr<uint8_t>();
  auto* lab = t.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& r = ds.records[i];
    require<FormatError>(r.pixels.size() == px, "record " + std::to_string(i) + " has " +
                                                    std::to_string(r.pixels.size()) + " pixels, expected " +
                                                    std::to_string(px));
    require<FormatError>(r.label >= 0 && r.label < static_cast<int>(ds.label_names.size()),
                         "record " + std::to_string(i) + " has label " + std::to_string(r.label));
    std::memcpy(img + i * px, r.pixels.data(), px);
    lab[i] = r.label;
    t.subjects.push_back(r.subject);
    t.groups.push_back(r.group);
    t.splits.push_back(r.split);
  }
  return t;
}

torch::Tensor to_input(const torch::Tensor& images_u8) { return images_u8.to(torch::kFloat32).div_(255.0); }

std::vector<Fold> make_folds(const TensorData& data, const std::string& protocol, uint64_t seed,
                             double val_fraction) {
  const int64_t n = data.size();
  std::vector<Fold> folds;
  if (protocol == "patient-cv") {
    std::set<std::string> groups;
    for (int64_t i = 0; i < n; ++i)
      if (!data.groups[i].empty()) groups.insert(data.groups[i]);
    require(groups.size() >= 2, "protocol patient-cv needs at least two patient groups in the dataset, found " +
                                    std::to_string(groups.size()) + " (prepare it with --split patient)");
    for (const auto& g : groups) {
      Fold f;
      f.name = g;
      for (int64_t i = 0; i < n; ++i) {
        if (data.groups[i].empty()) continue;
        (data.groups[i] == g ? f.val : f.train).push_back(i);
      }
      folds.push_back(std::move(f));
    }
  } else if (protocol == "random") {
    require(val_fraction > 0 && val_fraction < 1, "validation fraction must be in (0, 1)");
    // Stratified by class so both sides keep the ~2:1 ratio; subjects are mixed (the paper's way).
    std::mt19937_64 rng(seed);
    Fold f;
    f.name = "random";
    const int64_t k = data.labels.max().item<int64_t>() + 1;
    auto labels = data.labels.accessor<int64_t, 1>();
    for (int64_t c = 0; c < k; ++c) {
      std::vector<int64_t> idx;
      for (int64_t i = 0; i < n; ++i)
        if (labels[i] == c) idx.push_back(i);
      std::shuffle(idx.begin(), idx.end(), rng);
      const auto nv = static_cast<std::size_t>(idx.size() * val_fraction + 0.5);
      f.val.insert(f.val.end(), idx.begin(), idx.begin() + nv);
      f.train.insert(f.train.end(), idx.begin() + nv, idx.end());
    }
    std::sort(f.train.begin(), f.train.end());
    std::sort(f.val.begin(), f.val.end());
    folds.push_back(std::move(f));
  } else if (protocol == "split") {
    Fold f;
    f.name = "split";
    for (int64_t i = 0; i < n; ++i) {
      if (data.splits[i] == "train") f.train.push_back(i);
      else if (data.splits[i] == "test") f.val.push_back(i);
    }
    folds.push_back(std::move(f));
  } else {
    throw InvalidArgument("unknown protocol '" + protocol + "' (use patient-cv, random or split)");
  }
  for (const auto& f : folds)
    require(!f.train.empty() && !f.val.empty(), "protocol " + protocol + " fold '" + f.name +
                                                    "' has an empty training or validation side");
  return folds;
}

}  // namespace leukocrypt::train
