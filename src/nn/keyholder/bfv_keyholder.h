// The key holder's side of encrypted inference (lc_nn_keyholder: links lc_he_secret, never linked
// by the HTTP service): key generation for every plaintext prime, CryptoNets packing and secret-key
// (seeded) encryption of a batch of images, decryption with CRT into exact integer logits, and
// noise-budget measurement.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "he/bfv/batch_encoder.h"
#include "he/bfv/context.h"
#include "he/bfv/decryptor.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/symmetric_encryptor.h"
#include "nn/bfv_evaluator.h"
#include "nn/bfv_settings.h"
#include "nn/crt.h"
#include "nn/int128.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

class BfvKeyHolder {
 public:
  // Fresh keys for every plaintext prime (throws SecurityError for insecure settings unless
  // settings.insecure_for_tests).
  explicit BfvKeyHolder(BfvSettings settings);
  // Rebuilds a key holder from saved secret keys, one per plaintext prime in settings order
  // (the client's key files); throws InvalidArgument when a key does not match its parameters.
  // Takes the keys over: each secret exists once, in its KeyGenerator, and the encryptors and
  // decryptors refer to it.
  BfvKeyHolder(BfvSettings settings, std::vector<bfv::SecretKey> secret_keys);
  // Secret key of plaintext prime j (saved by `leukocrypt keygen`).
  const bfv::SecretKey& secret_key(std::size_t j) const { return keygens_.at(j)->secret_key(); }

  const BfvSettings& settings() const { return settings_; }
  const std::vector<bfv::ContextPtr>& contexts() const { return contexts_; }
  std::vector<bfv::RelinKeys> relin_keys() const;  // what the server needs
  bfv::PublicKey public_key(std::size_t j) const { return keygens_.at(j)->create_public_key(); }
  // Galois keys for exactly these rotation steps (SlotLayout::rotation_steps), one set per prime:
  // what the server needs for the latency layout (no row swap).
  std::vector<bfv::GaloisKeys> galois_keys(const std::vector<int>& steps) const;
  // The same keys one at a time, for a writer that streams them (client keygen): the Galois
  // elements of `steps` in the order a GaloisKeys set holds and serializes them (increasing,
  // distinct), and the key of plaintext prime j for one element (thread-safe).
  std::vector<std::uint32_t> galois_elts(const std::vector<int>& steps) const;
  // The blocked throughput layout's block sum: its row rotations and, for blocks in both slot
  // rows, the row swap (block_layout.h; the elements: block_sum_galois_elts).
  std::vector<bfv::GaloisKeys> block_sum_keys(const BlockLayout& blocks) const;
  bfv::KeySwitchKey galois_key(std::size_t j, std::uint32_t galois_elt) const;
  // Cells one throughput batch holds (N, or one block's slots with spatial blocks).
  std::size_t slot_count() const { return settings_.cells_per_batch(); }

  // Packs up to slot_count() images (image k -> slot k; with a blocked plan, slot k of every block:
  // block_layout.h) and encrypts one ciphertext per input value (plan.input_size()) per prime
  // (secret-key encryption: uploaded in the seeded, half-size form; batch.upload_bytes says how much).
  // encode_seconds / encrypt_seconds accumulate the wall time of the two phases when given.
  // seeds_out (if given) receives the seed of every ciphertext, [prime][value], for the seeded
  // serialized form (bfv::save_seeded) that the client uploads.
  EncryptedBatch encrypt(const Plan& plan, const std::vector<const std::uint8_t*>& images,
                         double* encode_seconds = nullptr, double* encrypt_seconds = nullptr,
                         std::vector<std::vector<he::Seed>>* seeds_out = nullptr) const;

  // Input value `value` of every image (image k -> slot k) packed and encrypted for plaintext prime
  // `prime` alone: what a streaming source (BfvPlanEvaluator::evaluate_prime) pulls. Thread-safe.
  // encode_seconds / encrypt_seconds (if given) receive the time of the two phases. blocks (if
  // given and not empty): the blocked throughput layout's ciphertext `value` (image k -> slot k of
  // every block, block_layout.h) instead.
  bfv::Ciphertext encrypt_value(std::size_t prime, const std::vector<const std::uint8_t*>& images, std::size_t value,
                                he::Seed* seed = nullptr, double* encode_seconds = nullptr,
                                double* encrypt_seconds = nullptr, const BlockLayout* blocks = nullptr) const;

  // Latency layout: up to layout.cells_per_ciphertext() cells packed into one ciphertext for
  // plaintext prime `prime` (cell c in block c, its values at layout.in_slot). Thread-safe.
  bfv::Ciphertext encrypt_cells(std::size_t prime, const SlotLayout& layout, const std::uint8_t* const* cells,
                                std::size_t count, he::Seed* seed = nullptr) const;
  // Latency layout: the results [prime][ciphertext] of `cells` cells -> cells x outputs exact logits.
  std::vector<Int128> decrypt_cells(const SlotLayout& layout, const std::vector<std::vector<bfv::Ciphertext>>& out,
                                    std::size_t cells) const;

  // Decrypts the output ciphertexts and joins the primes: images x outputs exact logits.
  std::vector<Int128> decrypt(const EncryptedBatch& out, double* decode_seconds = nullptr,
                              double* decrypt_seconds = nullptr) const;

  // Smallest remaining noise budget (bits) over up to `sample` ciphertexts of every prime.
  int noise_budget(const EncryptedBatch& batch, std::size_t sample = 4) const;
  // Remaining noise budget (bits) of one ciphertext of plaintext prime `prime` (size 2 or 3).
  int noise_budget(std::size_t prime, const bfv::Ciphertext& ct) const;

 private:
  BfvSettings settings_;
  std::vector<bfv::ContextPtr> contexts_;
  std::vector<std::unique_ptr<bfv::KeyGenerator>> keygens_;
  std::vector<bfv::BatchEncoder> encoders_;
  std::vector<bfv::SymmetricEncryptor> encryptors_;
  std::vector<bfv::Decryptor> decryptors_;
  Crt crt_;
};

}  // namespace leukocrypt::nn
