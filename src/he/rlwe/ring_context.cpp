// RingContext precomputation: NTT tables for every prime and the division-by-p constants.
#include "he/rlwe/ring_context.h"

namespace leukocrypt::rlwe {

RingContext::RingContext(std::uint64_t params_id, std::size_t n, const std::vector<std::uint64_t>& q,
                         std::uint64_t special)
    : params_id_(params_id), n_(n) {
  for (std::size_t i = 0; i <= q.size(); ++i) {
    moduli_.emplace_back(i < q.size() ? q[i] : special);
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
  const Modulus& p = moduli_.back();
  for (std::size_t j = 0; j < q.size(); ++j) {
    const std::uint64_t pm = moduli_[j].reduce(p.value());
    p_mod_q_.push_back(pm);
    p_inv_mod_q_.push_back(he::make_shoup(he::inv_mod(pm, moduli_[j]), moduli_[j].value()));
  }
}

}  // namespace leukocrypt::rlwe
