// Training reports on disk: per-epoch history as CSV and as PNG curves drawn by gnuplot (like the
// paper's Figs. 4-9: accuracy and loss, training and validation, per epoch).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "train/trainer.h"

namespace leukocrypt::train {

// Columns: epoch,train_loss,train_acc,val_loss,val_acc,val_balanced_acc,lr,seconds.
void write_history_csv(const std::filesystem::path& path, const std::vector<EpochStats>& history);

// Two panels (accuracy, loss) from a history CSV. Returns false (and writes nothing) when gnuplot
// is not installed; throws IoError when gnuplot fails.
bool plot_history(const std::filesystem::path& csv, const std::filesystem::path& png, const std::string& title);

// Validation accuracy of several runs in one panel: one CSV per series (history format).
struct Series {
  std::string name;
  std::filesystem::path csv;
};
bool plot_series(const std::vector<Series>& series, const std::filesystem::path& png, const std::string& title);

bool gnuplot_available();

}  // namespace leukocrypt::train
