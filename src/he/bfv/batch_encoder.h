// Batch (CRT/SIMD) encoding: N slot values mod t <-> a plaintext polynomial, via the NTT mod t.
// Slots form a 2 x N/2 matrix; rotate_rows cycles within rows, rotate_columns swaps the rows
// (slot order as in SEAL: slot i <-> evaluation at psi^(3^i)).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "he/bfv/context.h"
#include "he/bfv/plaintext.h"

namespace leukocrypt::bfv {

class BatchEncoder {
 public:
  // Throws InvalidArgument when t does not support batching (t prime, t = 1 mod 2N).
  explicit BatchEncoder(ContextPtr ctx);
  std::size_t slot_count() const { return ctx_->n(); }

  // values.size() <= N (missing slots are 0); every value must be < t.
  Plaintext encode(std::span<const std::uint64_t> values) const;
  // Signed values, reduced mod t (|v| < t).
  Plaintext encode_signed(std::span<const std::int64_t> values) const;
  std::vector<std::uint64_t> decode(const Plaintext& pt) const;
  // Centred lift to (-t/2, t/2].
  std::vector<std::int64_t> decode_signed(const Plaintext& pt) const;

 private:
  ContextPtr ctx_;
  std::vector<std::uint32_t> index_map_;  // slot -> NTT position
};

}  // namespace leukocrypt::bfv
