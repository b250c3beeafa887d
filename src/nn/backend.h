// Backends run a plan on a batch of images: `float` (the float model, reference), `raw` (exact
// integers, CryptoNets' RawFactory: tracks the largest absolute value of every step) and `bfv`
// (encrypted; nn/keyholder/bfv_backend.h). Integer backends must agree exactly; float agrees in
// argmax up to quantisation error.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/int128.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

struct StepStats {
  std::string name;
  OpKind kind = OpKind::kLinear;
  double seconds = 0;             // wall time of the step for the whole run
  UInt128 max_abs = 0;            // raw: largest |value| after the step, over all images
  int bits = 0;                   // raw: signed bits of max_abs
  int noise_budget_bits = -1;     // bfv: smallest remaining invariant noise budget (-1: not measured)
  double cpu_seconds = -1;        // bfv streaming: CPU seconds of all threads (-1: not measured)
};

struct RunReport {
  std::string backend;
  std::vector<StepStats> steps;   // one per plan step
  double encode_seconds = 0;      // bfv: batch encoding of pixels and decoding of logits
  double encrypt_seconds = 0;     // bfv: key holder
  double evaluate_seconds = 0;    // server side (all Linear/Square/Relin/ModSwitch steps)
  double decrypt_seconds = 0;     // bfv: key holder, including CRT
  double client_cpu_seconds = -1; // bfv streaming: CPU seconds in encode + encrypt (-1: not measured)
  double server_cpu_seconds = -1; // bfv latency: process CPU seconds in the server steps (-1: not measured)
  std::size_t bytes_sent = 0;     // bfv: ciphertexts key holder -> server (serialized size)
  std::size_t bytes_received = 0; // bfv: ciphertexts server -> key holder
  std::size_t batches = 0;
  nlohmann::json to_json() const;
};

struct BatchOutput {
  std::size_t images = 0, outputs = 0;
  std::vector<double> logits;   // images x outputs, float-logit units (integer logits / output scale)
  std::vector<Int128> exact;    // images x outputs integer logits (raw, bfv); empty for float
  RunReport report;
  int predicted(std::size_t image) const;  // argmax
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // images: pointers to input_size() pixels (0..255) each, in the model's CHW layout.
  virtual BatchOutput run(const Plan& plan, const std::vector<const std::uint8_t*>& images) = 0;
};

std::unique_ptr<Backend> make_float_backend();
std::unique_ptr<Backend> make_raw_backend();

}  // namespace leukocrypt::nn
