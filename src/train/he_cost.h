// Encrypted cost of a collapsed float model under CryptoNets packing (one image per slot, one
// ciphertext per value): ciphertext squares, scalar multiply-adds (plaintext weight x ciphertext,
// zero-padding taps skipped), bias additions, multiplicative depth. Counts are per batch of up to
// N images and per plaintext prime. Torch-free.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/model.h"

namespace leukocrypt::train {

struct HeLayerCost {
  std::string kind;
  int64_t inputs = 0, outputs = 0;
  int64_t scalar_macs = 0, squares = 0;
};

struct HeCost {
  bool encryptable = true;  // false when a ReLU/sigmoid/softmax remains after collapsing
  int depth = 0;            // ciphertext-ciphertext multiplications in sequence (x² layers)
  int64_t input_ciphertexts = 0, output_ciphertexts = 0;
  int64_t scalar_macs = 0, bias_adds = 0, squares = 0;
  std::vector<HeLayerCost> layers;
  nlohmann::json to_json() const;
  std::string to_text() const;
};

// `collapsed` is nn::collapse_linear's output.
HeCost he_cost(const nn::Model& collapsed);

}  // namespace leukocrypt::train
