// Key hygiene: one copy of each secret key (not copyable; decryptors and encryptors refer to it),
// zeroed when wiped or destroyed, and no secret residue left in this thread's scratch buffers by
// decryption, secret-key or public-key encryption (their c*s, masks and errors).
#include <gtest/gtest.h>

#include <algorithm>
#include <type_traits>

#include "he/bfv/decryptor.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/symmetric_encryptor.h"
#include "he/ring/rns_poly.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using testing::Keys;
using testing::tiny_insecure_params;

static_assert(!std::is_copy_constructible_v<SecretKey> && !std::is_copy_assignable_v<SecretKey>,
              "a secret key is moved, never copied");
static_assert(std::is_nothrow_move_constructible_v<SecretKey>);
// Decryptor/SymmetricEncryptor refer to the key: a temporary key would dangle, so it does not compile.
static_assert(!std::is_constructible_v<Decryptor, ContextPtr, SecretKey&&>);
static_assert(!std::is_constructible_v<SymmetricEncryptor, ContextPtr, SecretKey&&>);
static_assert(std::is_constructible_v<KeyGenerator, ContextPtr, SecretKey&&>);
static_assert(!std::is_constructible_v<KeyGenerator, ContextPtr, const SecretKey&>);

bool all_zero(const std::uint64_t* p, std::size_t n) { return std::all_of(p, p + n, [](auto v) { return v == 0; }); }

bool scratch_is_clean() {
  for (int s = 0; s < he::kScratchSlots; ++s) {
    const auto& b = he::scratch_buffers()[s];
    if (!all_zero(b.data(), b.size())) return false;
  }
  return true;
}

TEST(KeyHygiene, WipeZeroesTheKeyAndMovesLeaveOneCopy) {
  auto ctx = Context::create(tiny_insecure_params());
  KeyGenerator kg(ctx);
  const SecretKey& sk = kg.secret_key();
  const std::size_t n = sk.n();
  ASSERT_TRUE(std::any_of(sk.coeffs(), sk.coeffs() + n, [](auto c) { return c != 0; }));
  // A key moved into a KeyGenerator is the same buffer (no copy) and still works.
  KeyGenerator first(ctx);
  SecretKey taken(ctx->params_id(), 7, n, sk.primes());
  std::copy(first.secret_key().coeffs(), first.secret_key().coeffs() + n, taken.coeffs());
  const std::int8_t* buffer = taken.coeffs();
  KeyGenerator owner(ctx, std::move(taken));
  EXPECT_EQ(owner.secret_key().coeffs(), buffer);
  EXPECT_EQ(taken.coeffs(), nullptr);
  // wipe() (also run by the destructor and by move-assignment) zeroes both forms.
  SecretKey victim(ctx->params_id(), 9, n, sk.primes());
  std::fill(victim.coeffs(), victim.coeffs() + n, std::int8_t{1});
  std::fill(victim.ntt(0), victim.ntt(0) + n * sk.primes(), std::uint64_t{5});
  victim.wipe();
  EXPECT_TRUE(std::all_of(victim.coeffs(), victim.coeffs() + n, [](auto c) { return c == 0; }));
  EXPECT_TRUE(all_zero(victim.ntt(0), n * sk.primes()));
}

TEST(KeyHygiene, NoSecretResidueInThreadScratch) {
  // Other tests in this process leave public data (evaluator scratch) behind: start from zero so
  // that what is found below was left by the secret-key operations.
  for (int s = 0; s < he::kScratchSlots; ++s) {
    auto& b = he::scratch_buffers()[s];
    std::fill(b.data(), b.data() + b.size(), std::uint64_t{0});
  }
  Keys k(tiny_insecure_params());
  Decryptor dec(k.ctx, k.keygen.secret_key());
  SymmetricEncryptor sym(k.ctx, k.keygen.secret_key());
  Encryptor enc(k.ctx, k.pk);
  Plaintext pt(k.ctx->params_id(), k.ctx->n());
  for (std::size_t i = 0; i < pt.n(); ++i) pt[i] = i % 257;
  auto a = sym.encrypt(pt);
  EXPECT_TRUE(scratch_is_clean()) << "after secret-key encryption";
  auto b = enc.encrypt(pt);
  EXPECT_TRUE(scratch_is_clean()) << "after public-key encryption";
  auto m = dec.decrypt(a);
  EXPECT_TRUE(scratch_is_clean()) << "after decryption";
  EXPECT_GT(dec.invariant_noise_budget(b), 0);
  EXPECT_TRUE(scratch_is_clean()) << "after the noise measurement";
  for (std::size_t i = 0; i < pt.n(); ++i) ASSERT_EQ(m[i], pt[i]);
  // The scratch was used (the check above is not vacuous).
  EXPECT_GT(he::scratch_buffers()[0].size(), 0u);
  EXPECT_GT(he::scratch_buffers()[1].size(), 0u);
}

}  // namespace
}  // namespace leukocrypt::bfv
