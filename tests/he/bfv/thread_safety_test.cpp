// One const Evaluator (and Encryptor) shared by many threads: every thread's results decrypt
// correctly (scratch memory is thread-local; the Context is immutable).
#include <gtest/gtest.h>

#include <thread>

#include "common/thread_pool.h"
#include "test_util.h"

namespace leukocrypt::bfv {
namespace {

using testing::Keys;
using testing::random_slots;
using testing::tiny_insecure_params;

TEST(BfvThreadSafety, SharedConstEvaluatorFromManyThreads) {
  Keys k(Params::create(256, {50, 50, 50, 51}, 65537, Security::kInsecureForTests));  // INSECURE, tests only
  const BatchEncoder enc(k.ctx);
  const Encryptor encryptor(k.ctx, k.pk);
  const Decryptor dec(k.ctx, k.keygen.secret_key());
  const Evaluator ev(k.ctx);
  const GaloisKeys gk = k.keygen.create_galois_keys({1});
  std::mt19937_64 rng(9);
  auto a = random_slots(256, 65537, rng), b = random_slots(256, 65537, rng);
  const auto ca = encryptor.encrypt(enc.encode(a)), cb = encryptor.encrypt(enc.encode(b));
  constexpr int kThreads = 8, kIters = 6;
  std::vector<Ciphertext> results(kThreads * kIters);
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int it = 0; it < kIters; ++it) {
        auto fresh = encryptor.encrypt(enc.encode(a));
        auto m = ev.multiply(fresh, cb);
        ev.relinearize_inplace(m, k.rk);
        ev.multiply_scalar_add_inplace(m, ca, th + 1);
        results[th * kIters + it] = ev.rotate_rows(m, 1, gk);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int th = 0; th < kThreads; ++th) {
    std::vector<std::uint64_t> expect(256);
    for (std::size_t i = 0; i < 256; ++i) {
      std::size_t src = (i % 128 + 1) % 128 + (i / 128) * 128;
      expect[i] = (a[src] * b[src] + static_cast<std::uint64_t>(th + 1) * a[src]) % 65537;
    }
    for (int it = 0; it < kIters; ++it) EXPECT_EQ(enc.decode(dec.decrypt(results[th * kIters + it])), expect);
  }
}

}  // namespace
}  // namespace leukocrypt::bfv
