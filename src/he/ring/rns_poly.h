// Helpers on RNS polynomials stored prime-major (row i = the N residues mod prime i):
// Galois automorphisms X -> X^g in coefficient form and in the NTT domain, and thread-local
// scratch rows.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/aligned_buffer.h"
#include "he/ring/secure_wipe.h"

namespace leukocrypt::he {

// out(X) = in(X^g) mod (X^N + 1, q), g odd; coefficient form; out must not alias in.
inline void apply_automorphism(const std::uint64_t* in, std::uint64_t* out, std::size_t n,
                               std::uint32_t g, std::uint64_t q) {
  const std::size_t mask = 2 * n - 1;
  std::size_t idx = 0;  // i * g mod 2N
  for (std::size_t i = 0; i < n; ++i, idx = (idx + g) & mask) {
    const std::uint64_t v = in[i];
    if (idx < n) out[idx] = v;
    else out[idx - n] = v == 0 ? 0 : q - v;
  }
}

inline void apply_automorphism_small(const std::int8_t* in, std::int8_t* out, std::size_t n, std::uint32_t g) {
  const std::size_t mask = 2 * n - 1;
  std::size_t idx = 0;
  for (std::size_t i = 0; i < n; ++i, idx = (idx + g) & mask) {
    if (idx < n) out[idx] = in[i];
    else out[idx - n] = static_cast<std::int8_t>(-in[i]);
  }
}

// The NTT-domain automorphism as a permutation: NTT output k holds the evaluation at
// psi^(2 bitrev(k) + 1) (forward_ntt's bit-reversed order), and a(X^g) at psi^e is a at psi^(g e),
// so out[k] = in[index[k]] with 2 bitrev(index[k]) + 1 = g (2 bitrev(k) + 1) mod 2N. bitrev: the
// log2(n)-bit reversal of 0..n-1 (RingContext::bitrev()); index has n entries; g odd.
inline void automorphism_ntt_index(std::size_t n, std::uint32_t g, const std::uint32_t* bitrev,
                                   std::uint32_t* index) {
  const std::size_t mask = 2 * n - 1;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t e = ((2 * std::size_t{bitrev[k]} + 1) * g) & mask;
    index[k] = bitrev[(e - 1) >> 1];
  }
}

inline void apply_automorphism_ntt(const std::uint64_t* in, std::uint64_t* out, std::size_t n,
                                   const std::uint32_t* index) {
  for (std::size_t k = 0; k < n; ++k) out[k] = in[index[k]];
}

inline constexpr int kScratchSlots = 10;

// This thread's scratch buffers (see scratch()).
inline AlignedBuffer<std::uint64_t>* scratch_buffers() {
  static thread_local AlignedBuffer<std::uint64_t> buffers[kScratchSlots];
  return buffers;
}

// Thread-local scratch: `slot` selects an independent buffer; contents are unspecified.
// Returned memory stays valid until the next call with the same slot on this thread.
inline std::uint64_t* scratch(int slot, std::size_t count) {
  auto& b = scratch_buffers()[slot];
  if (b.size() < count) b.reset(count);
  return b.data();
}

// Zeroes this thread's scratch slot (secure_wipe) when the scope ends: code that puts secret
// material there (decryption's c*s, an encryption's mask and errors) leaves no residue behind.
class ScratchWipe {
 public:
  explicit ScratchWipe(int slot) : slot_(slot) {}
  ~ScratchWipe() {
    auto& b = scratch_buffers()[slot_];
    secure_wipe(b.data(), b.size() * sizeof(std::uint64_t));
  }
  ScratchWipe(const ScratchWipe&) = delete;
  ScratchWipe& operator=(const ScratchWipe&) = delete;

 private:
  int slot_;
};

}  // namespace leukocrypt::he
