// CKKS key holder: keys, packing, encryption and decryption for the ckks backend.
#include "nn/keyholder/ckks_keyholder.h"

#include "common/error.h"
#include "common/thread_pool.h"

namespace leukocrypt::nn {
namespace {

ckks::ContextPtr make_context(const CkksSettings& s) { return ckks::Context::create(s.params); }

}  // namespace

CkksKeyHolder::CkksKeyHolder(const CkksSettings& settings)
    : settings_(settings),
      ctx_(make_context(settings)),
      keygen_(std::make_unique<ckks::KeyGenerator>(ctx_)),
      encoder_(ctx_),
      encryptor_(ctx_, keygen_->secret_key()),
      decryptor_(ctx_, keygen_->secret_key()) {}

CkksKeyHolder::CkksKeyHolder(const CkksSettings& settings, ckks::SecretKey&& secret_key)
    : settings_(settings),
      ctx_(make_context(settings)),
      keygen_(std::make_unique<ckks::KeyGenerator>(ctx_, std::move(secret_key))),
      encoder_(ctx_),
      encryptor_(ctx_, keygen_->secret_key()),
      decryptor_(ctx_, keygen_->secret_key()) {}

ckks::Ciphertext CkksKeyHolder::encrypt_value(const Plan& plan, const std::vector<const std::uint8_t*>& images,
                                              std::size_t value, he::Seed* seed) const {
  require(images.size() <= slot_count(), "ckks: " + std::to_string(images.size()) + " images for " +
                                             std::to_string(slot_count()) + " slots");
  require(value < plan.input_size(), "ckks: input value " + std::to_string(value) + " out of range");
  std::vector<double> slots(images.size());
  for (std::size_t k = 0; k < images.size(); ++k) slots[k] = double(images[k][value]) * double(plan.input_scale);
  return encryptor_.encrypt(encoder_.encode(slots), seed);
}

ckks::GaloisKeys CkksKeyHolder::galois_keys(const std::vector<int>& steps) const {
  return ckks::create_rotation_keys(*keygen_, steps, false);
}

ckks::Ciphertext CkksKeyHolder::encrypt_cells(const Plan& plan, const std::uint8_t* const* cells, std::size_t count,
                                              he::Seed* seed) const {
  const SlotLayout& sl = plan.slots;
  require(plan.layout == Layout::kLatency && sl.scheme() == SlotScheme::kCkks && sl.n == ctx_->params().n(),
          "ckks: the plan is not in the CKKS latency layout for N = " + std::to_string(ctx_->params().n()));
  require(count >= 1 && count <= sl.cells_per_ciphertext(),
          "ckks: " + std::to_string(count) + " cells; a ciphertext holds 1.." + std::to_string(sl.cells_per_ciphertext()));
  std::vector<double> slots(sl.slot_count(), 0.0);
  for (std::size_t c = 0; c < count; ++c)
    for (std::size_t v = 0; v < sl.in_slot.size(); ++v)
      slots[c * sl.block + sl.in_slot[v]] = double(cells[c][v]) * double(plan.input_scale);
  return encryptor_.encrypt(encoder_.encode(slots), seed);
}

std::vector<double> CkksKeyHolder::decrypt_cells(const SlotLayout& layout, const std::vector<ckks::Ciphertext>& results,
                                                 std::size_t cells) const {
  const std::size_t cts = layout.ciphertexts_for(cells), per = layout.cells_per_ciphertext(), n_out = layout.out_slot.size();
  require(results.size() == cts, "ckks: " + std::to_string(results.size()) + " result ciphertexts for " +
                                     std::to_string(cells) + " cells, expected " + std::to_string(cts));
  std::vector<std::vector<double>> slots(cts);
  ThreadPool::global().parallel_for(0, cts, [&](std::size_t c) {
    require(results[c].params_id() == ctx_->params().id(),
            "ckks: result ciphertext " + std::to_string(c) + " is for other parameters");
    slots[c] = encoder_.decode(decryptor_.decrypt(results[c]));
  });
  std::vector<double> logits(cells * n_out);
  for (std::size_t i = 0; i < cells; ++i)
    for (std::size_t o = 0; o < n_out; ++o) logits[i * n_out + o] = slots[i / per][(i % per) * layout.block + layout.out_slot[o]];
  return logits;
}

std::vector<double> CkksKeyHolder::decrypt(const std::vector<ckks::Ciphertext>& outputs, std::size_t images) const {
  require(images <= slot_count(), "ckks: more images than slots");
  std::vector<double> logits(images * outputs.size());
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    const auto v = encoder_.decode(decryptor_.decrypt(outputs[o]));
    for (std::size_t k = 0; k < images; ++k) logits[k * outputs.size() + o] = v[k];
  }
  return logits;
}

}  // namespace leukocrypt::nn
