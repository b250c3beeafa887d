// Contract: a prepared dataset directory (written by `leukocrypt prepare`, read by train/eval).
// Layout of <dir>:
//   dataset.json   format_version, image size S, channels 3, crop window, label names
//                  (0 = "all" = ALL/cancer, 1 = "hem" = normal; the paper's convention),
//                  split description (kind patient|random, groups, test group, seed, fraction), counts
//   images.bin     every cell, CIFAR-10 binary records: 1 label byte + 3*S*S bytes planar R,G,B
//   manifest.tsv   index, source file, subject, label, group, split(train|test) — one row per record
//   train.bin / test.bin, train.tsv / test.tsv   the chosen split (CIFAR-10 bin and CryptoNets TSV:
//                  label then 3*S*S values, channel-major)
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace leukocrypt::data {

inline constexpr int kLabelAll = 0;  // ALL (malignant blast)
inline constexpr int kLabelHem = 1;  // normal (hem)

struct Record {
  std::vector<std::uint8_t> pixels;  // 3*S*S, planar R,G,B (CHW), 0..255
  int label = 0;                     // kLabelAll or kLabelHem
  std::string source;                // original file (relative to the input folder)
  std::string subject;               // subject id from UID_<subject>_..., e.g. "16", "H10"
  std::string group;                 // patient group (A/B/C from SPLITS.tsv or automatic); "" if none
  std::string split;                 // "train" or "test"
};

struct Dataset {
  int image_size = 32;  // S
  int channels = 3;
  std::vector<std::string> label_names{"all", "hem"};
  std::string split_kind;           // "patient" or "random"
  std::vector<std::string> groups;  // sorted distinct groups (patient split), e.g. {"A","B","C"}
  std::string test_group;           // patient split: the group on the test side of train/test files
  double window = 0;                // crop window (fraction of the frame) the images were made with
  std::vector<Record> records;      // manifest order

  std::size_t pixels_per_image() const { return static_cast<std::size_t>(channels) * image_size * image_size; }
  // Records whose split == name ("train"/"test"), or whose group == name when name is a group.
  std::vector<const Record*> select(const std::string& name) const;
};

// Loads <dir>/dataset.json + images.bin + manifest.tsv with full validation; throws FormatError/IoError.
Dataset load_dataset(const std::filesystem::path& dir);

}  // namespace leukocrypt::data
