// MNIST in the original idx format, gzip-compressed (train/t10k-{images-idx3,labels-idx1}-ubyte.gz).
// 28x28 grey images, labels 0..9; used for the reference CryptoNets benchmark.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

namespace leukocrypt::data {

struct MnistSet {
  int rows = 0, cols = 0;
  std::vector<std::uint8_t> images;  // count * rows * cols, row-major, 0 = background
  std::vector<std::uint8_t> labels;  // count, 0..9
  std::size_t size() const { return labels.size(); }
};

// Validates magic numbers (0x803 images, 0x801 labels), dimensions, equal counts, exact payload
// sizes and labels < 10; throws IoError / FormatError naming the file. Plain (non-gzip) idx files
// are read too.
MnistSet load_mnist(const std::filesystem::path& images_gz, const std::filesystem::path& labels_gz);

// The decompressed bytes of a gzip (or plain) file, at most max_bytes; throws naming the file.
std::vector<std::uint8_t> read_gzip_file(const std::filesystem::path& path, std::size_t max_bytes);

}  // namespace leukocrypt::data
