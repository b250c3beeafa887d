// Shared by the end-to-end and soak tests: the nn tests' tiny network saved as a model file, its
// quantised plan, and parameters for it at N = 256 (INSECURE, named so: fast jobs) and, on request,
// automatic 128-bit parameters (throughput layout), INSECURE latency parameters, or INSECURE CKKS
// parameters (N = 1024). Files are written into `dir`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "common/paths.h"
#include "nn/ckks_settings.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "test_models.h"

namespace leukocrypt::testing {

struct TinySetup {
  std::filesystem::path model, params;  // params: INSECURE N = 256
  nn::Plan plan;
  nn::QuantizeOptions quantize;
  int bits_needed = 0;

  explicit TinySetup(const std::filesystem::path& dir) {
    auto m = nn::testing::tiny_model();
    model = dir / "tiny.lkm";
    nn::save_model(m, model);
    quantize.weight_max = {15, 7, 7};
    auto q = nn::quantize(nn::collapse_linear(m), quantize);
    plan = nn::lower(q);
    bits_needed = nn::worst_case_bound(q).output_bits;
    nn::ParamsRequest req;
    req.bits_needed = bits_needed;
    req.n = 256;
    req.q_bits = {50, 50, 50, 50, 50, 50, 50};
    req.insecure_for_tests = true;
    params = write_params(dir / "params-insecure-test.json", req);
  }
  // 128-bit parameters chosen automatically for `images` cells.
  std::filesystem::path secure_params(const std::filesystem::path& path, std::size_t images) const {
    nn::ParamsRequest req;
    req.bits_needed = bits_needed;
    req.images = images;
    req.layout = nn::Layout::kThroughput;  // these tests use the CryptoNets packing (latency: latency_e2e_test)
    return write_params(path, req);
  }
  // INSECURE N = 256 throughput parameters with `blocks` spatial blocks (block_layout.h).
  std::filesystem::path insecure_blocked_params(const std::filesystem::path& path, std::size_t blocks) const {
    auto req = insecure_request(256, nn::Layout::kThroughput);
    req.blocks = blocks;
    return write_params(path, req);
  }
  // INSECURE N = 2048 parameters chosen for the latency layout (a 3x16x16 cell fits N/2 slots).
  std::filesystem::path insecure_latency_params(const std::filesystem::path& path) const {
    return write_params(path, insecure_request(2048, nn::Layout::kLatency));
  }
  // INSECURE parameters at ring degree n, 8 x 50-bit primes, for one layout.
  nn::ParamsRequest insecure_request(std::size_t n, nn::Layout layout) const {
    nn::ParamsRequest req;
    req.bits_needed = bits_needed;
    req.n = n;
    req.q_bits = {50, 50, 50, 50, 50, 50, 50, 50};
    req.insecure_for_tests = true;
    req.layout = layout;
    return req;
  }
  // INSECURE N = 1024 CKKS parameters for `serve --scheme ckks`, chosen by the precision model from
  // the slot magnitudes of `images` (3x16x16 planar pixels), written as `params --scheme ckks` does.
  std::filesystem::path insecure_ckks_params(const std::filesystem::path& path,
                                             const std::vector<const std::uint8_t*>& images,
                                             double target_error = 1e-2) const {
    nn::CkksChoiceOptions co;
    co.target_error = target_error;
    co.insecure_for_tests = true;
    const auto s = nn::choose_ckks_settings(plan, nn::plan_magnitudes(plan, images), co);
    nlohmann::json j{{"format", "leukocrypt-params"}, {"version", 1},         {"scheme", "ckks"},
                     {"input_scale", double(plan.input_scale)},              {"ckks", s.to_json()},
                     {"quantization", quantize.to_json()}};
    write_file_atomic(path, j.dump(2));
    return path;
  }

 private:
  std::filesystem::path write_params(const std::filesystem::path& path, const nn::ParamsRequest& req) const {
    auto j = nn::choose_params(plan, req).to_json();
    j["quantization"] = quantize.to_json();
    write_file_atomic(path, j.dump(2));
    return path;
  }
};

}  // namespace leukocrypt::testing
