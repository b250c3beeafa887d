// Spatial blocks of the throughput layout: the plan transformation (to_blocked) and the layout's
// slot geometry.
#include "nn/block_layout.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

std::vector<int> BlockLayout::rotation_steps() const {
  std::vector<int> steps;
  for (std::size_t b = 1; b < std::min(count, per_row); ++b) steps.push_back(int(b * slots));
  return steps;
}

nlohmann::json BlockLayout::to_json() const {
  return {{"blocks", count},
          {"slots_per_block", slots},
          {"rows_per_block", rows_per_block},
          {"input_ciphertexts", inputs()},
          {"rotation_steps", rotation_steps()},
          {"row_swap", swaps()},
          {"key_switches_per_block_sum", key_switches()}};
}

nlohmann::json BlockLayout::client_json() const {
  return {{"n", n},         {"blocks", count},    {"input", {in_c, in_h, in_w}}, {"kernel_h", kernel_h},
          {"stride", stride}, {"padding", padding}, {"out_rows", out_rows},        {"slots_per_block", slots},
          {"rotation_steps", rotation_steps()},    {"row_swap", swaps()}};
}

BlockLayout BlockLayout::from_client_json(const nlohmann::json& j) {
  try {
    if (!j.is_object()) throw FormatError("blocks: not a JSON object");
    const auto in = j.at("input").get<std::vector<int>>();
    if (in.size() != 3) throw FormatError("blocks: 'input' is not [channels, height, width]");
    const auto n = j.at("n").get<std::size_t>(), blocks = j.at("blocks").get<std::size_t>();
    const int kh = j.at("kernel_h").get<int>(), st = j.at("stride").get<int>(), pad = j.at("padding").get<int>(),
              rows = j.at("out_rows").get<int>();
    auto ok = [](long long v, long long lo, long long hi) { return v >= lo && v <= hi; };
    if (!ok((long long)n, 4, 1 << 16) || (n & (n - 1)) != 0 || !ok((long long)blocks, 2, 64) || !ok(in[0], 1, 64) ||
        !ok(in[1], 1, 4096) || !ok(in[2], 1, 4096) || !ok(kh, 1, 64) || !ok(st, 1, 64) || !ok(pad, 0, 64) ||
        !ok(rows, 1, 4096))
      throw FormatError("blocks: a field is out of range");
    return make(n, blocks, in[0], in[1], in[2], kh, st, pad, rows);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(std::string("blocks: missing or mistyped field (") + e.what() + ")");
  } catch (const InvalidArgument& e) {
    throw FormatError(e.what());
  }
}

BlockLayout BlockLayout::make(std::size_t n, std::size_t blocks, int in_c, int in_h, int in_w, int kernel_h, int stride,
                              int padding, int out_rows) {
  require(n >= 4 && (n & (n - 1)) == 0, "blocks: ring degree " + std::to_string(n) + " is not a power of two >= 4");
  require(in_c > 0 && in_h > 0 && in_w > 0 && kernel_h > 0 && stride > 0 && padding >= 0 && out_rows > 0,
          "blocks: invalid convolution geometry");
  if (!canonical_block_count(std::size_t(out_rows), blocks))
    throw InvalidArgument("blocks: " + std::to_string(blocks) + " blocks do not tile the first layer's " +
                          std::to_string(out_rows) + " output rows (every block must hold rows)");
  BlockLayout bl;
  bl.n = n;
  bl.count = blocks;
  bl.per_row = (blocks + 1) / 2;
  bl.slots = slots_per_block(n, blocks);
  if (bl.slots == 0)
    throw InvalidArgument("blocks: " + std::to_string(blocks) + " blocks do not fit N = " + std::to_string(n) + " slots");
  // The strips lie within the padded image (a document cannot ask for more), and the packing map
  // stays small: a model card is untrusted input to the key holder.
  require((long long)(out_rows - 1) * stride + kernel_h <= (long long)in_h + 2LL * padding,
          "blocks: " + std::to_string(out_rows) + " output rows do not fit an input of " + std::to_string(in_h) +
              " rows (kernel " + std::to_string(kernel_h) + ", stride " + std::to_string(stride) + ", padding " +
              std::to_string(padding) + ")");
  bl.rows_per_block = (std::size_t(out_rows) + blocks - 1) / blocks;
  bl.in_c = in_c, bl.in_h = in_h, bl.in_w = in_w, bl.kernel_h = kernel_h, bl.stride = stride, bl.padding = padding;
  bl.out_rows = out_rows;
  const std::size_t window = bl.window_rows();
  const double entries = double(in_c) * double(window) * double(in_w) * double(blocks);
  require(entries <= double(1 << 24),
          "blocks: the packing map would hold " + std::to_string((long long)entries) + " entries (limit 2^24)");
  // Input ciphertexts: (channel, row of the strip's window, column); the window of block b starts
  // at input row b * rows_per_block * stride - padding.
  const std::size_t n_in = std::size_t(in_c) * window * std::size_t(in_w);
  bl.source.assign(n_in * blocks, -1);
  for (int c = 0; c < in_c; ++c)
    for (std::size_t wr = 0; wr < window; ++wr)
      for (int x = 0; x < in_w; ++x) {
        const std::size_t u = (std::size_t(c) * window + wr) * std::size_t(in_w) + std::size_t(x);
        for (std::size_t b = 0; b < blocks; ++b) {
          const long long y = (long long)(b * bl.rows_per_block * std::size_t(stride)) - padding + (long long)wr;
          if (y >= 0 && y < in_h) bl.source[u * blocks + b] = std::int32_t((std::size_t(c) * in_h + std::size_t(y)) * in_w + x);
        }
      }
  return bl;
}

