// A small linear SVM (binary, hinge loss, L2 regularisation, mini-batch SGD with momentum in
// libtorch) for the baselines "SVM on pixels" and "SVM on CNN features" (the paper's Table II
// used an SVM on VGG16 features). Features are standardised with the training mean/std.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace leukocrypt::train {

struct SvmOptions {
  int epochs = 40;
  int batch_size = 64;
  double lr = 0.01;
  double lambda = 1e-3;        // L2 weight: lambda/2 * |w|^2
  bool class_weighted = true;  // hinge loss weighted N / (2 n_c)
  uint64_t seed = 1;
};

struct LinearSvm {
  torch::Tensor mean, stddev;  // D
  torch::Tensor w;             // D
  torch::Tensor b;             // scalar
  // Decision values; > 0 means label 1.
  torch::Tensor decision(const torch::Tensor& x) const;
  torch::Tensor predict(const torch::Tensor& x) const;  // int64 labels 0/1
};

// x: float N x D, y: int64 N with labels 0/1. Throws InvalidArgument on shape mismatch.
LinearSvm train_linear_svm(const torch::Tensor& x, const torch::Tensor& y, const SvmOptions& opt = {});

}  // namespace leukocrypt::train
