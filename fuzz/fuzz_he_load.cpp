// libFuzzer target for one HE loader (chosen at compile time by LC_FUZZ_LOADER; 7..9 are CKKS's
// own loaders, the keys are shared with BFV): untrusted bytes
// must either load into a valid object or throw leukocrypt::Error -- never crash, hang or leak.
// A loaded object must survive save -> load again. The ciphertext target also checks that
// bfv::inspect_ciphertext (the service's request check) agrees with load_ciphertext.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "he/bfv/serialization.h"
#include "he/ckks/serialization.h"
#include "fuzz_context.h"

using namespace leukocrypt::bfv;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Context& ctx = leukocrypt::fuzz::context();
  try {
#if LC_FUZZ_LOADER == 0
    auto p = load_params(bytes, true);
    (void)load_params(save(p), true);
#elif LC_FUZZ_LOADER == 1
    auto o = load_public_key(ctx, bytes);
    (void)load_public_key(ctx, save(o));
#elif LC_FUZZ_LOADER == 2
    auto o = load_relin_keys(ctx, bytes);
    (void)load_relin_keys(ctx, save(o));
#elif LC_FUZZ_LOADER == 3
    auto o = load_galois_keys(ctx, bytes);
    (void)load_galois_keys(ctx, save(o));
#elif LC_FUZZ_LOADER == 4
    auto o = load_plaintext(ctx, bytes);
    (void)load_plaintext(ctx, save(o));
#elif LC_FUZZ_LOADER == 5
    // inspect_ciphertext (the service's request check) accepts exactly what load_ciphertext
    // accepts and visits the rows it read (trap otherwise: a finding).
    bool inspected = false, rows_match = true;
    CiphertextShape shape;
    std::vector<std::vector<std::uint64_t>> rows;
    try {
      shape = inspect_ciphertext(ctx, bytes, [&](std::size_t, std::size_t, const std::uint64_t* row) {
        rows.emplace_back(row, row + ctx.n());
      });
      inspected = true;
    } catch (const leukocrypt::Error&) {
    }
    std::optional<Ciphertext> loaded;
    try {
      loaded.emplace(load_ciphertext(ctx, bytes));
    } catch (const leukocrypt::Error&) {
    }
    if (inspected != loaded.has_value()) __builtin_trap();
    if (!loaded) return 0;
    if (shape.level != loaded->level() || shape.size != loaded->size() ||
        rows.size() != (shape.seeded ? 1 : shape.size) * shape.level)
      __builtin_trap();
    for (std::size_t r = 0; r < rows.size(); ++r)
      rows_match &= std::equal(rows[r].begin(), rows[r].end(), loaded->data(r / shape.level, r % shape.level));
    if (!rows_match) __builtin_trap();
    auto o = std::move(*loaded);
    (void)load_ciphertext(ctx, save(o));
#elif LC_FUZZ_LOADER == 6
    auto o = load_secret_key(ctx, bytes);
    (void)load_secret_key(ctx, save(o));
#elif LC_FUZZ_LOADER == 7
    auto p = leukocrypt::ckks::load_params(bytes, true);
    (void)leukocrypt::ckks::load_params(leukocrypt::ckks::save(p), true);
#elif LC_FUZZ_LOADER == 8
    const auto& cctx = leukocrypt::fuzz::ckks_context();
    auto o = leukocrypt::ckks::load_plaintext(cctx, bytes);
    (void)leukocrypt::ckks::load_plaintext(cctx, leukocrypt::ckks::save(o));
#elif LC_FUZZ_LOADER == 9
    const auto& cctx = leukocrypt::fuzz::ckks_context();
    auto o = leukocrypt::ckks::load_ciphertext(cctx, bytes);
    (void)leukocrypt::ckks::load_ciphertext(cctx, leukocrypt::ckks::save(o));
#else
#error "LC_FUZZ_LOADER must be 0..9"
#endif
  } catch (const leukocrypt::Error&) {
    // Rejected with a typed error: the expected outcome for malformed input.
  }
  return 0;
}
