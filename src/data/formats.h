// On-disk record formats of a prepared dataset: CIFAR-10 binary (1 label byte + 3*S*S planar
// R,G,B bytes per record), CryptoNets TSV (one line per image: label, then 3*S*S values
// channel-major, tab-separated) and the manifest (index, source, subject, label, group, split).
// Readers validate sizes, ranges and field counts and throw FormatError naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace leukocrypt::data {

inline constexpr std::size_t kMaxRecords = std::size_t(1) << 24;

// A label and its pixels; what .bin and .tsv files carry.
struct Sample {
  int label = 0;
  std::vector<std::uint8_t> pixels;  // 3*S*S planar R,G,B
};

std::string encode_cifar(const std::vector<const Record*>& records, int image_size);
void write_cifar_bin(const std::filesystem::path& path, const std::vector<const Record*>& records, int image_size);
// Labels must be < num_labels (2 for C-NMC, 10 for CIFAR-10 itself).
std::vector<Sample> read_cifar_bin(const std::filesystem::path& path, int image_size, int num_labels = 2);

std::string encode_tsv(const std::vector<const Record*>& records, int image_size);
void write_tsv(const std::filesystem::path& path, const std::vector<const Record*>& records, int image_size);
std::vector<Sample> read_tsv(const std::filesystem::path& path, int image_size, int num_labels = 2);

// Manifest: header `index source subject label group split`, one row per record, manifest order.
void write_manifest(const std::filesystem::path& path, const std::vector<Record>& records);
// Returns records with everything but pixels filled in.
std::vector<Record> read_manifest(const std::filesystem::path& path);

// Writes bytes to a file (not atomic: prepare makes the whole directory atomic); throws IoError.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

}  // namespace leukocrypt::data
