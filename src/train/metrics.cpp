// Metric arithmetic; plain loops, no libtorch.
#include "train/metrics.h"

#include <cstdio>
#include <map>

#include "common/error.h"

namespace leukocrypt::train {

Metrics compute_metrics(const std::vector<int>& y_true, const std::vector<int>& y_pred, int num_classes,
                        const std::vector<std::string>& subjects) {
  require(num_classes >= 1, "num_classes must be positive");
  require(y_true.size() == y_pred.size(), "labels and predictions differ in length (" +
                                              std::to_string(y_true.size()) + " vs " +
                                              std::to_string(y_pred.size()) + ")");
  require(subjects.empty() || subjects.size() == y_true.size(),
          "subjects and labels differ in length (" + std::to_string(subjects.size()) + " vs " +
              std::to_string(y_true.size()) + ")");
  Metrics m;
  const std::size_t k = num_classes;
  m.count = static_cast<int>(y_true.size());
  m.confusion.assign(k, std::vector<int>(k, 0));
  int correct = 0;
  for (std::size_t i = 0; i < y_true.size(); ++i) {
    require(y_true[i] >= 0 && y_true[i] < num_classes && y_pred[i] >= 0 && y_pred[i] < num_classes,
            "label out of range at sample " + std::to_string(i));
    ++m.confusion[y_true[i]][y_pred[i]];
    correct += y_true[i] == y_pred[i];
  }
  m.accuracy = m.count ? static_cast<double>(correct) / m.count : 0.0;
  m.recall.assign(k, 0);
  m.precision.assign(k, 0);
  m.f1.assign(k, 0);
  int present = 0;
  double recall_sum = 0, f1_weighted = 0;
  for (std::size_t c = 0; c < k; ++c) {
    int support = 0, predicted = 0;
    for (std::size_t j = 0; j < k; ++j) {
      support += m.confusion[c][j];
      predicted += m.confusion[j][c];
    }
    const int tp = m.confusion[c][c];
    m.recall[c] = support ? static_cast<double>(tp) / support : 0.0;
    m.precision[c] = predicted ? static_cast<double>(tp) / predicted : 0.0;
    const double pr = m.precision[c] + m.recall[c];
    m.f1[c] = pr > 0 ? 2 * m.precision[c] * m.recall[c] / pr : 0.0;
    if (support) {
      ++present;
      recall_sum += m.recall[c];
      f1_weighted += m.f1[c] * support;
    }
  }
  m.balanced_accuracy = present ? recall_sum / present : 0.0;
  m.weighted_f1 = m.count ? f1_weighted / m.count : 0.0;

  if (!subjects.empty()) {
    std::map<std::string, std::pair<SubjectScore, std::vector<int>>> by;
    for (std::size_t i = 0; i < subjects.size(); ++i) {
      auto& [s, votes] = by[subjects[i]];
      s.subject = subjects[i];
      ++s.count;
      s.correct += y_true[i] == y_pred[i];
      votes.resize(k, 0);
      ++votes[y_true[i]];
    }
    for (auto& [id, entry] : by) {
      auto& [s, votes] = entry;
      s.label = 0;
      for (std::size_t c = 1; c < k; ++c)
        if (votes[c] > votes[s.label]) s.label = static_cast<int>(c);
      m.subjects.push_back(s);
    }
  }
  return m;
}

nlohmann::json to_json(const Metrics& m, const std::vector<std::string>& names) {
  nlohmann::json j;
  j["count"] = m.count;
  j["accuracy"] = m.accuracy;
  j["balanced_accuracy"] = m.balanced_accuracy;
  j["weighted_f1"] = m.weighted_f1;
  j["confusion"] = m.confusion;
  j["confusion_axes"] = "rows: true class, columns: predicted class";
  nlohmann::json per = nlohmann::json::array();
  for (std::size_t c = 0; c < m.recall.size(); ++c)
    per.push_back({{"class", c < names.size() ? names[c] : std::to_string(c)},
                   {"recall", m.recall[c]},
                   {"precision", m.precision[c]},
                   {"f1", m.f1[c]}});
  j["per_class"] = per;
  if (!m.subjects.empty()) {
    nlohmann::json subs = nlohmann::json::array();
    for (const auto& s : m.subjects)
      subs.push_back({{"subject", s.subject},
                      {"label", s.label >= 0 && static_cast<std::size_t>(s.label) < names.size()
                                    ? names[s.label] : std::to_string(s.label)},
                      {"count", s.count},
                      {"accuracy", s.accuracy()}});
    j["per_subject"] = subs;
  }
  return j;
}

std::string summary_line(const Metrics& m) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "acc %.4f  bal.acc %.4f  wF1 %.4f  (n=%d)", m.accuracy, m.balanced_accuracy,
                m.weighted_f1, m.count);
  return buf;
}

}  // namespace leukocrypt::train
