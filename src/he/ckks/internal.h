// Engine-internal checks shared by the CKKS sources (not part of the public API).
#pragma once

#include "he/ckks/ciphertext.h"
#include "he/ckks/context.h"
#include "he/ckks/plaintext.h"

namespace leukocrypt::ckks::detail {

// Params id, N, level in [1, L], finite positive scale; `what` names the operation.
void check_plaintext(const Context& ctx, const Plaintext& pt, const char* what);
// The same plus size in [2, 3].
void check_ciphertext(const Context& ctx, const Ciphertext& ct, const char* what);
// Relative tolerance of scale comparisons: floating-point rounding of the tracked products, far
// below the ~1e-6 relative gap between different rescale primes.
inline constexpr double kScaleTolerance = 0x1p-32;
bool scales_match(double a, double b);
// Throws InvalidArgument "<what>: different scales (2^40.000000 vs 2^39.999999) ...".
void require_same_scale(double a, double b, const char* what);
// x mod q for a double x that is an integer, of any magnitude (x = mantissa * 2^(exp - 53)).
std::uint64_t integer_double_mod(double x, const Modulus& q);
// Adds pt (NTT form) to `rows` rows of c0 (subtract: c0 -= pt).
void add_plain_rows(const Context& ctx, const Plaintext& pt, std::uint64_t* c0, std::size_t level, bool subtract);

}  // namespace leukocrypt::ckks::detail
