// The one place the clinic chooses how cells are packed into ciphertexts. Today the client has
// one layout, CryptoNets' "throughput" packing (one cell per SIMD slot: a request costs a full
// batch, ~3.5 GB at N = 16384, whatever the number of cells). When the low-latency packing
// (issue 10) lands, switching the clinic to it is this constant plus the two calls below (keygen
// may need rotation keys for it, the request its layout name); nothing else in the clinic knows.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/keyholder.h"

namespace leukocrypt::clinic {

inline constexpr const char* kPacking = "throughput";

// Fresh keys for the provider's model card (overwrites the provider's key directory).
nlohmann::json make_keys(const nlohmann::json& card, const client::KeyPaths& paths);

// Encrypts the cells into a request file for `model_id`; on_progress(done, total) as it goes.
void encrypt_request(const client::KeyHolder& keys, const std::vector<client::CellInput>& cells,
                     const std::string& model_id, const std::filesystem::path& out,
                     const std::function<void(std::size_t, std::size_t)>& on_progress);

}  // namespace leukocrypt::clinic
