// Lowering of a quantised model to the plan of ops.
#include "nn/plan.h"

#include <cmath>
#include <cstdlib>

#include "common/error.h"

namespace leukocrypt::nn {

const char* to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kEncrypt: return "encrypt";
    case OpKind::kLinear: return "linear";
    case OpKind::kSquare: return "square";
    case OpKind::kRelinearize: return "relinearize";
    case OpKind::kModSwitch: return "mod_switch";
    case OpKind::kBlockSum: return "block_sum";
    case OpKind::kDecrypt: return "decrypt";
  }
  return "unknown";
}

namespace {

// Sparse rows of one quantised conv/dense layer, with the float layer's weights alongside.
LinearOp lower_linear(const QuantizedLayer& q, const Layer& f) {
  LinearOp op;
  op.n_in = q.in.size();
  op.n_out = q.out.size();
  op.row_start.push_back(0);
  op.f_row_start.push_back(0);
  auto add_tap = [&](int in_idx, std::size_t w_idx) {
    if (q.weight[w_idx] != 0) {
      op.index.push_back(std::uint32_t(in_idx));
      op.weight.push_back(q.weight[w_idx]);
    }
    if (f.weight[w_idx] != 0.0f) {
      op.f_index.push_back(std::uint32_t(in_idx));
      op.f_weight.push_back(f.weight[w_idx]);
    }
  };
  auto end_row = [&](int bias_idx) {
    op.bias.push_back(q.bias[bias_idx]);
    op.f_bias.push_back(f.bias[bias_idx]);
    std::int64_t s = 0;
    for (std::size_t k = op.row_start.back(); k < op.weight.size(); ++k) s += std::llabs(op.weight[k]);
    op.sum_abs_weight_max = std::max(op.sum_abs_weight_max, s);
    op.row_start.push_back(std::uint32_t(op.weight.size()));
    op.f_row_start.push_back(std::uint32_t(op.f_weight.size()));
  };
  if (q.kind == LayerKind::kDense) {
    for (int o = 0; o < op.n_out; ++o) {
      for (int i = 0; i < op.n_in; ++i) add_tap(i, std::size_t(o) * op.n_in + i);
      end_row(o);
    }
    return op;
  }
  op.conv = ConvGeometry{q.in, q.out, q.kernel_h, q.kernel_w, q.stride, q.padding};
  for (int o = 0; o < q.out.c; ++o)
    for (int oy = 0; oy < q.out.h; ++oy)
      for (int ox = 0; ox < q.out.w; ++ox) {
        for (int c = 0; c < q.in.c; ++c)
          for (int u = 0; u < q.kernel_h; ++u) {
            const int iy = oy * q.stride - q.padding + u;
            if (iy < 0 || iy >= q.in.h) continue;
            for (int v = 0; v < q.kernel_w; ++v) {
              const int ix = ox * q.stride - q.padding + v;
              if (ix < 0 || ix >= q.in.w) continue;
              add_tap((c * q.in.h + iy) * q.in.w + ix,
                      ((std::size_t(o) * q.in.c + c) * q.kernel_h + u) * q.kernel_w + v);
            }
          }
        end_row(o);
      }
  return op;
}

}  // namespace

Plan lower(const QuantizedModel& q) {
  require(q.layers.size() == q.collapsed.layers.size(), "lower: quantised model and its float model differ in layers");
  require(!q.layers.empty(), "lower: empty model");
  Plan p;
  p.model_name = q.name;
  p.input = q.input;
  p.input_scale = q.input_scale;
  p.output_scale = q.output_scale();
  p.classes = q.classes;
  p.steps.push_back({OpKind::kEncrypt, "encrypt", q.input.size(), {}});
  for (std::size_t i = 0; i < q.layers.size(); ++i) {
    const auto& l = q.layers[i];
    const std::string idx = std::to_string(i);
    if (l.kind == LayerKind::kSquare) {
      // Squaring costs grow with the level (HPS: ~2l NTTs; relinearisation: l(l+1)), so the
      // parameters may drop primes right before it when the noise allows.
      p.steps.push_back({OpKind::kModSwitch, "mod_switch_pre" + idx, l.out.size(), {}});
      p.steps.push_back({OpKind::kSquare, "square" + idx, l.out.size(), {}});
      p.steps.push_back({OpKind::kRelinearize, "relinearize" + idx, l.out.size(), {}});
      p.steps.push_back({OpKind::kModSwitch, "mod_switch" + idx, l.out.size(), {}});
    } else {
      PlanStep s{OpKind::kLinear, std::string(to_string(l.kind)) + idx, l.out.size(), {}};
      s.linear = lower_linear(l, q.collapsed.layers[i]);
      p.steps.push_back(std::move(s));
    }
  }
  require(p.steps.back().size == int(p.classes.size()), "lower: output size differs from the class count");
  // The result goes back at the lowest level: smallest download, nothing left to compute on it.
  p.steps.push_back({OpKind::kModSwitch, "mod_switch_out", p.steps.back().size, {}});
  p.steps.push_back({OpKind::kDecrypt, "decrypt", p.steps.back().size, {}});
  return p;
}

std::vector<std::size_t> relin_deferral_targets(const Plan& plan) {
  std::vector<std::size_t> target(plan.steps.size(), 0);
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    if (plan.steps[s].kind != OpKind::kRelinearize) continue;
    for (std::size_t u = s + 1; u < plan.steps.size(); ++u) {
      const OpKind k = plan.steps[u].kind;
      if (k == OpKind::kSquare || k == OpKind::kDecrypt || k == OpKind::kRelinearize) break;
      if (k == OpKind::kLinear) {
        target[s] = u;
        break;
      }
    }
  }
  return target;
}

nlohmann::json OpCounts::to_json() const {
  return {{"input_ciphertexts_per_prime", input_values}, {"scalar_multiply_adds_per_prime", scalar_macs},
          {"bias_adds_per_prime", bias_adds},           {"squares_per_prime", squares},
          {"output_ciphertexts_per_prime", output_values}, {"multiplicative_depth", depth}};
}

OpCounts Plan::counts() const {
  OpCounts c;
  c.input_values = input_size();
  c.output_values = output_size();
  for (const auto& s : steps) {
    if (s.kind == OpKind::kLinear) {
      c.scalar_macs += s.linear.weight.size();
      c.bias_adds += std::size_t(s.linear.n_out);
    } else if (s.kind == OpKind::kSquare) {
      c.squares += std::size_t(s.size);
      ++c.depth;
    }
  }
  return c;
}

nlohmann::json Plan::to_json() const {
  nlohmann::json steps_j = nlohmann::json::array();
  for (const auto& s : steps) {
    nlohmann::json j{{"op", to_string(s.kind)}, {"name", s.name}, {"values", s.size}};
    if (s.kind == OpKind::kLinear) {
      j["taps"] = s.linear.weight.size();
      j["max_row_sum_abs_weight"] = s.linear.sum_abs_weight_max;
    }
    steps_j.push_back(j);
  }
  nlohmann::json j{{"model", model_name},
          {"input", {input.c, input.h, input.w}},
          {"log2_output_scale", double(std::log2(output_scale))},
          {"counts", counts().to_json()},
          {"steps", steps_j}};
  if (!blocks.empty()) j["blocks"] = blocks.to_json();
  return j;
}

}  // namespace leukocrypt::nn
