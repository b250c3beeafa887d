// Batch encoder: slots <-> evaluations of the plaintext polynomial at the primitive 2N-th roots
// of unity mod t, ordered by powers of the generator 3 (so Galois element 3 rotates rows).
#include "he/bfv/batch_encoder.h"

#include "common/error.h"
#include "he/kernels/ntt.h"

namespace leukocrypt::bfv {
namespace {
std::uint32_t reverse_bits(std::uint32_t x, int bits) {
  std::uint32_t r = 0;
  for (int i = 0; i < bits; ++i, x >>= 1) r = (r << 1) | (x & 1);
  return r;
}
}  // namespace

BatchEncoder::BatchEncoder(ContextPtr ctx) : ctx_(std::move(ctx)) {
  require(ctx_ != nullptr, "BatchEncoder: null context");
  require(ctx_->plain_ntt() != nullptr, "BatchEncoder: t=" + std::to_string(ctx_->params().t()) +
                                            " does not support batching (need a prime t = 1 mod 2N)");
  const std::size_t n = ctx_->n();
  const int log_n = ctx_->params().log_n();
  const std::uint64_t m = 2 * n;
  index_map_.resize(n);
  std::uint64_t pos = 1;
  for (std::size_t i = 0; i < n / 2; ++i) {
    // Slot i (row 0) is the evaluation at psi^pos, pos = 3^i; row 1 at psi^-pos.
    std::uint32_t idx1 = static_cast<std::uint32_t>((pos - 1) >> 1);
    std::uint32_t idx2 = static_cast<std::uint32_t>((m - pos - 1) >> 1);
    index_map_[i] = reverse_bits(idx1, log_n);
    index_map_[n / 2 + i] = reverse_bits(idx2, log_n);
    pos = pos * 3 % m;
  }
}

Plaintext BatchEncoder::encode(std::span<const std::uint64_t> values) const {
  const std::size_t n = ctx_->n();
  const std::uint64_t t = ctx_->params().t();
  require(values.size() <= n, "BatchEncoder::encode: " + std::to_string(values.size()) +
                                  " values exceed the slot count " + std::to_string(n));
  Plaintext pt(ctx_->params_id(), n);
  std::uint64_t* d = pt.data();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] >= t)
      throw InvalidArgument("BatchEncoder::encode: value " + std::to_string(values[i]) + " at slot " +
                            std::to_string(i) + " is not < t=" + std::to_string(t));
    d[index_map_[i]] = values[i];
  }
  he::inverse_ntt(d, *ctx_->plain_ntt());
  return pt;
}

Plaintext BatchEncoder::encode_signed(std::span<const std::int64_t> values) const {
  const std::size_t n = ctx_->n();
  const std::uint64_t t = ctx_->params().t();
  require(values.size() <= n, "BatchEncoder::encode_signed: " + std::to_string(values.size()) +
                                  " values exceed the slot count " + std::to_string(n));
  Plaintext pt(ctx_->params_id(), n);
  std::uint64_t* d = pt.data();
  for (std::size_t i = 0; i < values.size(); ++i) {
    std::int64_t v = values[i];
    std::uint64_t mag = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    if (mag >= t)
      throw InvalidArgument("BatchEncoder::encode_signed: |value| " + std::to_string(mag) + " at slot " +
                            std::to_string(i) + " is not < t=" + std::to_string(t));
    d[index_map_[i]] = v < 0 && mag != 0 ? t - mag : mag;
  }
  he::inverse_ntt(d, *ctx_->plain_ntt());
  return pt;
}

std::vector<std::uint64_t> BatchEncoder::decode(const Plaintext& pt) const {
  const std::size_t n = ctx_->n();
  require(pt.params_id() == ctx_->params_id() && pt.n() == n,
          "BatchEncoder::decode: plaintext was made for other parameters");
  const std::uint64_t t = ctx_->params().t();
  AlignedBuffer<std::uint64_t> tmp(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (pt[i] >= t) throw InvalidArgument("BatchEncoder::decode: coefficient " + std::to_string(i) + " is not < t");
    tmp[i] = pt[i];
  }
  he::forward_ntt(tmp.data(), *ctx_->plain_ntt());
  std::vector<std::uint64_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = tmp[index_map_[i]];
  return out;
}

std::vector<std::int64_t> BatchEncoder::decode_signed(const Plaintext& pt) const {
  const std::uint64_t t = ctx_->params().t();
  auto u = decode(pt);
  std::vector<std::int64_t> out(u.size());
  for (std::size_t i = 0; i < u.size(); ++i)
    out[i] = u[i] > t / 2 ? -static_cast<std::int64_t>(t - u[i]) : static_cast<std::int64_t>(u[i]);
  return out;
}

}  // namespace leukocrypt::bfv
