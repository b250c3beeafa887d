// The plan: a quantised network lowered to a flat list of ops that every backend runs the same
// way (ggml-style: one graph, interchangeable backends). CryptoNets packing is implied: each value
// of a step is one ciphertext holding that value for every image of a batch (one per slot), so
// linear layers are sums of scalar products (weights are plaintext scalars) and x² is one
// ciphertext square. Steps that only matter for BFV (relinearise, mod switch) are no-ops for the
// float and raw backends.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nn/int128.h"
#include "nn/model.h"
#include "nn/block_layout.h"
#include "nn/quantize.h"
#include "nn/slot_layout.h"

namespace leukocrypt::nn {

enum class OpKind {
  kEncrypt,      // input: one value per pixel-channel (key holder)
  kLinear,       // out[o] = bias[o] + sum_k w_k * in[index_k]   (fused scalar multiply-add)
  kSquare,       // x -> x^2 (ciphertext size 3 afterwards)
  kRelinearize,  // size 3 -> 2
  kModSwitch,    // drop ciphertext primes (level chosen by the BFV parameters)
  kBlockSum,     // blocked throughput layout only: out[k] = sum_b rot_b(in[k * B + b]) (block_layout.h)
  kDecrypt,      // output: the logits (key holder)
};
const char* to_string(OpKind kind);

// Geometry of a convolution (CHW input and output), kept so that the latency layout can place
// the outputs at the slot of their first input ("anchored": one rotation per kernel tap).
struct ConvGeometry {
  Shape in, out;
  int kernel_h = 0, kernel_w = 0, stride = 1, padding = 0;
};

// Sparse rows (CSR) of one linear layer. Taps whose integer weight is 0 are dropped (they cost
// nothing encrypted). The float layer's non-zero weights are kept in their own rows (f_*) so the
// float reference backend computes exactly the float model.
struct LinearOp {
  int n_in = 0, n_out = 0;
  std::vector<std::uint32_t> row_start;  // n_out + 1
  std::vector<std::uint32_t> index;      // input value per tap
  std::vector<std::int64_t> weight;      // integer weight per tap (never 0)
  std::vector<Int128> bias;              // integer bias per output
  // Float reference: every non-zero float tap.
  std::vector<std::uint32_t> f_row_start, f_index;
  std::vector<float> f_weight, f_bias;
  std::int64_t sum_abs_weight_max = 0;   // max over rows of sum |w|: the noise growth of this layer
  std::optional<ConvGeometry> conv;      // set for convolutions
};

struct PlanStep {
  OpKind kind = OpKind::kLinear;
  std::string name;  // e.g. "conv0", "square1", "dense2"
  int size = 0;      // number of values (ciphertexts per prime) after the step
  LinearOp linear;   // kLinear only
};

struct OpCounts {
  std::size_t input_values = 0;    // ciphertexts per plaintext prime per batch (encryptions)
  std::size_t scalar_macs = 0;     // fused scalar multiply-adds per prime per batch
  std::size_t bias_adds = 0;
  std::size_t squares = 0;         // ciphertext squares (= relinearisations) per prime per batch
  std::size_t output_values = 0;   // ciphertexts returned per prime per batch
  int depth = 0;                   // multiplicative depth (number of square layers)
  nlohmann::json to_json() const;
};

struct Plan {
  std::string model_name;
  Shape input;
  float input_scale = 1.0f / 255.0f;
  long double output_scale = 1.0L;  // integer logit = output_scale * float logit (approximately)
  std::vector<std::string> classes;
  std::vector<PlanStep> steps;
  // Throughput (CryptoNets: one ciphertext per value, one cell per slot; `slots` empty) or latency
  // (a cell's values in the slots of one ciphertext: `slots` says where; see slot_layout.h).
  Layout layout = Layout::kThroughput;
  SlotLayout slots;
  // Throughput layout with spatial blocks (to_blocked; empty: one cell per slot of all N).
  BlockLayout blocks;

  // Input ciphertexts per prime and batch: the image's values, or the blocked layout's strips.
  std::size_t input_size() const { return blocks.empty() ? std::size_t(input.size()) : blocks.inputs(); }
  std::size_t output_size() const { return classes.size(); }
  OpCounts counts() const;
  nlohmann::json to_json() const;  // step list with sizes and tap counts
};

// Deferred relinearisation: for every step, the index of the Linear step that relinearises the
// outputs of this Relinearize step instead (the next Linear before any other Square or Decrypt),
// or 0 when it must stay where it is. Used by the BFV evaluator, the noise simulation and the
// cost model when BfvSettings::defer_relin is set.
std::vector<std::size_t> relin_deferral_targets(const Plan& plan);

// Lowers a quantised model: Encrypt, then per layer Linear or ModSwitch+Square+Relinearize+ModSwitch,
// then a final ModSwitch (smallest ciphertexts back to the key holder) and Decrypt.
Plan lower(const QuantizedModel& q);

// The same plan in the latency layout for ring degree n (slot positions, diagonals, rotations:
// see slot_layout.h), for BFV's slot matrix and integer weights or CKKS's one row of N/2 slots and
// float weights. Throws InvalidArgument when a cell's values do not fit in N/2 slots.
Plan to_latency(const Plan& plan, std::size_t n, SlotScheme scheme = SlotScheme::kBfv);

// The throughput plan with B spatial blocks for ring degree n (block_layout.h): the first linear
// layer (a convolution) computes rows_per_block output rows per block, the next linear layer one
// output per (output, block), a BlockSum step adds the blocks. BFV only (the float and raw
// backends run the unblocked plan). Throws InvalidArgument when the plan does not start with a
// convolution followed by a linear layer, when B is not canonical for its output rows, or when a
// block would hold no slot. blocks = 1 returns the plan unchanged.
Plan to_blocked(const Plan& plan, std::size_t n, std::size_t blocks);

}  // namespace leukocrypt::nn
