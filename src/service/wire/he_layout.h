// How encrypted inference travels in `.lcx` containers (shared by lc_client and lc_service).
//   eval-keys : blobs = relinearisation keys, one per plaintext prime (bfv::save(RelinKeys))
//   public-key: blobs = public keys, one per plaintext prime (seeded form)
//   secret-key: blobs = secret keys, one per plaintext prime (client only)
//   request   : blobs = [batch][input value][prime] fresh ciphertexts in the seeded (half-size) form
//   result    : blobs = [batch][output value][prime] mod-switched output ciphertexts
// Latency packing (header packing = latency; meta "layout" = "ciphertext-prime"):
//   eval-keys : blobs = relinearisation keys per prime, then Galois keys per prime (meta
//               "galois_steps": the rotation steps they hold); keys without them serve throughput only
//   request   : blobs = [ciphertext][prime], each ciphertext cells_per_ciphertext cells (seeded)
//   result    : blobs = [ciphertext][prime]; meta "latency" = SlotLayout::client_json (logit slots)
// Value-major order lets the key holder encrypt a few values at a time (all primes) and stream
// them out; the provider reads any blob on demand from the stored file. meta "layout" names it.
// Every container's params_id is settings_id(settings); meta (JSON) carries "settings" (keys) or
// "batches" (request/result: images per batch) and, in results, "classes" and "output_scale".
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "nn/bfv_settings.h"
#include "nn/model.h"
#include "service/wire/container.h"

namespace leukocrypt::wire {

// One 64-bit id for the whole setup: FNV-1a over the bfv::Params id of every plaintext prime and
// the mod-switch schedule.
std::uint64_t settings_id(const nn::BfvSettings& s);

// Reads BFV settings from any of: params.json written by `leukocrypt params` ({"settings": ...}),
// a model card from GET /v1/model ({"params": ...}), or a bare settings object. FormatError if none;
// SecurityError for a set below 128 bits unless allow_insecure_for_tests (the caller's explicit
// --insecure-for-tests: the document's own "security" field is never obeyed).
nn::BfvSettings settings_from_json(const nlohmann::json& j, const std::string& what,
                                   bool allow_insecure_for_tests = false);

// 64-bit FNV-1a of bytes, as 16 hex digits (model ids).
std::string fnv1a_hex(std::string_view bytes);

// Images per batch of a request/result: ceil(cells / n) batches, all full but the last.
std::vector<std::size_t> batch_sizes(std::size_t cells, std::size_t slots);

// Blob order of requests and results (meta "layout"); containers without it are refused.
inline constexpr const char* kLayout = "batch-value-prime";

// Index of blob (batch, prime, value) when every batch holds `primes` x `values` blobs.
inline std::size_t blob_index(std::size_t batch, std::size_t prime, std::size_t value, std::size_t primes,
                              std::size_t values) {
  return (batch * values + value) * primes + prime;
}

inline constexpr const char* kLatencyLayout = "ciphertext-prime";

// Checks a latency-packed request/result header against the settings: params id, packing, meta
// layout, blob count = ceil(cells / cells_per_ciphertext) x primes. Returns the ciphertext count.
std::size_t check_latency(const ContainerHeader& h, std::size_t blobs, const nn::BfvSettings& s,
                          std::size_t cells_per_ciphertext, const std::string& what);

// Checks a request/result header against the settings: params id, batch list consistent with
// the cell count and slot count, blob count = batches x primes x values. Returns the batch sizes.
std::vector<std::size_t> check_batches(const ContainerHeader& h, std::size_t blobs, const nn::BfvSettings& s,
                                       std::size_t values, const std::string& what);
std::vector<std::size_t> check_batches(const ContainerView& v, const nn::BfvSettings& s, std::size_t values,
                                       const std::string& what);

}  // namespace leukocrypt::wire
