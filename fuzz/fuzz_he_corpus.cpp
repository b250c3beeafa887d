// Writes one valid object per loader into <dir>/<loader>/seed (the fuzzers' seed corpus).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "fuzz_context.h"
#include "he/bfv/batch_encoder.h"
#include "he/bfv/encryptor.h"
#include "he/bfv/key_generator.h"
#include "he/bfv/serialization.h"
#include "he/bfv/symmetric_encryptor.h"
#include "he/ckks/encoder.h"
#include "he/ckks/encryptor.h"
#include "he/ckks/evaluator.h"
#include "he/ckks/key_generator.h"
#include "he/ckks/serialization.h"
#include "he/ckks/symmetric_encryptor.h"

using namespace leukocrypt::bfv;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_he_corpus DIR\n";
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  ContextPtr ctx = Context::create(leukocrypt::fuzz::context().params());
  KeyGenerator kg(ctx);
  BatchEncoder enc(ctx);
  std::vector<std::uint64_t> v(64, 3);
  Plaintext pt = enc.encode(v);
  leukocrypt::he::Seed seed;
  Ciphertext sct = SymmetricEncryptor(ctx, kg.secret_key()).encrypt(pt, &seed);
  namespace ck = leukocrypt::ckks;
  ck::ContextPtr cctx = ck::Context::create(leukocrypt::fuzz::ckks_context().params());
  ck::KeyGenerator ckg(cctx);
  ck::Encoder cenc(cctx);
  std::vector<double> cv(32, 0.5);
  ck::Plaintext cpt = cenc.encode(cv);
  leukocrypt::he::Seed cseed;
  ck::Ciphertext csct = ck::SymmetricEncryptor(cctx, ckg.secret_key()).encrypt(cpt, &cseed);
  ck::Ciphertext cct = ck::Encryptor(cctx, ckg.create_public_key()).encrypt(cpt);
  const std::pair<const char*, std::string> seeds[] = {
      {"params", save(ctx->params())},
      {"public_key", save(kg.create_public_key())},
      {"relin_keys", save(kg.create_relin_keys())},
      {"galois_keys", save(kg.create_galois_keys({1}))},
      {"plaintext", save(pt)},
      {"ciphertext", save(Encryptor(ctx, kg.create_public_key()).encrypt(pt))},
      {"ciphertext", save_seeded(sct, seed)},
      {"secret_key", save(kg.secret_key())},
      {"ckks_params", ck::save(cctx->params())},
      {"ckks_plaintext", ck::save(cpt)},
      {"ckks_ciphertext", ck::save(cct)},
      {"ckks_ciphertext", ck::save(ck::Evaluator(cctx).square(cct))},
      {"ckks_ciphertext", ck::save_seeded(csct, cseed)},
  };
  int i = 0;
  for (const auto& [name, bytes] : seeds) {
    std::filesystem::create_directories(dir / name);
    std::ofstream(dir / name / ("seed" + std::to_string(i++)), std::ios::binary) << bytes;
  }
  return 0;
}
