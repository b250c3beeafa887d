// Key switching for both schemes: the RNS gadget decomposition with one special prime p
// (Gentry-Halevi-Smart 2012; the "hybrid" method with one digit per prime, as in SEAL). Given a
// polynomial d mod q_0..q_{l-1} that multiplies s' in a decryption, adds to (c0, c1) a pair that
// decrypts to d*s' under s: sum_i [d]_{q_i} * key_i over q and p, then divided by p with rounding.
// Cost: l(l+1) forward NTTs of the digits and 2(l+1) inverse NTTs (+ 2l forward NTTs of the
// rounding term for NTT-form output).
#pragma once

#include <cstddef>
#include <cstdint>

#include "he/rlwe/keys.h"
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

// d: `level` rows in coefficient form (values in [0, q_i)). d_ntt: the same polynomial in the NTT
// domain, or nullptr; when given, digit i's transform mod q_i is its row i (saves l NTTs).
// c0, c1: `level` rows, in coefficient form (BFV) or, with ntt_output, in the NTT domain (CKKS);
// the switched pair is added to them. Throws InvalidArgument when key does not have the ring's
// shape.
void key_switch_add(const RingContext& ring, const std::uint64_t* d, const std::uint64_t* d_ntt,
                    const KeySwitchKey& key, std::uint64_t* c0, std::uint64_t* c1, std::size_t level,
                    bool ntt_output);

}  // namespace leukocrypt::rlwe
