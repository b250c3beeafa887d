// The 64-bit params id stored in every serialized object: the first 8 bytes of BLAKE2b-128 over a
// scheme tag and the parameter words (each as 8 little-endian bytes). The tag keeps BFV and CKKS
// ids apart for the same primes.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace leukocrypt::rlwe {

std::uint64_t params_id(std::string_view tag, const std::vector<std::uint64_t>& words);

}  // namespace leukocrypt::rlwe
