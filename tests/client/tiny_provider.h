// Test helper: the nn tests' tiny network (fixed random weights, 3x16x16 input) saved as a model
// file with the automatic parameter choice at N = 256 — INSECURE, named so, for speed — for the
// tests that run a real `leukocrypt serve` (client end to end, clinic API and browser tests).
#pragma once

#include <filesystem>

#include "common/paths.h"
#include "nn/param_select.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "test_models.h"

namespace leukocrypt::testing {

struct TinyProvider {
  std::filesystem::path model, params;  // tiny.lkm, params-insecure-test.json
  nn::QuantizeOptions quantize;
  nn::Plan plan;
  int bits_needed = 0;
};

inline TinyProvider write_tiny_provider(const std::filesystem::path& dir) {
  TinyProvider t;
  auto m = nn::testing::tiny_model();
  t.model = dir / "tiny.lkm";
  nn::save_model(m, t.model);
  t.quantize.weight_max = {15, 7, 7};
  auto q = nn::quantize(nn::collapse_linear(m), t.quantize);
  t.plan = nn::lower(q);
  t.bits_needed = nn::worst_case_bound(q).output_bits;
  nn::ParamsRequest req;
  req.bits_needed = t.bits_needed;
  req.n = 256;
  req.q_bits = {50, 50, 50, 50, 50, 50, 50};
  req.insecure_for_tests = true;
  auto j = nn::choose_params(t.plan, req).to_json();
  j["quantization"] = t.quantize.to_json();
  t.params = dir / "params-insecure-test.json";
  write_file_atomic(t.params, j.dump(2));
  return t;
}

}  // namespace leukocrypt::testing
