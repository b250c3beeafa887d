// One const Evaluator, Encoder and Encryptor shared by many threads: every thread's results
// decrypt correctly (scratch memory is thread-local; the Context is immutable). A CKKS backend
// will run the plan on a thread pool like the BFV one.
#include <gtest/gtest.h>

#include <thread>

#include "test_util.h"

namespace leukocrypt::ckks {
namespace {

using testing::Complex;
using testing::Keys;
using testing::max_error;
using testing::random_complex;

TEST(CkksThreadSafety, SharedConstObjectsFromManyThreads) {
  Keys k(Params::create(256, 50, 2, 40, 50, Security::kInsecureForTests));  // INSECURE, tests only
  const GaloisKeys gk = create_rotation_keys(k.keygen, {1});
  std::mt19937_64 rng(9);
  const std::size_t s = k.encoder.slot_count();
  const auto a = random_complex(s, rng), b = random_complex(s, rng);
  std::vector<Complex> want(s);
  for (std::size_t j = 0; j < s; ++j) want[j] = std::conj(a[(j + 1) % s] * b[(j + 1) % s]) + 0.5;
  constexpr int kThreads = 8, kIters = 4;
  std::vector<Ciphertext> results(kThreads * kIters);
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th) {
    threads.emplace_back([&, th] {
      for (int it = 0; it < kIters; ++it) {
        // Encode, encrypt, multiply, relinearize, rescale, rotate, conjugate, add: every scratch slot.
        Ciphertext c = k.ev.multiply_relin(k.encryptor.encrypt(k.encoder.encode_complex(a)),
                                           k.encryptor.encrypt(k.encoder.encode_complex(b)), k.rk);
        k.ev.rescale_inplace(c);
        c = k.ev.conjugate(k.ev.rotate(c, 1, gk), gk);
        k.ev.add_scalar_inplace(c, 0.5);
        results[th * kIters + it] = std::move(c);
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& c : results) EXPECT_LT(max_error(k.decrypt(c), want), 1e-7);
}

}  // namespace
}  // namespace leukocrypt::ckks
