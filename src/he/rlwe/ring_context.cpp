// RingContext precomputation: NTT tables for every prime and the division-by-p constants.
#include "he/rlwe/ring_context.h"

#include <algorithm>

#include "common/error.h"

namespace leukocrypt::rlwe {
namespace {

BaseConversion make_conversion(const std::vector<Modulus>& moduli, std::size_t begin, std::size_t size) {
  BaseConversion c;
  c.begin = begin;
  c.size = size;
  const std::size_t primes = moduli.size();
  c.hat_mod.resize(primes * size);
  for (std::size_t t = 0; t < primes; ++t) {
    const Modulus& q = moduli[t];
    for (std::size_t m = 0; m < size; ++m) {
      std::uint64_t hat = 1;  // D / q_m mod q_t
      for (std::size_t o = 0; o < size; ++o)
        if (o != m) hat = he::mul_mod(hat, q.reduce(moduli[begin + o].value()), q);
      c.hat_mod[t * size + m] = he::make_shoup(hat, q.value());
      if (t == begin + m) c.hat_inv.push_back(he::make_shoup(he::inv_mod(hat, q), q.value()));
    }
  }
  return c;
}

}  // namespace

RingContext::RingContext(std::uint64_t params_id, std::size_t n, const std::vector<std::uint64_t>& q,
                         const std::vector<std::uint64_t>& specials)
    : params_id_(params_id), n_(n), specials_(specials.size()) {
  require(!specials.empty() && !q.empty(), "RingContext: needs a ciphertext prime and a special prime");
  for (std::size_t i = 0; i < q.size() + specials.size(); ++i) {
    moduli_.emplace_back(i < q.size() ? q[i] : specials[i - q.size()]);
    ntt_.push_back(std::make_unique<NttTables>(n, moduli_.back()));
    all_simd_ = all_simd_ && moduli_.back().bit_count() <= he::kIfmaMaxModulusBits;
  }
  int log_n = 0;
  while ((std::size_t{1} << log_n) < n) ++log_n;
  bitrev_.resize(n);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t r = 0;
    for (int b = 0; b < log_n; ++b) r |= ((k >> b) & 1) << (log_n - 1 - b);
    bitrev_[k] = static_cast<std::uint32_t>(r);
  }
  for (std::size_t j = 0; j < q.size(); ++j) {
    std::uint64_t pm = 1;
    for (std::uint64_t p : specials) pm = he::mul_mod(pm, moduli_[j].reduce(p), moduli_[j]);
    p_mod_q_.push_back(pm);
    p_inv_mod_q_.push_back(he::make_shoup(he::inv_mod(pm, moduli_[j]), moduli_[j].value()));
    // (P - 1) / 2 = (P - 1) * 2^-1 (P odd).
    const std::uint64_t qv = moduli_[j].value();
    half_p_mod_q_.push_back(he::mul_mod(he::sub_mod(pm, 1, qv), (qv + 1) / 2, moduli_[j]));
  }
  for (std::size_t level = 1; level <= q.size(); ++level) {
    std::vector<BaseConversion> digits;
    for (std::size_t b = 0; b < level; b += specials_)
      digits.push_back(make_conversion(moduli_, b, std::min(specials_, level - b)));
    digit_conv_.push_back(std::move(digits));
  }
  special_conv_ = make_conversion(moduli_, q.size(), specials_);
}

}  // namespace leukocrypt::rlwe
