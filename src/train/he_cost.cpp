// Op counting over the collapsed model's layers.
#include "train/he_cost.h"

#include <algorithm>
#include <sstream>

namespace leukocrypt::train {

HeCost he_cost(const nn::Model& m) {
  HeCost c;
  const auto shapes = m.shapes();
  c.input_ciphertexts = m.input.size();
  nn::Shape in = m.input;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    const nn::Shape out = shapes[i];
    HeLayerCost lc;
    lc.kind = nn::to_string(l.kind);
    lc.inputs = in.size();
    lc.outputs = out.size();
    switch (l.kind) {
      case nn::LayerKind::kConv2d:
        for (int oy = 0; oy < out.h; ++oy)
          for (int ox = 0; ox < out.w; ++ox) {
            int taps = 0;
            for (int ky = 0; ky < l.kernel_h; ++ky)
              for (int kx = 0; kx < l.kernel_w; ++kx) {
                const int y = oy * l.stride - l.padding + ky, x = ox * l.stride - l.padding + kx;
                taps += y >= 0 && y < in.h && x >= 0 && x < in.w;
              }
            lc.scalar_macs += static_cast<int64_t>(taps) * in.c * out.c;
          }
        c.bias_adds += out.size();
        break;
      case nn::LayerKind::kDense:
        lc.scalar_macs = static_cast<int64_t>(in.size()) * out.size();
        c.bias_adds += out.size();
        break;
      case nn::LayerKind::kMeanPool2d:
        lc.scalar_macs = static_cast<int64_t>(out.size()) * l.kernel_h * l.kernel_w;
        break;
      case nn::LayerKind::kSquare:
        lc.squares = in.size();
        ++c.depth;
        break;
      case nn::LayerKind::kFlatten:
      case nn::LayerKind::kDropout:
        break;
      default:
        c.encryptable = false;
        break;
    }
    c.scalar_macs += lc.scalar_macs;
    c.squares += lc.squares;
    c.layers.push_back(lc);
    in = out;
  }
  c.output_ciphertexts = in.size();
  return c;
}

nlohmann::json HeCost::to_json() const {
  nlohmann::json j{{"encryptable", encryptable},
                   {"multiplicative_depth", depth},
                   {"input_ciphertexts", input_ciphertexts},
                   {"output_ciphertexts", output_ciphertexts},
                   {"scalar_multiply_adds", scalar_macs},
                   {"bias_adds", bias_adds},
                   {"ciphertext_squares", squares},
                   {"counted_per", "batch of up to N images (one per slot), per plaintext prime"}};
  nlohmann::json ls = nlohmann::json::array();
  for (const auto& l : layers)
    ls.push_back({{"kind", l.kind}, {"inputs", l.inputs}, {"outputs", l.outputs},
                  {"scalar_multiply_adds", l.scalar_macs}, {"ciphertext_squares", l.squares}});
  j["layers"] = ls;
  return j;
}

std::string HeCost::to_text() const {
  std::ostringstream o;
  o << "encrypted network after collapsing (per batch of up to N images, per plaintext prime):\n";
  for (const auto& l : layers) {
    o << "  " << l.kind << " " << l.inputs << " -> " << l.outputs;
    if (l.scalar_macs) o << "  scalar mult-adds " << l.scalar_macs;
    if (l.squares) o << "  ciphertext squares " << l.squares;
    o << "\n";
  }
  if (!encryptable) {
    o << "  not encryptable: ReLU/sigmoid layers have no exact BFV equivalent\n";
    return o.str();
  }
  o << "  total: " << input_ciphertexts << " input ciphertexts, " << squares << " ciphertext squares, "
    << scalar_macs << " scalar multiply-adds, " << bias_adds << " bias additions, " << output_ciphertexts
    << " output ciphertexts; multiplicative depth " << depth << "\n";
  return o.str();
}

}  // namespace leukocrypt::train
