// The key holder's side of CKKS encrypted inference (lc_nn_keyholder: links lc_he_secret): keys,
// packing and seeded secret-key encryption (throughput: one image per slot, one ciphertext per
// input value; latency: several cells' values in the blocks of one ciphertext), decryption of the
// logits. Security (Li-Micciancio, EUROCRYPT 2021): a CKKS decryption is the message plus noise that
// depends on the secret key, so decrypted logits stay with the key holder and are never returned to
// the provider that evaluated them.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/symmetric_encryptor.h"
#include "nn/ckks_settings.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

class CkksKeyHolder {
 public:
  explicit CkksKeyHolder(const CkksSettings& settings);
  // From a saved secret key (the client's secret.key); the key must be for settings.params.
  CkksKeyHolder(const CkksSettings& settings, ckks::SecretKey&& secret_key);

  const CkksSettings& settings() const { return settings_; }
  const ckks::ContextPtr& context() const { return ctx_; }
  ckks::RelinKeys relin_keys() const { return keygen_->create_relin_keys(); }
  ckks::PublicKey public_key() const { return keygen_->create_public_key(); }
  const ckks::SecretKey& secret_key() const { return keygen_->secret_key(); }
  std::size_t slot_count() const { return ctx_->params().slots(); }
  // Galois keys for exactly these rotation steps (the latency layout's rotation_steps()), no conjugation.
  ckks::GaloisKeys galois_keys(const std::vector<int>& steps) const;
  // One Galois key (keygen writes them one at a time).
  ckks::KeySwitchKey galois_key(std::uint32_t galois_elt) const { return keygen_->create_galois_key(galois_elt); }

  // Input value `value` (pixel x plan.input_scale) of every image, image k in slot k, encrypted at
  // the default scale. Thread-safe. At most slot_count() images.
  ckks::Ciphertext encrypt_value(const Plan& plan, const std::vector<const std::uint8_t*>& images, std::size_t value,
                                 he::Seed* seed = nullptr) const;
  // images x outputs logits from the output ciphertexts.
  std::vector<double> decrypt(const std::vector<ckks::Ciphertext>& outputs, std::size_t images) const;

  // Latency layout (plan.slots, SlotScheme::kCkks): cell c's value v (pixel x plan.input_scale) at
  // slot c * block + in_slot[v]; 1..cells_per_ciphertext() cells, other slots 0. Thread-safe.
  ckks::Ciphertext encrypt_cells(const Plan& plan, const std::uint8_t* const* cells, std::size_t count,
                                 he::Seed* seed = nullptr) const;
  // cells x outputs logits from the latency results (cells in order, cells_per_ciphertext() each).
  std::vector<double> decrypt_cells(const SlotLayout& layout, const std::vector<ckks::Ciphertext>& results,
                                    std::size_t cells) const;

 private:
  CkksSettings settings_;
  ckks::ContextPtr ctx_;
  std::unique_ptr<ckks::KeyGenerator> keygen_;
  ckks::Encoder encoder_;
  ckks::SymmetricEncryptor encryptor_;
  ckks::Decryptor decryptor_;
};

}  // namespace leukocrypt::nn
