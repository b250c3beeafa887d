// Known answers for seed expansion, the part of the seeded formats (half-size public keys and
// request ciphertexts) that must never change: a 32-byte seed -> ChaCha20 (IETF, libsodium) ->
// uniform polynomial by rejection sampling. The pinned values were computed independently of this
// code with Python's `cryptography` ChaCha20 and the same rejection rule
// (seed_expansion_reference.py beside this file); the keystream is checked against RFC 8439 A.1.
#include <gtest/gtest.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "he/bfv/context.h"
#include "he/rlwe/encryption.h"
#include "he/bfv/serialization.h"
#include "he/bfv/symmetric_encryptor.h"
#include "he/ring/sampler.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using testing::tiny_insecure_params;

std::string hex(const std::uint8_t* p, std::size_t n) {
  std::string s;
  char b[3];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof(b), "%02x", p[i]);
    s += b;
  }
  return s;
}

// SHA-256 of the values as little-endian u64 (what the Python reference hashes).
std::string sha256_u64(const std::vector<std::uint64_t>& v) {
  std::vector<std::uint8_t> bytes;
  for (auto x : v)
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<std::uint8_t>(x >> (8 * i)));
  std::array<std::uint8_t, crypto_hash_sha256_BYTES> out{};
  crypto_hash_sha256(out.data(), bytes.data(), bytes.size());
  return hex(out.data(), out.size());
}

he::Seed counting_seed() {
  he::Seed s;
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(i);
  return s;
}

TEST(SeedExpansion, KeystreamIsChaCha20IetfRfc8439) {
  he::Prng prng(he::Seed{}, 0);  // key 0, nonce 0, block counter 0
  std::array<std::uint8_t, 64> block{};
  prng.fill(block.data(), block.size());
  EXPECT_EQ(hex(block.data(), block.size()),
            "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
            "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586");
}

TEST(SeedExpansion, UniformPolynomialKnownAnswerN4096) {
  // Domain 1 (public keys), the largest 50-bit prime = 1 mod 2*4096.
  const std::uint64_t q = 1125899906826241ULL;
  he::Prng prng(counting_seed(), rlwe::kDomainPublicKey);
  std::vector<std::uint64_t> v(4096);
  he::sample_uniform(prng, he::Modulus(q), v.data(), v.size());
  EXPECT_EQ(v[0], 684252882221272ULL);
  EXPECT_EQ(v[1], 952487380183056ULL);
  EXPECT_EQ(v[2], 518148727521951ULL);
  EXPECT_EQ(sha256_u64(v), "090232092110cc5b5c2008002a452f07fe8712ac24dc84b6641922b368399380");
}

TEST(SeedExpansion, SeededCiphertextC1KnownAnswer) {
  auto ctx = Context::create(tiny_insecure_params());
  ASSERT_EQ(ctx->modulus(0).value(), 1099511623297ULL);
  ASSERT_EQ(ctx->modulus(1).value(), 1099511622529ULL);
  ASSERT_EQ(ctx->modulus(2).value(), 1099511621249ULL);
  const std::size_t n = ctx->n(), rows = 3;
  std::vector<std::uint64_t> c1(rows * n);
  he::Prng prng(counting_seed(), rlwe::kDomainSymmetric);
  rlwe::expand_uniform(prng, *ctx, rows, c1.data());
  EXPECT_EQ(c1[0], 215286878248ULL);
  EXPECT_EQ(c1[3], 277177582566ULL);
  EXPECT_EQ(c1[n], 249331388169ULL);
  EXPECT_EQ(c1[n + 2], 62625685139ULL);
  EXPECT_EQ(c1[3 * n - 1], 415624998250ULL);
  EXPECT_EQ(sha256_u64(c1), "319b1493e86ed8a8ee7db1b60fa34672ef58c84fbd05957ebfe4121865a4e702");

  // The serialized seeded form expands to exactly this c1 on load.
  KeyGenerator kg(ctx);
  SymmetricEncryptor sym(ctx, kg.secret_key());
  he::Seed seed{};
  auto ct = sym.encrypt(Plaintext(ctx->params_id(), ctx->n()), &seed);
  he::Prng again(seed, rlwe::kDomainSymmetric);
  std::vector<std::uint64_t> expect(rows * n);
  rlwe::expand_uniform(again, *ctx, rows, expect.data());
  auto loaded = load_ciphertext(*ctx, save_seeded(ct, seed));
  EXPECT_EQ(std::vector<std::uint64_t>(loaded.poly(1), loaded.poly(1) + rows * n), expect);
}

}  // namespace
}  // namespace leukocrypt::bfv
