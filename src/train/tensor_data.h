// Images and labels as libtorch tensors, built from a prepared dataset (src/data/dataset.h) or from
// MNIST, plus the index sets of the evaluation protocols (patient-disjoint folds, random 80/20,
// the dataset's own train/test split).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "nn/model.h"

namespace leukocrypt::train {

struct TensorData {
  torch::Tensor images;  // uint8 N x C x H x W, pixels 0..255
  torch::Tensor labels;  // int64 N
  std::vector<std::string> subjects, groups, splits;  // per sample ("" when unknown)
  std::vector<std::string> classes;
  nn::Shape shape;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

TensorData from_dataset(const data::Dataset& ds);

// Float network input for images[idx] (pixel / 255, the nn::Model input_scale).
torch::Tensor to_input(const torch::Tensor& images_u8);

struct Fold {
  std::string name;  // "A" (held-out group), "random", "split"
  std::vector<int64_t> train, val;
};

// protocol: "patient-cv" (one fold per group: train on the others, validate on it),
// "random" (stratified random split, val_fraction to validation), "split" (the dataset's
// train/test field). Throws InvalidArgument when the dataset lacks what the protocol needs.
std::vector<Fold> make_folds(const TensorData& data, const std::string& protocol, uint64_t seed,
                             double val_fraction = 0.2);

}  // namespace leukocrypt::train
