// Encrypted-inference payload layout helpers (see he_layout.h).
#include "service/wire/he_layout.h"

#include "common/error.h"
#include "common/hash.h"

namespace leukocrypt::wire {
namespace {

void fnv_mix(std::uint64_t& h, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    h ^= (v >> (8 * i)) & 0xff;
    h *= kFnvPrime;
  }
}

}  // namespace

std::uint64_t settings_id(const nn::BfvSettings& s) {
  std::uint64_t h = kFnvOffset;
  for (const auto& p : s.params()) fnv_mix(h, p.id());
  fnv_mix(h, s.mod_switch_levels.size());
  for (auto l : s.mod_switch_levels) fnv_mix(h, l);
  return h;
}

nn::BfvSettings settings_from_json(const nlohmann::json& j, const std::string& what, bool allow_insecure_for_tests) {
  if (!j.is_object()) throw FormatError(what + ": not a JSON object");
  try {
    for (const char* key : {"settings", "params", "bfv"})
      if (j.contains(key) && j[key].is_object()) return nn::BfvSettings::from_json(j[key], allow_insecure_for_tests);
    return nn::BfvSettings::from_json(j, allow_insecure_for_tests);
  } catch (const FormatError& e) {
    throw FormatError(what + ": " + e.what());
  } catch (const SecurityError& e) {
    throw SecurityError(what + ": " + e.what());
  } catch (const InvalidArgument& e) {
    throw FormatError(what + ": " + e.what());
  }
}

std::string fnv1a_hex(std::string_view bytes) {
  return hex64(fnv1a64(bytes));
}

std::vector<std::size_t> batch_sizes(std::size_t cells, std::size_t slots) {
  std::vector<std::size_t> out;
  for (std::size_t done = 0; done < cells; done += slots) out.push_back(std::min(slots, cells - done));
  return out;
}

namespace {

void check_params_id(const ContainerHeader& h, const nn::BfvSettings& s, const std::string& what) {
  const auto want_id = settings_id(s);
  if (h.params_id != want_id)
    throw FormatError(what + ": made for parameters " + std::to_string(h.params_id) + ", but this model runs with " +
                      std::to_string(want_id) + " (re-run keygen with the server's parameters)");
}

}  // namespace

std::size_t check_latency(const ContainerHeader& h, std::size_t blobs, const nn::BfvSettings& s,
                          std::size_t cells_per_ciphertext, const std::string& what) {
  check_params_id(h, s, what);
  if (h.packing != Packing::kLatency) throw FormatError(what + ": packed in the throughput layout, expected latency");
  if (h.cells == 0) throw FormatError(what + ": holds no cells");
  auto meta = nlohmann::json::parse(h.meta, nullptr, false);
  if (meta.is_discarded() || !meta.is_object() || meta.value("layout", "") != std::string(kLatencyLayout))
    throw FormatError(what + ": blob layout is not '" + kLatencyLayout + "'");
  require(cells_per_ciphertext > 0, "check_latency: zero cells per ciphertext");
  const std::size_t cts = (h.cells + cells_per_ciphertext - 1) / cells_per_ciphertext;
  const std::size_t want = cts * s.plain_primes.size();
  if (blobs != want)
    throw FormatError(what + ": holds " + std::to_string(blobs) + " ciphertexts, expected " + std::to_string(want) +
                      " (" + std::to_string(cts) + " ciphertext(s) of " + std::to_string(cells_per_ciphertext) +
                      " cells x " + std::to_string(s.plain_primes.size()) + " plaintext prime(s))");
  return cts;
}

std::vector<std::size_t> check_batches(const ContainerHeader& h, std::size_t blobs, const nn::BfvSettings& s,
                                       std::size_t values, const std::string& what) {
  check_params_id(h, s, what);
  if (h.packing != Packing::kThroughput)
    throw FormatError(what + ": packed in the latency layout, expected throughput");
  if (h.cells == 0) throw FormatError(what + ": holds no cells");
  auto batches = batch_sizes(h.cells, s.cells_per_batch());
  auto meta = nlohmann::json::parse(h.meta, nullptr, false);
  if (meta.is_discarded() || !meta.is_object()) throw FormatError(what + ": meta is not a JSON object");
  // Spatial blocks (block_layout.h): the request says how it was packed; absent = none.
  std::size_t blocks = 1;  // absent: none
  if (meta.contains("blocks")) blocks = meta["blocks"].is_number_unsigned() ? meta["blocks"].get<std::size_t>() : 0;
  if (blocks != s.blocks)
    throw FormatError(what + ": packed with " + (blocks == 0 ? std::string("an invalid 'blocks' value") : std::to_string(blocks) + " spatial block(s)") +
                      ", this server's throughput layout uses " + std::to_string(s.blocks) +
                      " spatial block(s) (GET /v1/model: 'blocks'; encrypt it again with keys made from the current "
                      "card)");
  if (!meta.contains("layout") || !meta["layout"].is_string() || meta["layout"] != kLayout)
    throw FormatError(what + ": blob layout " + (meta.contains("layout") ? meta["layout"].dump() : "(none)") +
                      " is not '" + kLayout + "' (made by an older leukocrypt: encrypt it again)");
  if (meta.contains("batches")) {
    std::vector<std::size_t> declared;
    try {
      declared = meta["batches"].get<std::vector<std::size_t>>();
    } catch (const std::exception&) {
      throw FormatError(what + ": meta 'batches' is not a list of counts");
    }
    if (declared != batches)
      throw FormatError(what + ": batch sizes do not match " + std::to_string(h.cells) + " cells in batches of " +
                        std::to_string(s.cells_per_batch()));
  }
  const std::size_t primes = s.plain_primes.size();
  const std::size_t want = batches.size() * primes * values;
  if (blobs != want)
    throw FormatError(what + ": holds " + std::to_string(blobs) + " ciphertexts, expected " + std::to_string(want) +
                      " (" + std::to_string(batches.size()) + " batch(es) x " + std::to_string(primes) +
                      " plaintext prime(s) x " + std::to_string(values) + " values)");
  return batches;
}

std::vector<std::size_t> check_batches(const ContainerView& v, const nn::BfvSettings& s, std::size_t values,
                                       const std::string& what) {
  return check_batches(v, v.blobs.size(), s, values, what);
}

}  // namespace leukocrypt::wire
