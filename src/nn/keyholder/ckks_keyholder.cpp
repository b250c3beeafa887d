// CKKS key holder: keys, packing, encryption and decryption for the ckks backend.
#include "nn/keyholder/ckks_keyholder.h"

#include "common/error.h"

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
