// ChaCha20 streams (libsodium) and the RLWE samplers on top of them.
#include "he/ring/sampler.h"

#include <sodium.h>

#include <bit>
#include <cstring>
#include <stdexcept>

namespace leukocrypt::he {
namespace {
void ensure_sodium() {
  static const bool ok = sodium_init() >= 0;
  if (!ok) throw std::runtime_error("libsodium initialisation failed");
}
}  // namespace

Seed random_seed() {
  ensure_sodium();
  Seed s;
  randombytes_buf(s.data(), s.size());
  return s;
}

Prng::Prng(const Seed& seed, std::uint64_t domain) : key_(seed) {
  ensure_sodium();
  static_assert(crypto_stream_chacha20_ietf_KEYBYTES == 32);
  static_assert(crypto_stream_chacha20_ietf_NONCEBYTES == 12);
  std::memcpy(nonce_.data(), &domain, sizeof(domain));
}

Prng::~Prng() {
  sodium_memzero(key_.data(), key_.size());
  sodium_memzero(buf_.data(), buf_.size());
}

void Prng::refill() {
  std::memset(buf_.data(), 0, buf_.size());
  crypto_stream_chacha20_ietf_xor_ic(buf_.data(), buf_.data(), buf_.size(), nonce_.data(), counter_,
                                     key_.data());
  counter_ += static_cast<std::uint32_t>(buf_.size() / 64);
  pos_ = 0;
}

std::uint64_t Prng::next_u64() {
  if (pos_ + 8 > buf_.size()) refill();
  std::uint64_t v;
  std::memcpy(&v, buf_.data() + pos_, 8);
  pos_ += 8;
  return v;
}

void Prng::fill(std::uint8_t* out, std::size_t bytes) {
  while (bytes > 0) {
    if (pos_ == buf_.size()) refill();
    std::size_t take = std::min(bytes, buf_.size() - pos_);
    std::memcpy(out, buf_.data() + pos_, take);
    pos_ += take;
    out += take;
    bytes -= take;
  }
}

void sample_uniform(Prng& prng, const Modulus& q, std::uint64_t* out, std::size_t n) {
  const std::uint64_t qv = q.value();
  const std::uint64_t mask = q.bit_count() >= 64 ? ~0ULL : ((1ULL << q.bit_count()) - 1);
  for (std::size_t i = 0; i < n;) {
    std::uint64_t r = prng.next_u64() & mask;
    if (r < qv) out[i++] = r;  // rejection: uniform, acceptance >= 1/2
  }
}

void sample_ternary(Prng& prng, std::int8_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n;) {
    std::uint64_t w = prng.next_u64();
    for (int b = 0; b < 8 && i < n; ++b, w >>= 8) {
      unsigned byte = static_cast<unsigned>(w & 0xff);
      if (byte < 255) out[i++] = static_cast<std::int8_t>(static_cast<int>(byte % 3) - 1);
    }
  }
}

void sample_cbd(Prng& prng, std::int8_t* out, std::size_t n) {
  constexpr std::uint64_t kMask = (1ULL << kCbdEta) - 1;
  for (std::size_t i = 0; i < n; ++i) {
    std::uint64_t w = prng.next_u64();
    out[i] = static_cast<std::int8_t>(std::popcount(w & kMask) - std::popcount((w >> kCbdEta) & kMask));
  }
}

void small_to_mod(const std::int8_t* in, std::uint64_t* out, std::size_t n, std::uint64_t q) {
  // Branch-free (the signs are random, a branch mispredicts half the time): v + (v < 0 ? q : 0).
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t v = in[i];
    out[i] = static_cast<std::uint64_t>(v) + (q & (0 - static_cast<std::uint64_t>(v < 0)));
  }
}

}  // namespace leukocrypt::he
