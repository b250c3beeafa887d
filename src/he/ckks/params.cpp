// CKKS params: prime selection near the scale, validation, the security table, the params id.
#include "he/ckks/params.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <sstream>

#include "common/error.h"
#include "he/math/primes.h"
#include "he/rlwe/params_id.h"

namespace leukocrypt::ckks {
namespace {

std::uint64_t compute_id(const Params& p) {
  std::vector<std::uint64_t> words = {p.n(), p.q().size()};
  words.insert(words.end(), p.q().begin(), p.q().end());
  words.insert(words.end(), {p.special_prime(), std::bit_cast<std::uint64_t>(p.default_scale()),
                             static_cast<std::uint64_t>(p.security())});
  return rlwe::params_id("leukocrypt-ckks-params-v1", words);
}

bool taken(const std::vector<std::uint64_t>& used, std::uint64_t v) {
  return std::find(used.begin(), used.end(), v) != used.end();
}

// The `count` NTT-friendly primes nearest 2^bits, closest first (so consecutive rescales
// alternate around the scale and their product stays near 2^(2 bits)).
std::vector<std::uint64_t> primes_near(int bits, int log_n, std::size_t count) {
  const auto above = he::ntt_primes(bits, log_n, count);
  const auto below = he::ntt_primes_below(bits, log_n, count);
  const double target = std::ldexp(1.0, bits);
  std::vector<std::uint64_t> out;
  std::size_t a = 0, b = 0;
  while (out.size() < count) {
    const bool take_above = b == below.size() ||
                            (a < above.size() && static_cast<double>(above[a]) - target <=
                                                     target - static_cast<double>(below[b]));
    out.push_back(take_above ? above[a++] : below[b++]);
  }
  return out;
}

std::uint64_t largest_free_below(int bits, int log_n, const std::vector<std::uint64_t>& used) {
  for (auto c : he::ntt_primes_below(bits, log_n, used.size() + 1))
    if (!taken(used, c)) return c;
  throw InvalidArgument("Params: no free NTT-friendly prime below 2^" + std::to_string(bits));
}

}  // namespace

Params Params::create(std::size_t n, int first_bits, std::size_t levels, int scale_bits, int special_bits,
                      Security security) {
  require(n >= 8 && n <= 32768 && (n & (n - 1)) == 0,
          "Params: N must be a power of two in [8, 32768], got " + std::to_string(n));
  for (int b : {first_bits, scale_bits, special_bits})
    require(b >= 20 && b <= 59, "Params: prime size " + std::to_string(b) + " bits outside [20, 59]");
  require(levels <= 59, "Params: at most 59 rescale levels, got " + std::to_string(levels));
  const int log_n = std::countr_zero(n);
  std::vector<std::uint64_t> q = primes_near(scale_bits, log_n, levels);
  const std::uint64_t q0 = largest_free_below(first_bits, log_n, q);
  q.insert(q.begin(), q0);
  const std::uint64_t special = largest_free_below(special_bits, log_n, q);
  return create_from_primes(n, std::move(q), special, std::ldexp(1.0, scale_bits), security);
}

Params Params::create_from_primes(std::size_t n, std::vector<std::uint64_t> q, std::uint64_t special,
                                  double default_scale, Security security) {
  rlwe::require_ntt_primes(n, q, {special}, "Params");
  require(security == Security::k128 || security == Security::kInsecureForTests, "Params: unknown security level");
  require(std::isfinite(default_scale) && default_scale > 1,
          "Params: default scale " + std::to_string(default_scale) + " must be finite and > 1");
  Params p;
  p.n_ = n;
  p.log_n_ = std::countr_zero(n);
  p.q_ = std::move(q);
  p.special_ = special;
  p.default_scale_ = default_scale;
  p.security_ = security;
  if (security == Security::k128) rlwe::require_128_bit(n, p.log2_qp(), "Params");
  p.id_ = compute_id(p);
  return p;
}

Params Params::default_for(std::size_t n) {
  switch (n) {
    case 4096: return create(4096, 38, 1, 30, 40);
    case 8192: return create(8192, 47, 3, 40, 50);
    case 16384: return create(16384, 50, 7, 45, 50);
    case 32768: return create(32768, 50, 16, 48, 50);
    default:
      throw InvalidArgument("ckks::Params::default_for: no default modulus for N=" + std::to_string(n) +
                            " (use 4096, 8192, 16384 or 32768)");
  }
}

Params Params::smallest_secure(std::size_t levels, int scale_bits, int first_bits, std::size_t min_n,
                               int special_bits) {
  if (special_bits <= 0) special_bits = std::min(59, std::max(first_bits, scale_bits + 1));
  const double need = first_bits + static_cast<double>(levels) * scale_bits + special_bits;
  for (std::size_t n = 1024; n <= 32768; n *= 2) {
    if (n < min_n || need > rlwe::max_secure_bits(n)) continue;
    try {
      return create(n, first_bits, levels, scale_bits, special_bits);
    } catch (const SecurityError&) {
      // Rescale primes just above 2^scale_bits can tip a set over the bound: try the next N.
    }
  }
  throw SecurityError("ckks::Params: q_0 " + std::to_string(first_bits) + " bits + " + std::to_string(levels) +
                      " x " + std::to_string(scale_bits) + "-bit rescale primes + a " + std::to_string(special_bits) +
                      "-bit special prime need about " + std::to_string(static_cast<int>(need)) +
                      " bits; the 128-bit table allows at most " + std::to_string(rlwe::max_secure_bits(32768)) +
                      " (N = 32768)" + (min_n > 32768 ? " and N must be <= 32768" : ""));
}

double Params::log2_q(std::size_t level) const {
  if (level == 0) level = q_.size();
  double s = 0;
  for (std::size_t i = 0; i < level && i < q_.size(); ++i) s += std::log2(static_cast<double>(q_[i]));
  return s;
}

double Params::log2_qp() const { return log2_q() + std::log2(static_cast<double>(special_)); }

std::string Params::to_json() const {
  std::ostringstream o;
  o.precision(17);
  o << "{\"scheme\":\"ckks\",\"n\":" << n_ << ",\"slots\":" << slots() << ",\"q\":[";
  for (std::size_t i = 0; i < q_.size(); ++i) o << (i ? "," : "") << q_[i];
  char idbuf[17];
  std::snprintf(idbuf, sizeof(idbuf), "%016llx", static_cast<unsigned long long>(id_));
  o << "],\"special_prime\":" << special_ << ",\"default_scale\":" << default_scale_
    << ",\"log2_scale\":" << std::log2(default_scale_) << ",\"log2_q\":" << log2_q() << ",\"log2_qp\":" << log2_qp()
    << ",\"max_secure_log2_qp\":" << rlwe::max_secure_bits(n_) << ",\"security\":\""
    << (security_ == Security::k128 ? "128" : "insecure-for-tests") << "\",\"id\":\"" << idbuf << "\"}";
  return o.str();
}

}  // namespace leukocrypt::ckks
