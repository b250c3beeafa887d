// Image decoding and the crop + area-resize preprocessing, on the real C-NMC originals.
#include "data/image.h"

#include <random>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/error.h"
#include "test_util.h"

namespace leukocrypt::data {
namespace {

using namespace test;

std::vector<std::uint8_t> to_planar(const cv::Mat& rgb) {
  const int s = rgb.rows;
  std::vector<std::uint8_t> out(3 * s * s);
  for (int y = 0; y < s; ++y)
    for (int x = 0; x < s; ++x)
      for (int c = 0; c < 3; ++c) out[c * s * s + y * s + x] = rgb.at<cv::Vec3b>(y, x)[c];
  return out;
}

int max_abs_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  int m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(int(a[i]) - int(b[i])));
  return m;
}

double mean_abs_diff(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += std::abs(int(a[i]) - int(b[i]));
  return s / a.size();
}

TEST(DataImage, AllTwelveOriginalsLoadAs450x450Rgb) {
  auto files = original_bmps();
  ASSERT_EQ(files.size(), 12u);
  for (const auto& f : files) {
    cv::Mat m = load_image_rgb(f);
    EXPECT_EQ(m.rows, 450) << f;
    EXPECT_EQ(m.cols, 450) << f;
    EXPECT_EQ(m.type(), CV_8UC3) << f;
    // Stained cells are purple: red and blue above green at the centre (catches a BGR mix-up).
    cv::Scalar mean = cv::mean(m(cv::Rect(200, 200, 50, 50)));
    EXPECT_GT(mean[0], mean[1]) << f;
    EXPECT_GT(mean[2], mean[1]) << f;
    // Background is black.
    EXPECT_LT(cv::mean(m(cv::Rect(0, 0, 10, 10)))[0], 10) << f;
  }
}

TEST(DataImage, PreprocessGivesPlanarSxS) {
  auto px = preprocess_image(original_bmps()[0]);
  EXPECT_EQ(px.size(), 3u * 32 * 32);
  PreprocessOptions o;
  o.size = 16;
  EXPECT_EQ(preprocess_image(original_bmps()[0], o).size(), 3u * 16 * 16);
}

// Tolerance: max 5 grey levels per value, mean absolute difference < 0.35 (measured on the 12
// cells: max 2-4, mean 0.11-0.25). Two causes: the 225-px PNGs are 2x box downsamples rounded to
// 8 bits, and the default window starts at x = 65 of 450, i.e. 32.5 of 225, so the 225-px copy's
// half-covered edge pixels blend in a 450-px column outside the window (visible at cell borders).
TEST(DataImage, OriginalAnd225pxCopyAgreeAfterPreprocessing) {
  for (const auto& f : original_bmps()) {
    const std::string stem = f.stem().string();
    const bool hem = stem.size() > 4 && stem.substr(stem.size() - 4) == "_hem";
    const fs::path small = fold225() / (hem ? "hem" : "all") / (stem + ".png");
    ASSERT_TRUE(fs::exists(small)) << small;
    ASSERT_EQ(load_image_rgb(small).rows, 225);
    auto a = preprocess_image(f), b = preprocess_image(small);
    EXPECT_LE(max_abs_diff(a, b), 5) << stem;
    EXPECT_LT(mean_abs_diff(a, b), 0.35) << stem;
  }
}

