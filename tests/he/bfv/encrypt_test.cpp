// Encoding, encryption and decryption round trips; parameter validation.
#include <gtest/gtest.h>

#include "common/error.h"
#include "he/bfv/symmetric_encryptor.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using testing::Keys;
using testing::random_slots;
using testing::tiny_insecure_params;

TEST(BfvParams, RefusesWeakerThan128BitUnlessInsecure) {
  EXPECT_THROW(Params::create(4096, {60, 60}, 65537), SecurityError);
  EXPECT_NO_THROW(Params::create(4096, {60, 60}, 65537, Security::kInsecureForTests));
  EXPECT_THROW(Params::create(64, {40, 41}, 257), SecurityError);
  for (std::size_t n : {4096u, 8192u, 16384u, 32768u}) {
    Params p = Params::default_for(n, 65537);
    EXPECT_LE(p.log2_qp(), Params::max_secure_bits(n));
    EXPECT_GT(p.log2_qp(), Params::max_secure_bits(n) - 1.0);
  }
}

TEST(BfvParams, PaperPlaintextPrimesBatch) {
  for (std::uint64_t t : {957181001729ULL, 957181034497ULL}) {
    Params p = Params::default_for(16384, t);
    EXPECT_TRUE(p.supports_batching());
  }
}

TEST(BfvParams, IdDependsOnEverything) {
  Params a = tiny_insecure_params(257);
  Params b = tiny_insecure_params(641);
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.id(), tiny_insecure_params(257).id());
}

// Several special primes: the last k sizes of q_bits, every prime below 2^50 (hybrid key switching
// runs on the SIMD kernels), log2(q*P) against the 128-bit table, and the count in the id.
TEST(BfvParams, SeveralSpecialPrimes) {
  const Params p = Params::create(32768, std::vector<int>(15, 50), 65537, Security::k128, 5);
  EXPECT_EQ(p.q().size(), 10u);
  EXPECT_EQ(p.special_primes().size(), 5u);
  EXPECT_NEAR(p.log2_qp(), p.log2_q() + p.log2_special(), 1e-9);
  EXPECT_GT(p.log2_special(), 249.0);
  std::vector<int> wide(15, 50);
  wide[0] = 55;
  EXPECT_THROW(Params::create(32768, wide, 65537, Security::k128, 5), InvalidArgument);
  EXPECT_NO_THROW(Params::create(32768, wide, 65537, Security::k128, 1));
  EXPECT_THROW(Params::create(32768, std::vector<int>(18, 50), 65537, Security::k128, 5), SecurityError);
  EXPECT_THROW(Params::create(32768, std::vector<int>(5, 50), 65537, Security::k128, 5), InvalidArgument);
  std::vector<std::uint64_t> q(p.q().begin(), p.q().begin() + 10);
  const Params one = Params::create_from_primes(32768, q, p.special_primes()[0], 65537);
  EXPECT_NE(one.id(), p.id());
}

TEST(BfvEncoder, RoundTrip) {
  auto ctx = Context::create(tiny_insecure_params());
  BatchEncoder enc(ctx);
  std::mt19937_64 rng(1);
  auto v = random_slots(64, 257, rng);
  EXPECT_EQ(enc.decode(enc.encode(v)), v);
  std::vector<std::int64_t> s = {-128, 128, 0, -1, 5};
  auto d = enc.decode_signed(enc.encode_signed(s));
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(d[i], s[i]);
}

TEST(BfvEncrypt, PublicAndSymmetricRoundTrip) {
  Keys k(tiny_insecure_params());
  BatchEncoder enc(k.ctx);
  Encryptor encryptor(k.ctx, k.pk);
  Decryptor dec(k.ctx, k.keygen.secret_key());
  SymmetricEncryptor sym(k.ctx, k.keygen.secret_key());
  std::mt19937_64 rng(2);
  for (int rep = 0; rep < 5; ++rep) {
    auto v = random_slots(64, 257, rng);
    auto ct = encryptor.encrypt(enc.encode(v));
    EXPECT_EQ(enc.decode(dec.decrypt(ct)), v);
    EXPECT_GT(dec.invariant_noise_budget(ct), 60);
    auto ct2 = sym.encrypt(enc.encode(v));
    EXPECT_EQ(enc.decode(dec.decrypt(ct2)), v);
  }
}

TEST(BfvEncrypt, LargePlaintextModulus) {
  // 40-bit paper prime with N=64 ... needs t = 1 mod 128: the paper primes are 1 mod 2^15.
  Keys k(Params::create(64, {50, 50, 50, 50}, 957181001729ULL, Security::kInsecureForTests));
  BatchEncoder enc(k.ctx);
  Encryptor encryptor(k.ctx, k.pk);
  Decryptor dec(k.ctx, k.keygen.secret_key());
  std::mt19937_64 rng(3);
  auto v = random_slots(64, 957181001729ULL, rng);
  EXPECT_EQ(enc.decode(dec.decrypt(encryptor.encrypt(enc.encode(v)))), v);
}

}  // namespace
}  // namespace leukocrypt::bfv
