// The library side of `leukocrypt train`, `compare` and `export`. Torch-free header so the CLI
// compiles quickly; every function writes its files under `out` and returns a JSON summary
// (the CLI's --json output). Human-readable progress and the model summary go to `log`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace leukocrypt::train {

struct TrainRequest {
  std::filesystem::path data;    // prepared dataset (leukocrypt prepare)
  std::filesystem::path mnist;   // or: MNIST idx folder (train on 60k, validate on t10k)
  std::string arch = "cnn-x2";   // cnn-x2 | cnn-relu | cryptonets-mnist | alexnet | vgg | resnet
  std::string protocol = "patient-cv";  // patient-cv | random | split
  std::string fold;              // patient-cv: run only the fold holding out this group
  int epochs = -1;               // -1: 100 for C-NMC, 15 for MNIST
  int batch_size = 64;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  uint64_t seed = 1;
  int threads = 2;
  int conv1 = 5, conv2 = 16, conv3 = 32, hidden = 32;  // cnn-x2 / cnn-relu widths
  int conv1_kernel = 5, conv1_stride = 2;               // cnn-x2 / cnn-relu first convolution
  float dropout = 0.25f;
  bool augment = true;           // C-NMC only; MNIST is never augmented (as CryptoNets)
  bool recalibrate_bn = false;   // re-estimate batch norm on unaugmented training images at the end
  double max_rotation_deg = 360.0;  // augmentation: rotation uniform in [0, max)
  double max_translate = 0.2;       // augmentation: translation up to this fraction of the side
  double colour_jitter = 0.0;    // per-image and per-channel gains in [1 - j, 1 + j] (augmentation)
  bool balanced_sampling = false;  // class-balanced sampling instead of the class-weighted loss
  bool subject_balanced = false;   // class- and subject-balanced sampling (implies balanced draws)
  double label_smoothing = 0.0;
  double mixup_alpha = 0.0;
  double ema_decay = 0.0;        // final model = EMA of the weights (0: off)
  int64_t limit_train = 0, limit_val = 0;  // > 0: only the first N of each side (quick runs, tests)
  std::filesystem::path out = "train-out";
  bool progress = true;
  std::string command_line;      // recorded in the model metadata
};

// Trains every fold of the protocol; writes <out>/<fold>/{model.lcm,metrics.json,history.csv,
// curves.png} and <out>/summary.{json,md}. Returns the summary.
nlohmann::json run_train(const TrainRequest& req, std::ostream& log);
std::string train_summary_text(const nlohmann::json& summary);

struct CompareRequest {
  std::filesystem::path data;
  std::vector<std::string> protocols{"patient-cv", "random"};
  std::vector<std::string> models{"svm-pixels", "svm-vgg-features", "alexnet", "vgg", "resnet", "cnn-relu",
                                  "cnn-x2"};
  int epochs = 100;          // the paper's CNN (x² and ReLU)
  int baseline_epochs = 30;  // AlexNet/VGG/ResNet-style (CPU budget)
  int svm_epochs = 40;
  uint64_t seed = 1;
  int threads = 2;
  std::filesystem::path out = "compare-out";
  bool progress = true;
  std::string command_line;
};

// Writes <out>/compare.{json,md}, <out>/curves-<protocol>.png and per-run histories.
nlohmann::json run_compare(const CompareRequest& req, std::ostream& log);
std::string compare_markdown(const nlohmann::json& result);

struct ExportRequest {
  std::filesystem::path model;
  std::filesystem::path out;
  std::filesystem::path data;  // optional prepared dataset: float vs integer accuracy
  double max_drop_pp = 0.5;    // quantisation tolerance in percentage points
};

// Writes <out>/model.lcm, <out>/cryptonets/ (per-layer CSV + all_weights.csv/all_bias.csv),
// <out>/collapsed.lcm, <out>/collapsed-cryptonets/, <out>/quantization.json, <out>/export.json.
nlohmann::json run_export(const ExportRequest& req, std::ostream& log);

}  // namespace leukocrypt::train