// With an integer-aligned window (65 + 320 px, 10x10 blocks) our resampler is OpenCV INTER_AREA.
TEST(DataImage, MatchesOpenCvInterAreaOnIntegerGrid) {
  for (const auto& f : original_bmps()) {
    cv::Mat rgb = load_image_rgb(f), ref;
    cv::resize(rgb(cv::Rect(65, 65, 320, 320)), ref, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
    EXPECT_LE(max_abs_diff(preprocess_image(rgb), to_planar(ref)), 1) << f;
  }
}

// Fractional scale (225 -> 32, window 1): still the exact area average INTER_AREA computes.
TEST(DataImage, MatchesOpenCvInterAreaOnFractionalScale) {
  cv::Mat rgb = load_image_rgb(fold225() / "all" / "UID_16_11_1_all.png"), ref;
  cv::resize(rgb, ref, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  PreprocessOptions o;
  o.window = 1.0;
  EXPECT_LE(max_abs_diff(preprocess_image(rgb, o), to_planar(ref)), 1);
}

// The same real cell stored as BMP, PNG, TIFF (lossless: identical pixels) and JPEG (close).
TEST(DataImage, ReadsBmpPngTiffJpeg) {
  ScratchDir tmp;
  const cv::Mat rgb = load_image_rgb(originals() / "UID_H10_100_1_hem.bmp");
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  for (const char* ext : {".bmp", ".png", ".tif", ".tiff", ".jpg", ".JPEG"}) {
    const fs::path p = tmp / (std::string("cell") + ext);
    ASSERT_TRUE(cv::imwrite(p.string(), bgr)) << ext;
    cv::Mat back = load_image_rgb(p);
    ASSERT_EQ(back.size(), rgb.size()) << ext;
    const double diff = cv::norm(back, rgb, cv::NORM_L1) / (rgb.total() * 3);
    if (std::string(ext).find('J') != std::string::npos || std::string(ext) == ".jpg")
      EXPECT_LT(diff, 3.0) << ext;
    else
      EXPECT_EQ(diff, 0.0) << ext;
  }
}

TEST(DataImage, GreyInputBecomesThreeEqualChannels) {
  cv::Mat rgb = load_image_rgb(original_bmps()[0]), grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  std::vector<std::uint8_t> png;
  cv::imencode(".png", grey, png);
  cv::Mat back = decode_image_rgb(std::string(png.begin(), png.end()), "grey.png");
  ASSERT_EQ(back.type(), CV_8UC3);
  auto px = preprocess_image(back);
  const std::size_t plane = 32 * 32;
  for (std::size_t i = 0; i < plane; ++i) {
    EXPECT_EQ(px[i], px[plane + i]);
    EXPECT_EQ(px[i], px[2 * plane + i]);
  }
}

TEST(DataImage, OptionsAreValidated) {
  cv::Mat rgb = load_image_rgb(original_bmps()[0]);
  for (double w : {0.0, -0.5, 1.5}) {
    PreprocessOptions o;
    o.window = w;
    EXPECT_THROW(preprocess_image(rgb, o), InvalidArgument) << w;
  }
  PreprocessOptions o;
  o.size = 0;
  EXPECT_THROW(preprocess_image(rgb, o), InvalidArgument);
  o.size = 5000;
  EXPECT_THROW(preprocess_image(rgb, o), InvalidArgument);
}

TEST(DataImage, TruncatedAndCorruptFilesGiveFormatErrorNamingTheFile) {
  ScratchDir tmp;
  const fs::path bmp = tmp / "UID_16_11_1_all.bmp";
  fs::copy_file(originals() / "UID_16_11_1_all.bmp", bmp);
  truncate_file(bmp, fs::file_size(bmp) / 2);
  EXPECT_NE(error_of<FormatError>([&] { load_image_rgb(bmp); }).find(bmp.string()), std::string::npos);

  const fs::path png = tmp / "UID_16_11_1_all.png";
  fs::copy_file(fold225() / "all" / "UID_16_11_1_all.png", png);
  truncate_file(png, fs::file_size(png) / 2);
  EXPECT_NE(error_of<FormatError>([&] { load_image_rgb(png); }).find(png.string()), std::string::npos);

  // A JPEG cut short (libjpeg would silently pad it grey).
  std::vector<std::uint8_t> jpg;
  cv::imencode(".jpg", load_image_rgb(originals() / "UID_16_11_1_all.bmp"), jpg);
  const std::string whole(jpg.begin(), jpg.end());
  EXPECT_NO_THROW(decode_image_rgb(whole, "whole.jpg"));
  EXPECT_THROW(decode_image_rgb(whole.substr(0, whole.size() / 2), "cut.jpg"), FormatError);

  const fs::path junk = tmp / "junk.png";
  std::ofstream(junk) << "this is not an image";
  EXPECT_NE(error_of<FormatError>([&] { load_image_rgb(junk); }).find("junk.png"), std::string::npos);

  const fs::path empty = tmp / "empty.bmp";
  std::ofstream{empty};
  EXPECT_THROW(load_image_rgb(empty), FormatError);
}

// A real PNG / BMP whose header is edited to claim a huge frame is refused before decoding.
TEST(DataImage, HugeClaimedDimensionsAreRefused) {
  std::string png = slurp(fold225() / "all" / "UID_16_11_1_all.png");
  png[16] = 0x7F;  // IHDR width -> ~2^31
  auto msg = error_of<FormatError>([&] { decode_image_rgb(png, "huge.png"); });
  EXPECT_NE(msg.find("huge.png"), std::string::npos) << msg;
  std::string bmp = slurp(originals() / "UID_16_11_1_all.bmp");
  bmp[21] = 0x10;  // width -> 2^28 + 450
  EXPECT_THROW(decode_image_rgb(bmp, "huge.bmp"), FormatError);
}

// Untrusted bytes: real PNG and BMP files with random bytes overwritten or cut at random points
// either decode or throw FormatError; never crash (run under LEUKOCRYPT_SANITIZE too).
TEST(DataImage, MutatedRealImagesNeverCrash) {
  std::mt19937 rng(12345);
  for (const fs::path& f : {fold225() / "hem" / "UID_H10_100_1_hem.png", originals() / "UID_H10_100_1_hem.bmp"}) {
    const std::string orig = slurp(f);
    int decoded = 0, refused = 0;
    for (int trial = 0; trial < 150; ++trial) {
      std::string b = orig;
      if (trial % 3 == 0) {
        b.resize(rng() % b.size());
      } else {
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < flips; ++k) {
          // Mostly headers and early data, where parsers are most fragile.
          std::size_t at = trial % 2 ? rng() % std::min<std::size_t>(b.size(), 256) : rng() % b.size();
          b[at] = static_cast<char>(rng());
        }
      }
      try {
        cv::Mat m = decode_image_rgb(b, "mutated");
        ASSERT_EQ(m.type(), CV_8UC3);
        ++decoded;
      } catch (const FormatError&) {
        ++refused;
      }
    }
    EXPECT_EQ(decoded + refused, 150) << f;
  }
}

TEST(DataImage, UnreadableFileGivesIoError) {
  ScratchDir tmp;
  EXPECT_NE(error_of<IoError>([&] { load_image_rgb(tmp / "missing.png"); }).find("missing.png"), std::string::npos);
  EXPECT_THROW(load_image_rgb(tmp.path()), IoError);  // a folder
}

TEST(DataImage, ImageExtensions) {
  for (const char* n : {"a.bmp", "a.PNG", "a.jpg", "a.JPEG", "a.tif", "a.tiff"}) EXPECT_TRUE(is_image_file(n)) << n;
  for (const char* n : {"a.txt", "a", "a.tsv", "a.bmp.gz"}) EXPECT_FALSE(is_image_file(n)) << n;
}

}  // namespace
}  // namespace leukocrypt::data
