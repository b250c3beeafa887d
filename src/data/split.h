// Train/test splits of prepared records: patient-disjoint groups (from a SPLITS.tsv or balanced
// automatically) or the paper's random 80/20 (stratified by class; leaks patients across sides).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace leukocrypt::data {

struct SplitOptions {
  std::string kind = "patient";       // "patient" | "random"
  std::filesystem::path splits_file;  // patient: SPLITS.tsv (subject<TAB>group); empty = automatic
  int groups = 3;                     // patient, automatic: number of groups (named A, B, C, ...)
  std::string test_group;             // patient: group on the test side; "" = the last group
  double test_fraction = 0.2;         // random
  std::uint64_t seed = 1;             // random
  void validate() const;              // throws InvalidArgument naming the bad option
};

struct SplitInfo {
  std::string kind;                                // "patient" | "random"
  std::string group_source;                        // SPLITS.tsv path, "automatic", or "" (random)
  std::vector<std::string> groups;                 // sorted, patient only
  std::string test_group;                          // patient only
  std::map<std::string, std::string> subject_group;  // patient only
  double test_fraction = 0;                        // random only
  std::uint64_t seed = 0;                          // random only
};

// subject -> group from a SPLITS.tsv (optional header `subject<TAB>group`, '#' comments);
// throws FormatError naming the file and line on malformed or contradictory rows.
std::map<std::string, std::string> read_splits_tsv(const std::filesystem::path& path);

// Balanced automatic grouping: subjects, largest first, each into the group that holds the fewest
// cells of the subject's majority class (ties: fewest cells, then first group). Deterministic.
// `counts` maps subject -> {cells of label 0, cells of label 1}. Throws if groups > subjects.
std::map<std::string, std::string> auto_groups(const std::map<std::string, std::array<std::size_t, 2>>& counts,
                                               int groups);

// Sets Record::group and Record::split on every record. Never puts a subject on both sides of a
// patient split. Throws FormatError if a subject is missing from SPLITS.tsv, InvalidArgument for
// an unknown test group or a split that leaves one side empty.
SplitInfo assign_split(std::vector<Record>& records, const SplitOptions& options);

}  // namespace leukocrypt::data
