// Params creation and validation: prime selection, the security table, the params id.
#include "he/bfv/params.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <sstream>

#include "common/error.h"
#include "he/math/primes.h"
#include "he/rlwe/params_id.h"
#include "he/rlwe/security.h"

namespace leukocrypt::bfv {
namespace {

bool is_power_of_two(std::size_t n) { return n && !(n & (n - 1)); }

int log2_exact(std::size_t n) {
  int l = 0;
  while ((std::size_t{1} << l) < n) ++l;
  return l;
}

std::uint64_t compute_id(const Params& p) {
  // One special prime hashes as before; k > 1 marks the count word (as the serialized chain does).
  const std::size_t k = p.special_primes().size();
  std::vector<std::uint64_t> words = {p.n(), p.q().size() | ((k - 1) << 16)};
  words.insert(words.end(), p.q().begin(), p.q().end());
  words.insert(words.end(), p.special_primes().begin(), p.special_primes().end());
  words.insert(words.end(), {p.t(), static_cast<std::uint64_t>(p.security())});
  return rlwe::params_id("leukocrypt-bfv-params-v1", words);
}

}  // namespace

int Params::max_secure_bits(std::size_t n) { return rlwe::max_secure_bits(n); }

std::vector<int> Params::default_q_bits(std::size_t n) {
  switch (n) {
    case 2048: return {27, 27};
    case 4096: return {36, 36, 37};
    case 8192: return {43, 43, 44, 44, 44};
    case 16384: return {48, 48, 48, 49, 49, 49, 49, 49, 49};
    case 32768: {
      std::vector<int> b(18, 49);
      b[0] = 48;
      return b;
    }
    default:
      throw InvalidArgument("Params::default_for: no default modulus for N=" + std::to_string(n) +
                            " (use 2048, 4096, 8192, 16384 or 32768)");
  }
}

Params Params::default_for(std::size_t n, std::uint64_t t) { return create(n, default_q_bits(n), t); }

Params Params::create(std::size_t n, const std::vector<int>& q_bits, std::uint64_t t, Security security,
                      std::size_t special_primes) {
  require(is_power_of_two(n) && n >= 8 && n <= 32768,
          "Params: N must be a power of two in [8, 32768], got " + std::to_string(n));
  require(special_primes >= 1, "Params: need at least one special prime");
  require(q_bits.size() >= special_primes + 1,
          "Params: q_bits needs at least one ciphertext prime and " + std::to_string(special_primes) +
              " special prime(s), got " + std::to_string(q_bits.size()) + " sizes");
  const int log_n = log2_exact(n);
  std::map<int, std::size_t> count;
  for (int b : q_bits) {
    require(b >= 20 && b <= 60, "Params: prime size " + std::to_string(b) + " bits outside [20, 60]");
    ++count[b];
  }
  std::map<int, std::vector<std::uint64_t>> pool;
  for (auto [b, c] : count) {
    auto primes = he::ntt_primes_below(b, log_n, c + 1);
    primes.erase(std::remove(primes.begin(), primes.end(), t), primes.end());
    primes.resize(c);
    std::reverse(primes.begin(), primes.end());  // pop_back takes the largest first
    pool[b] = std::move(primes);
  }
  std::vector<std::uint64_t> all;
  for (int b : q_bits) {
    all.push_back(pool[b].back());
    pool[b].pop_back();
  }
  std::vector<std::uint64_t> specials(all.end() - static_cast<std::ptrdiff_t>(special_primes), all.end());
  all.resize(all.size() - special_primes);
  return create_from_primes(n, std::move(all), std::move(specials), t, security);
}

Params Params::create_from_primes(std::size_t n, std::vector<std::uint64_t> q, std::uint64_t special,
                                  std::uint64_t t, Security security) {
  return create_from_primes(n, std::move(q), std::vector<std::uint64_t>{special}, t, security);
}

Params Params::create_from_primes(std::size_t n, std::vector<std::uint64_t> q, std::vector<std::uint64_t> specials,
                                  std::uint64_t t, Security security) {
  rlwe::require_ntt_primes(n, q, specials, "Params");
  require(security == Security::k128 || security == Security::kInsecureForTests, "Params: unknown security level");
  require(t >= 2 && t < (1ULL << 60), "Params: plaintext modulus t=" + std::to_string(t) + " outside [2, 2^60)");
  for (std::size_t i = 0; i < q.size() + specials.size(); ++i) {
    const std::uint64_t v = i < q.size() ? q[i] : specials[i - q.size()];
    const std::string name = i >= q.size() ? "special prime" : "q_" + std::to_string(i);
    require(std::gcd(v, t) == 1, "Params: " + name + " and t=" + std::to_string(t) + " are not coprime");
  }
  Params p;
  p.n_ = n;
  p.log_n_ = log2_exact(n);
  p.q_ = std::move(q);
  p.specials_ = std::move(specials);
  p.t_ = t;
  p.security_ = security;
  p.batching_ = he::is_prime(t) && t % (2 * n) == 1;
  if (security == Security::k128) rlwe::require_128_bit(n, p.log2_qp(), "Params");
  p.id_ = compute_id(p);
  return p;
}

double Params::log2_q(std::size_t level) const {
  if (level == 0) level = q_.size();
  double s = 0;
  for (std::size_t i = 0; i < level && i < q_.size(); ++i) s += std::log2(static_cast<double>(q_[i]));
  return s;
}

double Params::log2_special() const {
  double s = 0;
  for (std::uint64_t p : specials_) s += std::log2(static_cast<double>(p));
  return s;
}

double Params::log2_qp() const { return log2_q() + log2_special(); }

std::string Params::to_json() const {
  std::ostringstream o;
  o << "{\"scheme\":\"bfv\",\"n\":" << n_ << ",\"q\":[";
  for (std::size_t i = 0; i < q_.size(); ++i) o << (i ? "," : "") << q_[i];
  char idbuf[17];
  std::snprintf(idbuf, sizeof(idbuf), "%016llx", static_cast<unsigned long long>(id_));
  o << "],\"special_prime\":" << specials_.front() << ",\"special_primes\":[";
  for (std::size_t i = 0; i < specials_.size(); ++i) o << (i ? "," : "") << specials_[i];
  o << "],\"t\":" << t_ << ",\"log2_q\":" << log2_q()
    << ",\"log2_qp\":" << log2_qp() << ",\"max_secure_log2_qp\":" << max_secure_bits(n_)
    << ",\"security\":\"" << (security_ == Security::k128 ? "128" : "insecure-for-tests") << "\""
    << ",\"batching\":" << (batching_ ? "true" : "false") << ",\"id\":\"" << idbuf << "\"}";
  return o.str();
}

}  // namespace leukocrypt::bfv
