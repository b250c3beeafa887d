// Per-cell cost of prepare's stages on real images: file read + decode, and crop + area resize.
#include <benchmark/benchmark.h>

#include "common/paths.h"
#include "data/image.h"

namespace {

using namespace leukocrypt;

std::filesystem::path data(const char* rel) { return data_dir(LEUKOCRYPT_DATA_DIR) / rel; }

void BM_DecodePng225(benchmark::State& state) {
  const std::string bytes = read_file(data("cnmc-fold1-225/all/UID_16_11_1_all.png"));
  for (auto _ : state) benchmark::DoNotOptimize(data::decode_image_rgb(bytes, "png"));
}
BENCHMARK(BM_DecodePng225)->Unit(benchmark::kMicrosecond);

void BM_DecodeBmp450(benchmark::State& state) {
  const std::string bytes = read_file(data("cnmc-originals/UID_16_11_1_all.bmp"));
  for (auto _ : state) benchmark::DoNotOptimize(data::decode_image_rgb(bytes, "bmp"));
}
BENCHMARK(BM_DecodeBmp450)->Unit(benchmark::kMicrosecond);

// Crop + exact area average to S x S (S = range(0)) from a 225-px and a 450-px frame.
void BM_Preprocess225(benchmark::State& state) {
  const cv::Mat rgb = data::load_image_rgb(data("cnmc-fold1-225/all/UID_16_11_1_all.png"));
  data::PreprocessOptions o;
  o.size = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(data::preprocess_image(rgb, o));
}
BENCHMARK(BM_Preprocess225)->Arg(32)->Arg(64)->Unit(benchmark::kMicrosecond);

void BM_Preprocess450(benchmark::State& state) {
  const cv::Mat rgb = data::load_image_rgb(data("cnmc-originals/UID_16_11_1_all.bmp"));
  data::PreprocessOptions o;
  o.size = static_cast<int>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(data::preprocess_image(rgb, o));
}
BENCHMARK(BM_Preprocess450)->Arg(32)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
