// Key material shared by the BFV and CKKS schemes (both are RLWE over the same ring with one
// special prime). Every key carries the params id and a key id (random 64 bits chosen when the secret
// key is generated, shared by all keys derived from it) so that mismatched keys are rejected.
// All polynomials are stored in NTT form.
//  - SecretKey: ternary s, as small integers and in NTT form over q_0..q_{L-1}, p. Exactly one
//    copy exists (non-copyable: move it; decryptors and secret-key encryptors refer to it), and
//    its memory is wiped (sodium_memzero) when it is destroyed or overwritten.
//  - PublicKey: (pk0, pk1) = (-(a*s + e), a) over q_0..q_{L-1}; a may come from a 32-byte seed.
//  - KeySwitchKey: RNS gadget decomposition with one special prime p: for each digit i < L,
//    (b_i, a_i) = (-a_i*s + e_i + p*[Q/q_i * ((Q/q_i)^-1 mod q_i)]*s', a_i) over q_0..q_{L-1}, p.
//  - RelinKeys: the key-switching key for s' = s^2.
//  - GaloisKeys: one key-switching key per Galois element g, for s' = s(X^g).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/aligned_buffer.h"
#include "he/ring/sampler.h"

namespace leukocrypt::rlwe {

class SecretKey {
 public:
  SecretKey() = default;
  SecretKey(std::uint64_t params_id, std::uint64_t key_id, std::size_t n, std::size_t primes)
      : params_id_(params_id), key_id_(key_id), n_(n), primes_(primes), coeffs_(n), ntt_(n * primes) {}
  SecretKey(const SecretKey&) = delete;
  SecretKey& operator=(const SecretKey&) = delete;
  SecretKey(SecretKey&&) noexcept = default;
  SecretKey& operator=(SecretKey&& o) noexcept;  // wipes the key it replaces
  ~SecretKey() { wipe(); }
  // Zeroes the key (sodium_memzero); the destructor calls it.
  void wipe() noexcept;
  std::uint64_t params_id() const { return params_id_; }
  std::uint64_t key_id() const { return key_id_; }
  std::size_t n() const { return n_; }
  std::size_t primes() const { return primes_; }  // L + 1
  std::int8_t* coeffs() { return coeffs_.data(); }
  const std::int8_t* coeffs() const { return coeffs_.data(); }
  // NTT form mod prime i (i = L is the special prime).
  std::uint64_t* ntt(std::size_t i) { return ntt_.data() + i * n_; }
  const std::uint64_t* ntt(std::size_t i) const { return ntt_.data() + i * n_; }

 private:
  std::uint64_t params_id_ = 0, key_id_ = 0;
  std::size_t n_ = 0, primes_ = 0;
  AlignedBuffer<std::int8_t> coeffs_;
  AlignedBuffer<std::uint64_t> ntt_;
};

class PublicKey {
 public:
  PublicKey() = default;
  PublicKey(std::uint64_t params_id, std::uint64_t key_id, std::size_t n, std::size_t level)
      : params_id_(params_id), key_id_(key_id), n_(n), level_(level), data_(2 * n * level) {}
  PublicKey(const PublicKey& o)
      : params_id_(o.params_id_), key_id_(o.key_id_), n_(o.n_), level_(o.level_), data_(o.data_.clone()),
        seed_(o.seed_) {}
  PublicKey& operator=(const PublicKey& o) { return *this = PublicKey(o); }
  PublicKey(PublicKey&&) noexcept = default;
  PublicKey& operator=(PublicKey&&) noexcept = default;
  std::uint64_t params_id() const { return params_id_; }
  std::uint64_t key_id() const { return key_id_; }
  std::size_t n() const { return n_; }
  std::size_t level() const { return level_; }
  // Component k (0: pk0, 1: pk1 = a), prime i, NTT form.
  std::uint64_t* data(std::size_t k, std::size_t i) { return data_.data() + (k * level_ + i) * n_; }
  const std::uint64_t* data(std::size_t k, std::size_t i) const { return data_.data() + (k * level_ + i) * n_; }
  // Seed that pk1 was expanded from (enables the half-size serialized form).
  const std::optional<he::Seed>& seed() const { return seed_; }
  void set_seed(const he::Seed& s) { seed_ = s; }

