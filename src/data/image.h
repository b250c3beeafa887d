// Image loading and the one preprocessing every path shares (prepare, the client's encrypt):
// decode any BMP/PNG/JPG/TIFF to 8-bit RGB, crop a fixed physical window centred in the frame,
// and area-average it to S x S planar R,G,B. The window is a fraction of the frame, so a 225-px
// copy of a 450-px original sees the same field of view; cells are never rescaled one by one
// (blast size is diagnostic).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace leukocrypt::data {

// 320/450 of the frame: the C-NMC cells are 155-257 px wide in the 450 px originals, so this
// window keeps 95% of cells whole while the paper's 100x100 crop would cut most of them.
inline constexpr double kDefaultWindow = 320.0 / 450.0;
inline constexpr int kDefaultImageSize = 32;
inline constexpr int kMaxImageSize = 1024;

struct PreprocessOptions {
  double window = kDefaultWindow;  // side of the centred square window / shorter side of the frame, (0, 1]
  int size = kDefaultImageSize;    // S: output is 3*S*S bytes
  void validate() const;           // throws InvalidArgument naming the bad option
};

// Decodes an image file to an 8-bit, 3-channel RGB cv::Mat (grey and alpha inputs are converted).
// Throws IoError if the file cannot be read, FormatError (naming the file) if it is truncated,
// corrupt or not an image.
cv::Mat load_image_rgb(const std::filesystem::path& path);
// Same for bytes already in memory (`name` is used in error messages).
cv::Mat decode_image_rgb(const std::string& bytes, const std::string& name);

// Crop + exact area average of an RGB (CV_8UC3, R,G,B order) image to 3*S*S planar R,G,B bytes.
std::vector<std::uint8_t> preprocess_image(const cv::Mat& rgb, const PreprocessOptions& options = {});
// load_image_rgb + preprocess_image.
std::vector<std::uint8_t> preprocess_image(const std::filesystem::path& path,
                                           const PreprocessOptions& options = {});

// True for the extensions prepare reads: .bmp .png .jpg .jpeg .tif .tiff (any case).
bool is_image_file(const std::filesystem::path& path);

}  // namespace leukocrypt::data
