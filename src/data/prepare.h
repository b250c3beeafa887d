// `leukocrypt prepare` as a library call: discover cells, preprocess them in parallel, split,
// and write a dataset directory atomically (temporary sibling directory, renamed at the end).
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/timer.h"
#include "data/dataset.h"
#include "data/discover.h"
#include "data/image.h"
#include "data/split.h"

namespace leukocrypt::data {

struct PrepareOptions {
  std::filesystem::path input;
  std::filesystem::path out;
  Layout layout = Layout::kAuto;
  PreprocessOptions preprocess;
  SplitOptions split;
  bool skip_bad = false;  // skip unreadable/corrupt/misnamed files and empty class folders, count them
  bool force = false;     // replace an existing output directory
  bool progress = true;   // progress bar on stderr when it is a terminal
};

struct PrepareSummary {
  std::filesystem::path out;
  Layout layout = Layout::kCnmc;
  std::size_t total = 0, train = 0, test = 0;
  std::array<std::size_t, 2> per_label{0, 0};
  std::map<std::string, std::array<std::size_t, 2>> per_subject;  // subject -> {all, hem}
  std::map<std::string, std::array<std::size_t, 2>> per_group;    // patient split only
  SplitInfo split;
  std::vector<BadInput> skipped;
  std::size_t ignored_non_images = 0;
  double seconds = 0;
  StageTimes stages;  // discover, decode+preprocess, split, write (wall seconds)
  nlohmann::json to_json() const;
  std::string to_text() const;  // the human-readable summary the CLI prints
};

// Throws IoError if `out` exists and !force (checked before any work), and any error from
// discovery/decoding/splitting unless skip_bad covers it. On failure nothing is left at `out`
// (an existing directory there is untouched) and the temporary directory is removed.
PrepareSummary prepare_dataset(const PrepareOptions& options);

// The dataset.json document for a prepared dataset.
nlohmann::json dataset_metadata(const PrepareOptions& options, const PrepareSummary& summary);

}  // namespace leukocrypt::data
