// Params id hashing (libsodium's BLAKE2b).
#include "he/rlwe/params_id.h"

#include <sodium.h>

#include <cstring>

#include "common/error.h"

namespace leukocrypt::rlwe {

std::uint64_t params_id(std::string_view tag, const std::vector<std::uint64_t>& words) {
  if (sodium_init() < 0) throw Error("libsodium initialisation failed");
  crypto_generichash_state st;
  unsigned char out[16];
  crypto_generichash_init(&st, nullptr, 0, sizeof(out));
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(tag.data()), tag.size());
  for (std::uint64_t v : words) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(v >> (8 * i));
    crypto_generichash_update(&st, b, 8);
  }
  crypto_generichash_final(&st, out, sizeof(out));
  std::uint64_t id = 0;
  std::memcpy(&id, out, 8);
  return id;
}

}  // namespace leukocrypt::rlwe