bool canonical_block_count(std::size_t out_rows, std::size_t blocks) {
  if (blocks == 0 || out_rows == 0 || blocks > out_rows) return false;
  const std::size_t r = (out_rows + blocks - 1) / blocks;
  return (out_rows + r - 1) / r == blocks;
}

Plan to_blocked(const Plan& plan, std::size_t n, std::size_t blocks) {
  if (blocks <= 1) return plan;
  require(plan.layout == Layout::kThroughput && plan.blocks.empty(), "blocks: the plan must be an unblocked throughput plan");
  // The first linear layer (a convolution), then only element-wise steps, then a linear layer.
  std::size_t s1 = 0, s2 = 0;
  for (std::size_t s = 0; s < plan.steps.size(); ++s)
    if (plan.steps[s].kind == OpKind::kLinear) {
      if (s1 == 0) s1 = s;
      else {
        s2 = s;
        break;
      }
    }
  if (s1 == 0 || s2 == 0 || !plan.steps[s1].linear.conv)
    throw InvalidArgument("blocks: the model must start with a convolution followed by another linear layer (" +
                          plan.model_name + " does not)");
  const LinearOp& conv = plan.steps[s1].linear;
  const ConvGeometry& g = *conv.conv;
  const BlockLayout bl = BlockLayout::make(n, blocks, g.in.c, g.in.h, g.in.w, g.kernel_h, g.stride, g.padding, g.out.h);
  const std::size_t rpb = bl.rows_per_block;

  // The kernel, recovered from the convolution's rows: weight of (map, channel, ky, kx). Every
  // output shares it (checked); taps dropped as zero or as padding are 0.
  const int kh = g.kernel_h, kw = g.kernel_w, st = g.stride, pad = g.padding;
  const int H = g.in.h, W = g.in.w, C = g.in.c, O = g.out.c, Wo = g.out.w;
  require(kh > 0 && kw > 0 && st > 0 && conv.n_out == O * g.out.h * Wo && conv.n_in == C * H * W,
          "blocks: inconsistent convolution geometry");
  std::vector<std::int64_t> kernel(std::size_t(O) * C * kh * kw, 0);
  std::vector<std::uint8_t> seen(kernel.size(), 0);
  std::vector<Int128> map_bias(std::size_t(O), Int128(0));
  for (int o = 0; o < O; ++o)
    for (int oy = 0; oy < g.out.h; ++oy)
      for (int ox = 0; ox < Wo; ++ox) {
        const std::size_t row = (std::size_t(o) * g.out.h + oy) * Wo + ox;
        if (oy == 0 && ox == 0) map_bias[o] = conv.bias[row];
        require(conv.bias[row] == map_bias[o], "blocks: the first layer's bias differs between positions of map " +
                                                   std::to_string(o) + " (not a convolution)");
        for (std::uint32_t t = conv.row_start[row]; t < conv.row_start[row + 1]; ++t) {
          const int in = int(conv.index[t]), c = in / (H * W), iy = (in / W) % H, ix = in % W;
          const int ky = iy - (oy * st - pad), kx = ix - (ox * st - pad);
          require(ky >= 0 && ky < kh && kx >= 0 && kx < kw, "blocks: a tap of the first layer lies outside its kernel");
          const std::size_t at = ((std::size_t(o) * C + c) * kh + ky) * kw + kx;
          require(!seen[at] || kernel[at] == conv.weight[t],
                  "blocks: the first layer's weights differ between positions (not a convolution)");
          kernel[at] = conv.weight[t];
          seen[at] = 1;
        }
      }

  const std::size_t window = bl.window_rows();
  const std::size_t n_in = bl.inputs();

  Plan p = plan;
  p.blocks = bl;
  p.steps.clear();
  const std::size_t mid = std::size_t(O) * rpb * std::size_t(Wo);  // first-layer outputs per block
  for (std::size_t s = 0; s < plan.steps.size(); ++s) {
    PlanStep step = plan.steps[s];
    if (s == 0) {
      step.size = int(n_in);
    } else if (s == s1) {
      LinearOp op;
      op.n_in = int(n_in);
      op.n_out = int(mid);
      op.row_start.push_back(0);
      for (int o = 0; o < O; ++o)
        for (std::size_t i = 0; i < rpb; ++i)
          for (int ox = 0; ox < Wo; ++ox) {
            std::int64_t sum = 0;
            for (int c = 0; c < C; ++c)
              for (int ky = 0; ky < kh; ++ky)
                for (int kx = 0; kx < kw; ++kx) {
                  const std::int64_t w = kernel[((std::size_t(o) * C + c) * kh + ky) * kw + kx];
                  const int x = ox * st - pad + kx;
                  if (w == 0 || x < 0 || x >= W) continue;  // columns pad the same way in every block
                  const std::size_t wr = i * std::size_t(st) + std::size_t(ky);
                  op.index.push_back(std::uint32_t((std::size_t(c) * window + wr) * std::size_t(W) + std::size_t(x)));
                  op.weight.push_back(w);
                  sum += std::llabs(w);
                }
            op.bias.push_back(map_bias[o]);
            op.sum_abs_weight_max = std::max(op.sum_abs_weight_max, sum);
            op.row_start.push_back(std::uint32_t(op.weight.size()));
          }
      step.linear = std::move(op);
      step.size = int(mid);
    } else if (s > s1 && s < s2) {
      step.size = int(mid);
    } else if (s == s2) {
      const LinearOp& d = plan.steps[s2].linear;
      require(d.n_in == conv.n_out, "blocks: the second linear layer does not read the convolution's outputs");
      LinearOp op;
      op.n_in = int(mid);
      op.n_out = int(std::size_t(d.n_out) * blocks);
      op.row_start.push_back(0);
      for (int k = 0; k < d.n_out; ++k) {
        std::vector<std::vector<std::pair<std::uint32_t, std::int64_t>>> per_block(blocks);
        for (std::uint32_t t = d.row_start[k]; t < d.row_start[k + 1]; ++t) {
          const std::size_t in = d.index[t], o = in / (std::size_t(g.out.h) * Wo), oy = (in / Wo) % g.out.h, ox = in % Wo;
          const std::size_t b = oy / rpb, i = oy % rpb;
          per_block[b].push_back({std::uint32_t((o * rpb + i) * Wo + ox), d.weight[t]});
        }
        for (std::size_t b = 0; b < blocks; ++b) {
          std::sort(per_block[b].begin(), per_block[b].end());
          for (const auto& [idx, w] : per_block[b]) {
            op.index.push_back(idx);
            op.weight.push_back(w);
          }
          op.bias.push_back(b == 0 ? d.bias[k] : Int128(0));
          op.row_start.push_back(std::uint32_t(op.weight.size()));
        }
      }
      // The block sum adds the B partial rows back: the noise grows as the unblocked row's.
      op.sum_abs_weight_max = d.sum_abs_weight_max;
      step.linear = std::move(op);
      step.size = int(std::size_t(d.n_out) * blocks);
      p.steps.push_back(std::move(step));
      const std::string& name = plan.steps[s2].name;
      const std::size_t digit = name.find_first_of("0123456789");
      p.steps.push_back({OpKind::kBlockSum, "block_sum" + (digit == std::string::npos ? "" : name.substr(digit)), d.n_out, {}});
      continue;
    }
    p.steps.push_back(std::move(step));
  }
  return p;
}

}  // namespace leukocrypt::nn
