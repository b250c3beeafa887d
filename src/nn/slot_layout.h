// The latency layout (LoLa/Gazelle-style packing): the values of one cell live in the slots of one
// ciphertext, several cells side by side. Every cell owns a block of `block` slots (a power of two
// dividing N/2, so a block never straddles BFV's two slot rows) and every block uses the same slot
// positions, so one set of plaintext diagonals serves all cells of a ciphertext.
//
// Two slot geometries (SlotScheme): BFV's 2 x N/2 matrix (rotate_rows cycles each row of N/2
// separately; integer weights) and CKKS's one row of N/2 complex slots (rotations cycle all N/2;
// float weights, `fdiag`/`fbias`). A block never exceeds N/2 in either, so the plan's diagonals and
// rotation steps are the same; only the cells per ciphertext (slots / block) and the weights differ.
//
// A linear step is a sum over rotations r of diag_r ⊙ rot_r(x) (Halevi–Shoup diagonals, rot_r =
// rotate_rows by r: slot s reads slot s + r of its row), evaluated with baby-step/giant-step:
//   y = Σ_g rot_{g·b}( Σ_i rot_{-g·b}(diag_{g·b+i}) ⊙ rot_i(x) )
// optionally followed by rotate-and-sum "fold" steps (Gazelle's hybrid method for wide dense
// layers: partial sums of output o sit at slots ≡ o mod m and are folded into slot o), then the
// bias is added at the output slots. Every tap reads an input of its own cell (|r| < block and
// the tap's input and output are in the same block), so nothing from a neighbouring cell enters
// an output slot; slots that hold no value carry zeros or partial sums that later diagonals never
// read. The last linear step never folds: the key holder decrypts every slot of the result, and
// its slots other than the logits are exactly 0 (to_latency checks it), so nothing but the logits
// of the model leaves the server. rotate_columns (the row swap) is never needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "nn/int128.h"

namespace leukocrypt::nn {

enum class Layout { kThroughput, kLatency };
// Which engine's slots the layout is planned for: BFV (2 rows of N/2, integer weights) or CKKS (one
// row of N/2 complex slots, float weights).
enum class SlotScheme { kBfv, kCkks };
const char* to_string(Layout layout);
// "throughput" or "latency"; throws InvalidArgument naming the accepted words otherwise.
Layout layout_from_string(const std::string& name);

// One linear step in the latency layout.
struct SlotLinear {
  struct Term {
    std::uint32_t baby = 0;             // index into `baby`
    std::vector<std::int64_t> diag;     // `block` weights, the block pattern of rot_{-g·b}(diag_r)
    std::vector<double> fdiag;          // the same for the float weights (SlotScheme::kCkks only)
  };
  struct Giant {
    int step = 0;                       // g·b
    std::vector<Term> terms;
  };
  std::vector<int> baby;                // rotations of the input (0 = the input itself)
  std::vector<Giant> giants;
  std::vector<int> fold;                // rotate-and-add steps after the sum (hybrid method)
  std::vector<std::pair<std::uint32_t, Int128>> bias;  // (slot in the block, bias) per output
  std::vector<std::pair<std::uint32_t, double>> fbias; // the float biases (SlotScheme::kCkks only)
  std::vector<std::uint32_t> out_slot;  // slot in the block of every output value
  std::size_t rotations() const;        // rotations per ciphertext (baby + giant + fold)
  std::size_t diagonals() const;        // plaintext products per ciphertext
};

struct SlotLayout {
  std::size_t n = 0;                    // ring degree: rows of N/2 slots
  std::size_t rows = 2;                 // 2: BFV's slot matrix (N slots); 1: CKKS (N/2 slots)
  std::size_t block = 0;                // slots per cell
  std::vector<std::uint32_t> in_slot;   // slot in the block of every input value (key holder packs)
  std::vector<SlotLinear> linear;       // per plan step (empty for steps that are not Linear)
  std::vector<std::uint32_t> out_slot;  // slot in the block of every logit (key holder reads)

  bool empty() const { return n == 0; }
  SlotScheme scheme() const { return rows == 1 ? SlotScheme::kCkks : SlotScheme::kBfv; }
  std::size_t slot_count() const { return rows * (n / 2); }
  std::size_t cells_per_ciphertext() const { return slot_count() / block; }
  std::size_t ciphertexts_for(std::size_t cells) const {
    return (cells + cells_per_ciphertext() - 1) / cells_per_ciphertext();
  }
  // Every rotation step the plan uses (sorted, non-zero): the Galois keys the server needs.
  std::vector<int> rotation_steps() const;
  nlohmann::json to_json() const;       // block, cells per ciphertext, rotations and diagonals per step
  // What the key holder needs (model card, params.json, keys.json): n, rows, block, cells per
  // ciphertext, the input count, the Galois steps to make keys for, and the logit slots.
  nlohmann::json client_json() const;
  // The key holder's view rebuilt from client_json (inputs at slots 0..inputs-1, no diagonals);
  // FormatError when anything is missing or inconsistent.
  static SlotLayout from_client_json(const nlohmann::json& j);
};

// Rotates each of the `rows` rows of `v` left by `step` (negative: right), exactly as
// bfv::Evaluator::rotate_rows (rows = 2) or ckks::Evaluator::rotate (rows = 1) does to the slots.
template <typename T>
std::vector<T> rotate_slot_rows(const std::vector<T>& v, int step, std::size_t rows = 2) {
  const std::size_t half = v.size() / rows;
  std::vector<T> r(v.size());
  const long long h = static_cast<long long>(half);
  const std::size_t k = static_cast<std::size_t>(((step % h) + h) % h);
  for (std::size_t row = 0; row < rows; ++row)
    for (std::size_t s = 0; s < half; ++s) r[row * half + s] = v[row * half + (s + k) % half];
  return r;
}

// The block pattern (`block` weights) tiled over all n slots.
template <typename T>
std::vector<T> tile_block(const std::vector<T>& pattern, std::size_t n) {
  std::vector<T> out(n);
  for (std::size_t s = 0; s < n; ++s) out[s] = pattern[s % pattern.size()];
  return out;
}

}  // namespace leukocrypt::nn
