// Key holder: keys, packing + encryption, decryption + CRT, noise measurement.
#include "nn/keyholder/bfv_keyholder.h"

#include <algorithm>

#include "common/error.h"
#include "common/thread_pool.h"
#include "common/timer.h"
#include "he/bfv/serialization.h"

namespace leukocrypt::nn {

BfvKeyHolder::BfvKeyHolder(BfvSettings settings) : settings_(std::move(settings)), crt_(settings_.plain_primes) {
  for (auto& p : settings_.params()) {
    auto ctx = bfv::Context::create(p);
    contexts_.push_back(ctx);
    keygens_.push_back(std::make_unique<bfv::KeyGenerator>(ctx));
    encoders_.emplace_back(ctx);
    encryptors_.emplace_back(ctx, keygens_.back()->secret_key());
    decryptors_.emplace_back(ctx, keygens_.back()->secret_key());
  }
}

BfvKeyHolder::BfvKeyHolder(BfvSettings settings, std::vector<bfv::SecretKey> secret_keys)
    : settings_(std::move(settings)), crt_(settings_.plain_primes) {
  auto params = settings_.params();
  require(secret_keys.size() == params.size(), "key holder: " + std::to_string(secret_keys.size()) +
                                                   " secret keys for " + std::to_string(params.size()) +
                                                   " plaintext primes");
  for (std::size_t j = 0; j < params.size(); ++j) {
    auto ctx = bfv::Context::create(params[j]);
    contexts_.push_back(ctx);
    keygens_.push_back(std::make_unique<bfv::KeyGenerator>(ctx, std::move(secret_keys[j])));
    encoders_.emplace_back(ctx);
    encryptors_.emplace_back(ctx, keygens_.back()->secret_key());
    decryptors_.emplace_back(ctx, keygens_.back()->secret_key());
  }
}

std::vector<bfv::RelinKeys> BfvKeyHolder::relin_keys() const {
  std::vector<bfv::RelinKeys> out;
  for (const auto& kg : keygens_) out.push_back(kg->create_relin_keys());
  return out;
}

std::vector<bfv::GaloisKeys> BfvKeyHolder::galois_keys(const std::vector<int>& steps) const {
  std::vector<bfv::GaloisKeys> out(keygens_.size());
  ThreadPool::global().parallel_for(0, keygens_.size(), [&](std::size_t j) {
    out[j] = keygens_[j]->create_galois_keys(steps, /*add_columns=*/false);
  });
  return out;
}

std::vector<bfv::GaloisKeys> BfvKeyHolder::block_sum_keys(const BlockLayout& blocks) const {
  std::vector<bfv::GaloisKeys> out(keygens_.size());
  ThreadPool::global().parallel_for(0, keygens_.size(), [&](std::size_t j) {
    out[j] = keygens_[j]->create_galois_keys(blocks.rotation_steps(), /*add_columns=*/blocks.swaps());
  });
  return out;
}

std::vector<std::uint32_t> BfvKeyHolder::galois_elts(const std::vector<int>& steps) const {
  std::vector<std::uint32_t> elts;
  for (int s : steps) elts.push_back(bfv::galois_elt_for_step(s, settings_.n));
  std::sort(elts.begin(), elts.end());
  elts.erase(std::unique(elts.begin(), elts.end()), elts.end());
  return elts;
}

bfv::KeySwitchKey BfvKeyHolder::galois_key(std::size_t j, std::uint32_t galois_elt) const {
  require(j < keygens_.size(), "galois_key: plaintext prime " + std::to_string(j) + " of " +
                                   std::to_string(keygens_.size()));
  return keygens_[j]->create_galois_key(galois_elt);
}

bfv::Ciphertext BfvKeyHolder::encrypt_cells(std::size_t prime, const SlotLayout& layout,
                                            const std::uint8_t* const* cells, std::size_t count, he::Seed* seed) const {
  require(prime < contexts_.size(), "encrypt_cells: plaintext prime " + std::to_string(prime) + " of " +
                                        std::to_string(contexts_.size()));
  require(layout.n == settings_.n, "encrypt_cells: layout made for N = " + std::to_string(layout.n) +
                                       ", keys for N = " + std::to_string(settings_.n));
  require(count >= 1 && count <= layout.cells_per_ciphertext(),
          "encrypt_cells: " + std::to_string(count) + " cells; a ciphertext holds 1.." +
              std::to_string(layout.cells_per_ciphertext()));
  std::vector<std::uint64_t> slots(settings_.n, 0);
  for (std::size_t c = 0; c < count; ++c)
    for (std::size_t v = 0; v < layout.in_slot.size(); ++v) slots[c * layout.block + layout.in_slot[v]] = cells[c][v];
  return encryptors_[prime].encrypt(encoders_[prime].encode(slots), seed);
}

std::vector<Int128> BfvKeyHolder::decrypt_cells(const SlotLayout& layout,
                                                const std::vector<std::vector<bfv::Ciphertext>>& out,
                                                std::size_t cells) const {
  const std::size_t k = contexts_.size(), cts = layout.ciphertexts_for(cells), n_out = layout.out_slot.size();
  require(out.size() == k, "decrypt: " + std::to_string(out.size()) + " primes, expected " + std::to_string(k));
  for (const auto& v : out)
    require(v.size() == cts, "decrypt: " + std::to_string(v.size()) + " result ciphertexts for " +
                                 std::to_string(cells) + " cells, expected " + std::to_string(cts));
  std::vector<std::vector<std::uint64_t>> slots(k * cts);
  ThreadPool::global().parallel_for(0, k * cts, [&](std::size_t idx) {
    const std::size_t j = idx / cts, c = idx % cts;
    require(out[j][c].params_id() == contexts_[j]->params_id(),
            "decrypt: result ciphertext " + std::to_string(c) + " is for other parameters");
    slots[idx] = encoders_[j].decode(decryptors_[j].decrypt(out[j][c]));
  });
  std::vector<Int128> logits(cells * n_out);
  std::vector<std::uint64_t> r(k);
  const std::size_t per = layout.cells_per_ciphertext();
  for (std::size_t i = 0; i < cells; ++i)
    for (std::size_t o = 0; o < n_out; ++o) {
      for (std::size_t j = 0; j < k; ++j) r[j] = slots[j * cts + i / per][(i % per) * layout.block + layout.out_slot[o]];
      logits[i * n_out + o] = crt_.lift(r.data());
    }
  return logits;
}

namespace {

// Slot values of input ciphertext `value`: image k -> slot k, or with blocks slot k of every block
// (the block's input value of image k, 0 for padding).
std::vector<std::uint64_t> pack_value(const std::vector<const std::uint8_t*>& images, std::size_t value,
                                      const BlockLayout* bl) {
  if (!bl || bl->empty()) {
    std::vector<std::uint64_t> slots(images.size());
    for (std::size_t i = 0; i < images.size(); ++i) slots[i] = images[i][value];
    return slots;
  }
  require(images.size() <= bl->slots && value < bl->inputs(),
          "encrypt: " + std::to_string(images.size()) + " images for blocks of " + std::to_string(bl->slots) +
              " slots, or input " + std::to_string(value) + " of " + std::to_string(bl->inputs()));
  std::vector<std::uint64_t> slots(bl->n, 0);
  for (std::size_t b = 0; b < bl->count; ++b) {
    const std::int32_t src = bl->source[value * bl->count + b];
    if (src < 0) continue;
    for (std::size_t i = 0; i < images.size(); ++i) slots[bl->slot(b, i)] = images[i][std::size_t(src)];
  }
  return slots;
}

}  // namespace

EncryptedBatch BfvKeyHolder::encrypt(const Plan& plan, const std::vector<const std::uint8_t*>& images,
                                     double* encode_seconds, double* encrypt_seconds,
                                     std::vector<std::vector<he::Seed>>* seeds_out) const {
  const std::size_t cap = plan.blocks.empty() ? settings_.n : plan.blocks.slots;
  require(!images.empty() && images.size() <= cap,
          "encrypt: " + std::to_string(images.size()) + " images; a batch holds 1.." + std::to_string(cap));
  require(plan.blocks.empty() || plan.blocks.n == settings_.n, "encrypt: the plan's blocks are for another N");
  const std::size_t k = contexts_.size(), n_in = plan.input_size();
  EncryptedBatch b;
  b.images = images.size();
  b.values.assign(k, std::vector<bfv::Ciphertext>(n_in));
  // Phase 1: slot vectors -> plaintexts (the same for every prime below 256 < t, but each prime
  // has its own NTT mod t_j).
  Timer t;
  std::vector<std::size_t> upload(k, 0);
  std::vector<std::vector<bfv::Plaintext>> pts(k, std::vector<bfv::Plaintext>(n_in));
  ThreadPool::global().parallel_for(0, k * n_in, [&](std::size_t idx) {
    const std::size_t j = idx / n_in, v = idx % n_in;
    pts[j][v] = encoders_[j].encode(pack_value(images, v, &plan.blocks));
  });
  if (encode_seconds) *encode_seconds += t.seconds();
  t.reset();
  if (seeds_out) seeds_out->assign(k, std::vector<he::Seed>(n_in));
  ThreadPool::global().parallel_for(0, k * n_in, [&](std::size_t idx) {
    const std::size_t j = idx / n_in, v = idx % n_in;
    he::Seed seed;
    b.values[j][v] = encryptors_[j].encrypt(pts[j][v], &seed);
    if (seeds_out) (*seeds_out)[j][v] = seed;
    pts[j][v] = bfv::Plaintext();
    if (v == 0) upload[j] = bfv::save_seeded(b.values[j][v], seed).size() * n_in;
  });
  for (auto u : upload) b.upload_bytes += u;
  if (encrypt_seconds) *encrypt_seconds += t.seconds();
  return b;
}

bfv::Ciphertext BfvKeyHolder::encrypt_value(std::size_t prime, const std::vector<const std::uint8_t*>& images,
                                           std::size_t value, he::Seed* seed, double* encode_seconds,
                                           double* encrypt_seconds, const BlockLayout* blocks) const {
  require(prime < contexts_.size(), "encrypt_value: plaintext prime " + std::to_string(prime) + " of " +
                                        std::to_string(contexts_.size()));
  require(!images.empty() && images.size() <= settings_.n,
          "encrypt_value: " + std::to_string(images.size()) + " images; a batch holds 1.." + std::to_string(settings_.n));
  require(!blocks || blocks->empty() || blocks->n == settings_.n, "encrypt_value: the blocks are for another N");
  Timer t;
  const bfv::Plaintext pt = encoders_[prime].encode(pack_value(images, value, blocks));
  if (encode_seconds) *encode_seconds = t.seconds();
  t.reset();
  bfv::Ciphertext ct = encryptors_[prime].encrypt(pt, seed);
  if (encrypt_seconds) *encrypt_seconds = t.seconds();
  return ct;
}

int BfvKeyHolder::noise_budget(std::size_t prime, const bfv::Ciphertext& ct) const {
  require(prime < decryptors_.size(), "noise_budget: plaintext prime " + std::to_string(prime) + " of " +
                                          std::to_string(decryptors_.size()));
  return decryptors_[prime].invariant_noise_budget(ct);
}

std::vector<Int128> BfvKeyHolder::decrypt(const EncryptedBatch& out, double* decode_seconds,
                                          double* decrypt_seconds) const {
  const std::size_t k = contexts_.size();
  require(out.primes() == k, "decrypt: batch has " + std::to_string(out.primes()) + " primes, expected " + std::to_string(k));
  const std::size_t n_out = out.values[0].size();
  for (const auto& v : out.values) require(v.size() == n_out, "decrypt: primes hold different numbers of outputs");
  Timer t;
  std::vector<std::vector<bfv::Plaintext>> pts(k, std::vector<bfv::Plaintext>(n_out));
  ThreadPool::global().parallel_for(0, k * n_out, [&](std::size_t idx) {
    const std::size_t j = idx / n_out, o = idx % n_out;
    require(out.values[j][o].params_id() == contexts_[j]->params_id(),
            "decrypt: output ciphertext " + std::to_string(o) + " is for other parameters");
    pts[j][o] = decryptors_[j].decrypt(out.values[j][o]);
  });
  if (decrypt_seconds) *decrypt_seconds += t.seconds();
  t.reset();
  std::vector<std::vector<std::vector<std::uint64_t>>> slots(k, std::vector<std::vector<std::uint64_t>>(n_out));
  ThreadPool::global().parallel_for(0, k * n_out, [&](std::size_t idx) {
    slots[idx / n_out][idx % n_out] = encoders_[idx / n_out].decode(pts[idx / n_out][idx % n_out]);
  });
  std::vector<Int128> logits(out.images * n_out);
  std::vector<std::uint64_t> r(k);
  for (std::size_t i = 0; i < out.images; ++i)
    for (std::size_t o = 0; o < n_out; ++o) {
      for (std::size_t j = 0; j < k; ++j) r[j] = slots[j][o][i];
      logits[i * n_out + o] = crt_.lift(r.data());
    }
  if (decode_seconds) *decode_seconds += t.seconds();
  return logits;
}

int BfvKeyHolder::noise_budget(const EncryptedBatch& batch, std::size_t sample) const {
  int best = 1 << 30;
  for (std::size_t j = 0; j < batch.primes(); ++j) {
    const auto& v = batch.values[j];
    const std::size_t m = std::min(sample, v.size());
    std::vector<int> budgets(m);
    ThreadPool::global().parallel_for(0, m, [&](std::size_t i) {
      budgets[i] = decryptors_[j].invariant_noise_budget(v[i * (v.size() / m)]);
    });
    for (int b : budgets) best = std::min(best, b);
  }
  return best == (1 << 30) ? -1 : best;
}

}  // namespace leukocrypt::nn
