// Set-up shared by the training-module tests (train_test, quantize_choice_test): the real C-NMC
// fold prepared once per test suite into a per-process temporary folder.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "data/prepare.h"

namespace leukocrypt::train::testing {

// "<tmp>/<name>_<pid>", emptied: one folder per test process, so parallel CTest runs never share it.
inline std::filesystem::path fresh_temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir;
}

// Prepares the real cells (32x32, patient groups A/B/C from SPLITS.tsv, C on the test side) into
// dir/cnmc32 and returns that folder, ready for data::load_dataset.
inline std::filesystem::path prepare_cnmc32(const std::filesystem::path& dir) {
  const auto fold = std::filesystem::path(LEUKOCRYPT_DATA_DIR) / "cnmc-fold1-225";
  data::PrepareOptions o;
  o.input = fold;
  o.out = dir / "cnmc32";
  o.split.splits_file = fold / "SPLITS.tsv";
  o.split.test_group = "C";
  o.progress = false;
  data::prepare_dataset(o);
  return o.out;
}

}  // namespace leukocrypt::train::testing
