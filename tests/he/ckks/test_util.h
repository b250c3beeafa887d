// Shared fixtures for the CKKS tests: tiny insecure parameter sets (named as such) and helpers
// that compare decoded slots with plain complex arithmetic.
#pragma once

#include <algorithm>
#include <complex>
#include <cstddef>
#include <random>
#include <vector>

#include "he/ckks/context.h"
#include "he/ckks/decryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/params.h"

namespace leukocrypt::ckks::testing {

using Complex = std::complex<double>;

// N = 64 (32 slots), q_0 50 bits, `levels` rescale primes near 2^40 (scale 2^40), special prime
// 50 bits: INSECURE, tests only.
inline Params tiny_insecure_params(std::size_t levels = 3, std::size_t n = 64) {
  return Params::create(n, 50, levels, 40, 50, Security::kInsecureForTests);
}

// A key set and the objects that use it, for one parameter set.
struct Keys {
  ContextPtr ctx;
  KeyGenerator keygen;
  Encoder encoder;
  Encryptor encryptor;
  Decryptor decryptor;
  Evaluator ev;
  RelinKeys rk;
  explicit Keys(const Params& p)
      : ctx(Context::create(p)), keygen(ctx), encoder(ctx), encryptor(ctx, keygen.create_public_key()),
        decryptor(ctx, keygen.secret_key()), ev(ctx), rk(keygen.create_relin_keys()) {}
  Ciphertext encrypt(const std::vector<Complex>& v) { return encryptor.encrypt(encoder.encode_complex(v)); }
  std::vector<Complex> decrypt(const Ciphertext& ct) { return encoder.decode_complex(decryptor.decrypt(ct)); }
};

inline std::vector<Complex> random_complex(std::size_t count, std::mt19937_64& rng, double bound = 1.0) {
  std::uniform_real_distribution<double> d(-bound, bound);
  std::vector<Complex> v(count);
  for (auto& x : v) x = {d(rng), d(rng)};
  return v;
}

inline double max_error(const std::vector<Complex>& got, const std::vector<Complex>& want) {
  double e = 0;
  for (std::size_t j = 0; j < want.size(); ++j) e = std::max(e, std::abs(got[j] - want[j]));
  return e;
}

}  // namespace leukocrypt::ckks::testing
