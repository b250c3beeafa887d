// Key containers: Galois key lookup and Galois elements for rotations.
#include "he/rlwe/keys.h"

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "he/ring/rns_poly.h"
#include "he/ring/secure_wipe.h"

namespace leukocrypt::rlwe {

void SecretKey::wipe() noexcept {
  he::secure_wipe(coeffs_.data(), coeffs_.size());
  he::secure_wipe(ntt_.data(), ntt_.size() * sizeof(std::uint64_t));
}

SecretKey& SecretKey::operator=(SecretKey&& o) noexcept {
  if (this == &o) return *this;
  wipe();
  params_id_ = o.params_id_;
  key_id_ = o.key_id_;
  n_ = o.n_;
  primes_ = o.primes_;
  coeffs_ = std::move(o.coeffs_);
  ntt_ = std::move(o.ntt_);
  return *this;
}

const KeySwitchKey& GaloisKeys::get(std::uint32_t galois_elt) const {
  auto it = keys_.find(galois_elt);
  if (it == keys_.end())
    throw InvalidArgument("GaloisKeys: no key for Galois element " + std::to_string(galois_elt) +
                          " (generate it with create_galois_keys)");
  return it->second;
}

void GaloisKeys::permute_for_evaluation(const std::uint32_t* bitrev) {
  require(!permuted_, "GaloisKeys: the keys are already in evaluation form");
  std::vector<std::uint32_t> index;
  std::vector<std::uint64_t> row;
  for (auto& [g, key] : keys_) {
    const std::size_t n = key.n();
    index.resize(n);
    row.resize(n);
    he::automorphism_ntt_index(n, g, bitrev, index.data());
    // k'[index[c]] = k[c], so that the permutation (out[c] = in[index[c]]) of k' is k.
    for (std::size_t r = 0; r < key.raw_size() / n; ++r) {
      std::uint64_t* k = key.raw() + r * n;
      std::copy(k, k + n, row.data());
      for (std::size_t c = 0; c < n; ++c) k[index[c]] = row[c];
    }
  }
  permuted_ = true;
}

std::uint32_t galois_elt_for_step(int step, std::size_t n, std::uint32_t generator) {
  const std::size_t half = n / 2;
  require(step != 0 && static_cast<std::size_t>(std::abs(step)) < half,
          "rotation step " + std::to_string(step) + " must be non-zero with |step| < N/2=" + std::to_string(half));
  // Rotating left by step = applying g^step; right by |step| = g^(N/2 - |step|) (g has order N/2).
  std::size_t e = step > 0 ? static_cast<std::size_t>(step) : half - static_cast<std::size_t>(-step);
  const std::uint64_t m = 2 * n;
  std::uint64_t g = 1, b = generator;
  while (e) {
    if (e & 1) g = g * b % m;
    b = b * b % m;
    e >>= 1;
  }
  return static_cast<std::uint32_t>(g);
}

}  // namespace leukocrypt::rlwe
