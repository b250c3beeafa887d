// Google Benchmark for the nn pipeline pieces that are not BFV ops (those are in bench/he):
// collapsing, quantisation choice, plan lowering, parameter selection and the raw backend on
// real C-NMC cells (preprocessed exactly as `leukocrypt prepare` does).
#include <benchmark/benchmark.h>

#include <fstream>
#include <random>
#include <sstream>

#include "data/image.h"
#include "nn/backend.h"
#include "nn/model.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "random_layer.h"

namespace {

using namespace leukocrypt;
using namespace leukocrypt::nn;

// N(0, 0.2) weights and biases: the benchmarks time the pipeline, not a trained model.
Layer weighted(LayerKind kind, int in, int out, int k, int stride, int pad, std::mt19937& rng) {
  return bench::random_layer(kind, in, out, k, stride, pad, 0.2f, 1.0f, rng);
}

Model cnmc_model() {
  std::mt19937 rng(1);
  Model m;
  m.name = "bench-cnmc";
  m.input = {3, 32, 32};
  Layer sq, pool, flat;
  sq.kind = LayerKind::kSquare;
  pool.kind = LayerKind::kMeanPool2d;
  pool.kernel_h = pool.kernel_w = 3;
  pool.stride = 1;
  pool.padding = 1;
  flat.kind = LayerKind::kFlatten;
  m.layers = {weighted(LayerKind::kConv2d, 3, 5, 5, 2, 1, rng), sq, pool, weighted(LayerKind::kConv2d, 5, 8, 3, 2, 0, rng),
              weighted(LayerKind::kConv2d, 8, 10, 3, 1, 0, rng), sq, flat, weighted(LayerKind::kDense, 250, 16, 0, 1, 0, rng),
              weighted(LayerKind::kDense, 16, 2, 0, 1, 0, rng)};
  return m;
}

const std::vector<std::vector<std::uint8_t>>& cells() {
  static const auto c = [] {
    std::vector<std::vector<std::uint8_t>> out;
    const std::string root = std::string(LEUKOCRYPT_DATA_DIR) + "/cnmc-fold1-225/";
    std::ifstream manifest(root + "MANIFEST.tsv");
    std::string line;
    std::getline(manifest, line);
    while (out.size() < 256 && std::getline(manifest, line)) {
      std::istringstream is(line);
      std::string file;
      is >> file;
      out.push_back(data::preprocess_image(root + file));
    }
    return out;
  }();
  return c;
}

void BM_Collapse(benchmark::State& st) {
  auto m = cnmc_model();
  for (auto _ : st) benchmark::DoNotOptimize(collapse_linear(m));
}
BENCHMARK(BM_Collapse)->Unit(benchmark::kMillisecond);

void BM_QuantizeAndLower(benchmark::State& st) {
  auto c = collapse_linear(cnmc_model());
  for (auto _ : st) benchmark::DoNotOptimize(lower(quantize(c)));
}
BENCHMARK(BM_QuantizeAndLower)->Unit(benchmark::kMillisecond);

void BM_ChooseParams(benchmark::State& st) {
  auto q = quantize(collapse_linear(cnmc_model()));
  auto plan = lower(q);
  ParamsRequest req;
  req.bits_needed = worst_case_bound(q).output_bits;
  req.images = 1200;
  for (auto _ : st) benchmark::DoNotOptimize(choose_params(plan, req));
}
BENCHMARK(BM_ChooseParams)->Unit(benchmark::kMillisecond);

void BM_RawBackend256Cells(benchmark::State& st) {
  auto plan = lower(quantize(collapse_linear(cnmc_model())));
  std::vector<const std::uint8_t*> imgs;
  for (const auto& c : cells()) imgs.push_back(c.data());
  auto raw = make_raw_backend();
  for (auto _ : st) benchmark::DoNotOptimize(raw->run(plan, imgs));
  st.SetItemsProcessed(st.iterations() * std::int64_t(imgs.size()));
}
BENCHMARK(BM_RawBackend256Cells)->Unit(benchmark::kMillisecond);

void BM_FloatBackend256Cells(benchmark::State& st) {
  auto plan = lower(quantize(collapse_linear(cnmc_model())));
  std::vector<const std::uint8_t*> imgs;
  for (const auto& c : cells()) imgs.push_back(c.data());
  auto fl = make_float_backend();
  for (auto _ : st) benchmark::DoNotOptimize(fl->run(plan, imgs));
  st.SetItemsProcessed(st.iterations() * std::int64_t(imgs.size()));
}
BENCHMARK(BM_FloatBackend256Cells)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