 private:
  std::uint64_t params_id_ = 0, key_id_ = 0;
  std::size_t n_ = 0, level_ = 0;
  AlignedBuffer<std::uint64_t> data_;
  std::optional<he::Seed> seed_;
};

class KeySwitchKey {
 public:
  KeySwitchKey() = default;
  // digits = L, primes = L + 1.
  KeySwitchKey(std::size_t n, std::size_t digits, std::size_t primes)
      : n_(n), digits_(digits), primes_(primes), data_(2 * n * digits * primes) {}
  KeySwitchKey(const KeySwitchKey& o)
      : n_(o.n_), digits_(o.digits_), primes_(o.primes_), data_(o.data_.clone()), seed_(o.seed_) {}
  KeySwitchKey& operator=(const KeySwitchKey& o) { return *this = KeySwitchKey(o); }
  KeySwitchKey(KeySwitchKey&&) noexcept = default;
  KeySwitchKey& operator=(KeySwitchKey&&) noexcept = default;
  std::size_t n() const { return n_; }
  std::size_t digits() const { return digits_; }
  std::size_t primes() const { return primes_; }
  // Digit d, component k (0: b, 1: a), prime j (j = primes-1 is p), NTT form.
  std::uint64_t* data(std::size_t d, std::size_t k, std::size_t j) {
    return data_.data() + ((d * 2 + k) * primes_ + j) * n_;
  }
  const std::uint64_t* data(std::size_t d, std::size_t k, std::size_t j) const {
    return data_.data() + ((d * 2 + k) * primes_ + j) * n_;
  }
  std::uint64_t* raw() { return data_.data(); }
  const std::uint64_t* raw() const { return data_.data(); }
  std::size_t raw_size() const { return data_.size(); }
  // Seed every 'a' row was expanded from (expand_key_switch_seed): enables the half-size
  // serialized form of Galois keys.
  const std::optional<he::Seed>& seed() const { return seed_; }
  void set_seed(const he::Seed& s) { seed_ = s; }

 private:
  std::size_t n_ = 0, digits_ = 0, primes_ = 0;
  AlignedBuffer<std::uint64_t> data_;
  std::optional<he::Seed> seed_;
};

class RelinKeys {
 public:
  RelinKeys() = default;
  RelinKeys(std::uint64_t params_id, std::uint64_t key_id, KeySwitchKey key)
      : params_id_(params_id), key_id_(key_id), key_(std::move(key)) {}
  std::uint64_t params_id() const { return params_id_; }
  std::uint64_t key_id() const { return key_id_; }
  const KeySwitchKey& key() const { return key_; }
  bool empty() const { return key_.digits() == 0; }

 private:
  std::uint64_t params_id_ = 0, key_id_ = 0;
  KeySwitchKey key_;
};

class GaloisKeys {
 public:
  GaloisKeys() = default;
  GaloisKeys(std::uint64_t params_id, std::uint64_t key_id) : params_id_(params_id), key_id_(key_id) {}
  std::uint64_t params_id() const { return params_id_; }
  std::uint64_t key_id() const { return key_id_; }
  bool has(std::uint32_t galois_elt) const { return keys_.count(galois_elt) != 0; }
  // Throws InvalidArgument naming the element when absent.
  const KeySwitchKey& get(std::uint32_t galois_elt) const;
  void insert(std::uint32_t galois_elt, KeySwitchKey key) { keys_[galois_elt] = std::move(key); }
  const std::map<std::uint32_t, KeySwitchKey>& keys() const { return keys_; }

  // Evaluation form. A rotation's key switch computes sum_i digit_i(c1(X^g)) * k_g,i; with every
  // row of k_g stored as k_g(X^(g^-1)) (the NTT-domain permutation's inverse), the same sum is
  // the permutation of sum_i digit_i(c1) * k'_g,i: a hoisted rotation then permutes its 2 outputs
  // per prime instead of its l digits (l(l+1) -> 2(l+1) gathers), bit for bit the same result
  // (key_switch.h). The BFV and CKKS evaluators' rotations take keys in either form; save()
  // refuses this one. Once per set: the second call throws.
  bool permuted() const { return permuted_; }
  void permute_for_evaluation(const std::uint32_t* bitrev);

 private:
  std::uint64_t params_id_ = 0, key_id_ = 0;
  std::map<std::uint32_t, KeySwitchKey> keys_;
  bool permuted_ = false;
};

// Galois element for a rotation of the slots by `step` (left for step > 0), N = n:
// generator^step mod 2N (generator^-|step| for negative steps; the generator has order N/2).
// BFV rotates its slot rows with generator 3 (as SEAL), CKKS its N/2 slots with 5 (the special
// FFT's rotation group). 2N - 1 swaps BFV's rows / conjugates CKKS's slots.
std::uint32_t galois_elt_for_step(int step, std::size_t n, std::uint32_t generator = 3);
inline std::uint32_t galois_elt_for_columns(std::size_t n) { return static_cast<std::uint32_t>(2 * n - 1); }

}  // namespace leukocrypt::rlwe
