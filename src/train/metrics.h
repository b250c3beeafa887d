// Classification metrics reported by training, comparison and export: accuracy, balanced accuracy,
// weighted F1 (the C-NMC 2019 challenge metric), confusion matrix and per-subject accuracy.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace leukocrypt::train {

struct SubjectScore {
  std::string subject;
  int label = -1;  // the subject's majority true label
  int count = 0;
  int correct = 0;
  double accuracy() const { return count ? static_cast<double>(correct) / count : 0.0; }
};

struct Metrics {
  int count = 0;
  double accuracy = 0;
  double balanced_accuracy = 0;  // mean per-class recall
  double weighted_f1 = 0;        // per-class F1 weighted by class support
  std::vector<std::vector<int>> confusion;  // [true][predicted]
  std::vector<double> recall, precision, f1;  // per class
  std::vector<SubjectScore> subjects;         // sorted by subject id; empty if none given
};

// y_true/y_pred in [0, num_classes); subjects is empty or has one id per sample.
// Throws InvalidArgument on size mismatch or out-of-range labels.
Metrics compute_metrics(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes,
                        const std::vector<std::string>& subjects = {});

nlohmann::json to_json(const Metrics& m, const std::vector<std::string>& class_names = {});
// One line: "acc 0.912 bal 0.884 wF1 0.910 (n=1204)".
std::string summary_line(const Metrics& m);

}  // namespace leukocrypt::train
