// The training loop: Adam, cosine learning-rate decay, class-weighted loss (about 2:1 ALL:hem),
// paper augmentation, per-epoch history (loss and accuracy on both sides), final metrics.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "train/augment.h"
#include "train/metrics.h"
#include "train/net.h"
#include "train/tensor_data.h"

namespace leukocrypt::train {

struct TrainOptions {
  int epochs = 100;
  int batch_size = 64;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  uint64_t seed = 1;
  bool augment = true;
  AugmentOptions augmentation;
  bool class_weighted = true;  // loss weight N / (K * n_c) per class, from the training side
  // Instead of class weights: every epoch draws N training images with replacement, each class
  // equally likely (class_weighted is then ignored).
  bool balanced_sampling = false;
  // Balanced sampling that also weighs subjects equally within each class (every class equally
  // likely, then every subject of that class equally likely): one dominant patient (C-NMC subject
  // 51 holds 757 of fold 1's 2,418 ALL cells) no longer sets what "ALL" looks like. Needs subjects.
  bool subject_balanced = false;
  double label_smoothing = 0.0;  // softmax nets: cross-entropy against (1 - e) one-hot + e / K
  double mixup_alpha = 0.0;      // > 0: mixup (Zhang et al. 2018), lambda ~ Beta(alpha, alpha)
  // > 0: the final model is the exponential moving average of the weights (and batch-norm
  // statistics) over the training steps, decay per step; the per-epoch curves show the raw weights.
  double ema_decay = 0.0;
  bool cosine = true;          // lr decays to lr/100 along a half cosine
  // After the last epoch, re-estimate batch-norm statistics on the unaugmented training images.
  // Off by default: measured on C-NMC it fits the training patients better but lowers the
  // patient-disjoint validation scores in every fold (the augmented running averages regularise).
  bool recalibrate_bn = false;
  bool progress = true;        // progress bar on a terminal, one log line per epoch on stderr
  bool log_epochs = true;
  std::string label = "train";
};

struct EpochStats {
  int epoch = 0;
  double train_loss = 0, train_acc = 0;  // running, on augmented batches in training mode
  double val_loss = 0, val_acc = 0, val_balanced_acc = 0;
  double lr = 0, seconds = 0;
};

struct TrainResult {
  std::vector<EpochStats> history;
  Metrics train;  // final model in eval mode on the unaugmented training side
  Metrics val;
  Metrics val_before_recalibration;  // equal to val when recalibrate_bn is off
  std::vector<int> val_pred;
  double train_seconds = 0;  // the epochs, without the final evaluation
  int64_t parameters = 0;
  int epochs = 0;
};

// Sets the torch and std RNG seed; call before make_net so initialisation is reproducible.
void seed_everything(uint64_t seed);

TrainResult train_net(NetImpl& net, const TensorData& data, const std::vector<int64_t>& train_idx,
                      const std::vector<int64_t>& val_idx, const TrainOptions& opt);

// Re-estimates every batch norm's running mean/variance as the exact average over images
// (uint8 N x C x H x W) with dropout off. No-op for nets without batch norm.
void recalibrate_batchnorm(NetImpl& net, const torch::Tensor& images_u8, int64_t batch = 256);

// Eval-mode logits for images (uint8 N x C x H x W), in batches, without gradients.
torch::Tensor predict_logits(NetImpl& net, const torch::Tensor& images_u8, int64_t batch = 256);
// Eval-mode penultimate features, same batching.
torch::Tensor predict_features(NetImpl& net, const torch::Tensor& images_u8, int64_t batch = 256);

// Metrics of the net on data[idx] (with per-subject accuracy).
Metrics evaluate(NetImpl& net, const TensorData& data, const std::vector<int64_t>& idx,
                 std::vector<int>* predictions = nullptr);

torch::Tensor index_tensor(const std::vector<int64_t>& idx);

// Balanced sampling: idx.size() draws from idx with replacement, every class (labels, int64)
// equally likely; with `subjects` (indexed like labels), every subject of a class equally likely too.
std::vector<int64_t> balanced_draws(const std::vector<int64_t>& idx, const torch::Tensor& labels,
                                    const std::vector<std::string>* subjects, std::mt19937_64& rng);

}  // namespace leukocrypt::train
