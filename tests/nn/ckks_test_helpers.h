// Shared by the ckks backend tests: the plans of the shipped models, real group-C cells (prepared
// once per test process) and the agreement of two backends' logits.
#pragma once

#include <algorithm>
#include <cmath>
#include <string>

#include "nn/evaluate.h"
#include "nn/model.h"
#include "nn/plan.h"
#include "nn/quantize.h"
#include "../train/cnmc_helpers.h"

namespace leukocrypt::nn::testing {

inline Plan plan_of(const std::string& model_file) {
  auto collapsed = collapse_linear(load_model(std::string(LEUKOCRYPT_SOURCE_DIR) + "/models/" + model_file));
  return lower(quantize(collapsed));  // only the float rows (f_*) matter for CKKS
}

// Real group-C cells (32x32), prepared once per test process.
inline const EvalSet& group_c() {
  static const EvalSet set = [] {
    const auto dir = train::testing::fresh_temp_dir("lc_ckks_test");
    auto prepared = train::testing::prepare_cnmc32(dir);
    auto s = load_eval_set(prepared, "C", 0, Shape{3, 32, 32});
    return s;
  }();
  return set;
}

struct Agreement {
  std::size_t argmax_mismatches = 0;
  double max_error = 0;
};

inline Agreement compare(const BatchOutput& enc, const BatchOutput& ref) {
  Agreement a;
  for (std::size_t k = 0; k < ref.images; ++k) {
    a.argmax_mismatches += enc.predicted(k) != ref.predicted(k) ? 1 : 0;
    for (std::size_t o = 0; o < ref.outputs; ++o)
      a.max_error = std::max(a.max_error, std::fabs(enc.logits[k * ref.outputs + o] - ref.logits[k * ref.outputs + o]));
  }
  return a;
}

}  // namespace leukocrypt::nn::testing
