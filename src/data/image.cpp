// Image decoding (OpenCV) and the crop + exact area-average resampler.
#include "data/image.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstring>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "common/paths.h"

namespace leukocrypt::data {

namespace {

constexpr std::size_t kMaxImageFileBytes = std::size_t(256) << 20;
constexpr std::uint64_t kMaxImageSide = 1u << 15;
constexpr std::uint64_t kMaxImagePixels = std::uint64_t(1) << 26;  // 67 Mpx: cells are ~0.2 Mpx

std::string lower_ext(const std::filesystem::path& p) {
  std::string e = p.extension().string();
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

bool starts_with(const std::string& s, std::initializer_list<unsigned char> magic) {
  if (s.size() < magic.size()) return false;
  std::size_t i = 0;
  for (unsigned char m : magic)
    if (static_cast<unsigned char>(s[i++]) != m) return false;
  return true;
}

// True if `marker` occurs in the last 4 KiB (writers may append a few bytes after the end marker).
bool ends_near(const std::string& s, const std::string& marker) {
  const std::size_t from = s.size() > 4096 ? s.size() - 4096 : 0;
  return s.find(marker, from) != std::string::npos;
}

// Weights of the source samples covering each of `n_out` output cells that split the interval
// [origin, origin + extent) evenly: the exact box (area) average, including fractional edges.
struct Tap {
  int index;
  float weight;
};
std::vector<std::vector<Tap>> area_taps(double origin, double extent, int n_out, int n_src) {
  std::vector<std::vector<Tap>> taps(n_out);
  const double step = extent / n_out;
  for (int i = 0; i < n_out; ++i) {
    const double a = origin + i * step, b = origin + (i + 1) * step;
    int first = std::max(0, static_cast<int>(std::floor(a)));
    int last = std::min(n_src - 1, static_cast<int>(std::ceil(b)) - 1);
    double total = 0;
    for (int k = first; k <= last; ++k) {
      double w = std::min<double>(b, k + 1) - std::max<double>(a, k);
      if (w <= 1e-12) continue;
      taps[i].push_back({k, static_cast<float>(w)});
      total += w;
    }
    for (auto& t : taps[i]) t.weight = static_cast<float>(t.weight / total);
  }
  return taps;
}

std::uint32_t le32(const std::string& s, std::size_t off) {
  return std::uint32_t(static_cast<unsigned char>(s[off])) | std::uint32_t(static_cast<unsigned char>(s[off + 1])) << 8 |
         std::uint32_t(static_cast<unsigned char>(s[off + 2])) << 16 |
         std::uint32_t(static_cast<unsigned char>(s[off + 3])) << 24;
}

std::uint32_t be32(const std::string& s, std::size_t off) {
  return std::uint32_t(static_cast<unsigned char>(s[off])) << 24 | std::uint32_t(static_cast<unsigned char>(s[off + 1])) << 16 |
         std::uint32_t(static_cast<unsigned char>(s[off + 2])) << 8 | std::uint32_t(static_cast<unsigned char>(s[off + 3]));
}

// A header claiming a huge frame would make the decoder allocate gigabytes before failing.
void check_dimensions(std::uint64_t w, std::uint64_t h, const std::string& name) {
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
    throw FormatError("image '" + name + "' claims " + std::to_string(w) + "x" + std::to_string(h) +
                      " pixels, more than the limit of " + std::to_string(kMaxImageSide) + " per side / " +
                      std::to_string(kMaxImagePixels) + " in all");
}

// Cheap structural checks before decoding, so a truncated file gets a precise message (and the
// codec libraries do not print their own warnings): a PNG ends with its IEND chunk, a BMP is as
// long as its header says, a JPEG ends with its end-of-image marker (libjpeg would otherwise pad
// a truncated file grey and only warn).
void check_complete(const std::string& b, const std::string& name) {
  if (starts_with(b, {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) {
    if (b.size() >= 24) check_dimensions(be32(b, 16), be32(b, 20), name);  // IHDR width, height
    if (!ends_near(b, std::string("IEND\xAE\x42\x60\x82", 8)))
      throw FormatError("image '" + name + "' is a truncated PNG (no IEND chunk at the end; " +
                        std::to_string(b.size()) + " bytes)");
  } else if (starts_with(b, {'B', 'M'})) {
    if (b.size() < 54) throw FormatError("image '" + name + "' is a truncated BMP (" + std::to_string(b.size()) + " bytes)");
    const auto height = static_cast<std::int32_t>(le32(b, 22));  // negative: top-down rows
    check_dimensions(le32(b, 18), height < 0 ? 0u - static_cast<std::uint32_t>(height) : std::uint32_t(height), name);
    const std::uint32_t declared = le32(b, 2);
    if (declared != 0 && b.size() < declared)
      throw FormatError("image '" + name + "' is a truncated BMP (" + std::to_string(b.size()) + " of " +
                        std::to_string(declared) + " bytes)");
  } else if (starts_with(b, {0xFF, 0xD8, 0xFF})) {
    if (!ends_near(b, "\xFF\xD9")) throw FormatError("image '" + name + "' is a truncated JPEG (no end-of-image marker)");
  }
}

}  // namespace

void PreprocessOptions::validate() const {
  require(std::isfinite(window) && window > 0.0 && window <= 1.0,
          "--window must be in (0, 1] (fraction of the frame), got " + std::to_string(window));
  require(size >= 1 && size <= kMaxImageSize,
          "--size must be in [1, " + std::to_string(kMaxImageSize) + "], got " + std::to_string(size));
}

bool is_image_file(const std::filesystem::path& path) {
  static const std::array<const char*, 6> kExts{".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff"};
  const std::string e = lower_ext(path);
  return std::any_of(kExts.begin(), kExts.end(), [&](const char* x) { return e == x; });
}

cv::Mat decode_image_rgb(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw FormatError("image '" + name + "' is empty (0 bytes)");
  check_complete(bytes, name);
  cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<char*>(bytes.data()));
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw FormatError("image '" + name + "' is corrupt: " + e.what());
  }
  if (bgr.empty() || bgr.type() != CV_8UC3)
    throw FormatError("image '" + name + "' is truncated, corrupt or not a BMP/PNG/JPG/TIFF image (" +
                      std::to_string(bytes.size()) + " bytes)");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

cv::Mat load_image_rgb(const std::filesystem::path& path) {
  return decode_image_rgb(read_file(path, kMaxImageFileBytes), path.string());
}

std::vector<std::uint8_t> preprocess_image(const cv::Mat& rgb, const PreprocessOptions& options) {
  options.validate();
  require(!rgb.empty() && rgb.type() == CV_8UC3,
          "preprocess_image needs a non-empty 8-bit 3-channel RGB image");
  const int w = rgb.cols, h = rgb.rows, s = options.size;
  // Steps: (1) a square window of `window` x the shorter side, centred (fractional origin
  // allowed, so 225-px and 450-px copies cover the same physical area); (2) separable exact
  // area average: horizontal taps on the rows the window touches, then vertical taps.
  const double side = options.window * std::min(w, h);
  require(side >= 1.0, "crop window " + std::to_string(options.window) + " of a " + std::to_string(w) + "x" +
                           std::to_string(h) + " image is smaller than one pixel");
  const auto tx = area_taps((w - side) / 2.0, side, s, w);
  const auto ty = area_taps((h - side) / 2.0, side, s, h);
  const int y_first = ty.front().front().index, y_last = ty.back().back().index;
  const int rows = y_last - y_first + 1;
  std::vector<float> horiz(static_cast<std::size_t>(rows) * s * 3, 0.0f);  // [row][j][c]
  for (int y = y_first; y <= y_last; ++y) {
    const std::uint8_t* src = rgb.ptr<std::uint8_t>(y);
    float* dst = &horiz[static_cast<std::size_t>(y - y_first) * s * 3];
    for (int j = 0; j < s; ++j) {
      float acc[3] = {0, 0, 0};
      for (const Tap& t : tx[j]) {
        const std::uint8_t* p = src + 3 * t.index;
        acc[0] += t.weight * p[0];
        acc[1] += t.weight * p[1];
        acc[2] += t.weight * p[2];
      }
      dst[3 * j] = acc[0];
      dst[3 * j + 1] = acc[1];
      dst[3 * j + 2] = acc[2];
    }
  }
  const std::size_t plane = static_cast<std::size_t>(s) * s;
  std::vector<std::uint8_t> out(3 * plane);
  for (int i = 0; i < s; ++i) {
    for (int j = 0; j < s; ++j) {
      float acc[3] = {0, 0, 0};
      for (const Tap& t : ty[i]) {
        const float* p = &horiz[(static_cast<std::size_t>(t.index - y_first) * s + j) * 3];
        acc[0] += t.weight * p[0];
        acc[1] += t.weight * p[1];
        acc[2] += t.weight * p[2];
      }
      for (int c = 0; c < 3; ++c) {
        float v = std::nearbyint(acc[c]);
        out[c * plane + static_cast<std::size_t>(i) * s + j] =
            static_cast<std::uint8_t>(std::clamp(v, 0.0f, 255.0f));
      }
    }
  }
  return out;
}

std::vector<std::uint8_t> preprocess_image(const std::filesystem::path& path, const PreprocessOptions& options) {
  options.validate();
  return preprocess_image(load_image_rgb(path), options);
}

}  // namespace leukocrypt::data
