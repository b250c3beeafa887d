// The one place the clinic chooses how cells are packed into ciphertexts. A provider whose model
// card serves the latency layout (issue 10: each cell's values in the slots of one ciphertext,
// rotations with Galois keys) gets its keys made with them (the card's 'latency' section), and a
// screening of up to kLatencyMaxCells cells is packed that way: megabytes and seconds instead of a
// full CryptoNets batch. Larger screenings, and providers that serve only the throughput layout,
// use CryptoNets' packing (one cell per SIMD slot). Nothing else in the clinic knows.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/keyholder.h"

namespace leukocrypt::clinic {

// Above this many cells a full throughput batch is cheaper than latency ciphertexts (measured on
// the shipped model: docs/BENCHMARKS.md, "latency layout").
inline constexpr std::size_t kLatencyMaxCells = 64;

// Fresh keys for the provider's model card (overwrites the provider's key directory) in the card's
// scheme (BFV, or CKKS for a card with "scheme": "ckks"), with Galois keys when the card serves the
// latency layout (BFV only). allow_insecure_for_tests: accept a card whose
// parameters are below 128-bit security (tests only).
nlohmann::json make_keys(const nlohmann::json& card, const client::KeyPaths& paths, bool allow_insecure_for_tests);

// The layout a screening of `cells` cells for this card is planned in (see above) and, given the
// keys, packed in (throughput when the keys lack Galois keys, and always for a CKKS card).
nn::Layout planned_layout(const nlohmann::json& card, std::size_t cells);
nn::Layout choose_layout(const client::KeyHolder& keys, const nlohmann::json& card, std::size_t cells);

// Encrypts the cells (in choose_layout) into a request file for the card's model; on_progress(done,
// total) as it goes. Returns the layout used.
nn::Layout encrypt_request(client::KeyHolder& keys, const nlohmann::json& card, const std::vector<client::CellInput>& cells,
                     const std::filesystem::path& out,
                     const std::function<void(std::size_t, std::size_t)>& on_progress);

}  // namespace leukocrypt::clinic
