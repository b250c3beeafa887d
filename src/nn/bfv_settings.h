// The encryption parameters of one encrypted-inference setup, as chosen by `leukocrypt params`
// and stored in params.json: ring degree N, ciphertext prime sizes (SEAL-style: the last one is
// the special key-switching prime), the plaintext primes joined by CRT, and the level each plan
// mod-switch step drops to. One bfv::Params per plaintext prime (same N and q).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "he/bfv/params.h"
#include "nn/block_layout.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

struct BfvSettings {
  std::size_t n = 0;
  std::vector<int> q_bits;                       // ciphertext primes, then the special prime(s)
  // How many of q_bits' last entries are special primes (key switching with digits of that many
  // ciphertext primes: fewer digits, smaller and faster keys, more modulus). Absent in older
  // params.json: 1.
  std::size_t special_primes = 1;
  std::vector<std::uint64_t> plain_primes;       // t_j: prime, = 1 (mod 2N), joined by CRT
  std::vector<std::size_t> mod_switch_levels;    // per plan ModSwitch step: target level (0 = stay)
  // Relinearise after the next linear layer instead of after each square (relinearisation is
  // linear): the linear layer runs on size-3 ciphertexts and only its outputs are relinearised.
  // Chosen by `params` when its cost model says it is cheaper; absent in older params.json (false).
  bool defer_relin = false;
  // Permission, never a property of a document: sets below 128-bit security are accepted only
  // when the caller sets this (the CLI's explicit --insecure-for-tests; unit tests). The security
  // level itself is always computed from N and q (meets_128_bits), so a params.json or model card
  // cannot lower it, and the params id does not depend on the permission.
  bool insecure_for_tests = false;
  // How cells are packed (absent in older params.json: throughput). The latency layout needs
  // Galois keys for the plan's rotation steps and never defers relinearisation.
  Layout layout = Layout::kThroughput;
  // Throughput layout only: spatial blocks per ciphertext (block_layout.h; 1 = one cell per slot of
  // all N). Needs Galois keys for the block sum. Absent in older params.json: 1.
  std::size_t blocks = 1;

  // Cells one throughput batch holds: N, or the slots of one block.
  std::size_t cells_per_batch() const { return blocks > 1 ? BlockLayout::slots_per_block(n, blocks) : n; }
  std::size_t levels() const { return q_bits.size() > special_primes ? q_bits.size() - special_primes : 0; }
  // Checks shapes, primality and t = 1 mod 2N; throws InvalidArgument naming the problem.
  void validate() const;
  // True when N and log2(q*p) are within the HomomorphicEncryption.org 128-bit table.
  bool meets_128_bits() const;
  // SecurityError (naming N, log2(q*p) and the limit) for a set below 128 bits unless
  // insecure_for_tests allows it.
  void check_security() const;
  // One Params per plaintext prime (validate + check_security first). Tagged k128 whenever the set
  // meets the table, kInsecureForTests otherwise.
  std::vector<bfv::Params> params() const;
  // log2 of the product of the plaintext primes.
  double log2_plain() const;

  nlohmann::json to_json() const;
  // Reads the object written by to_json (validated; FormatError on anything off). The document's
  // "security" field is informational only and never lowers the check: a set below 128 bits
  // throws SecurityError unless allow_insecure_for_tests (the caller's explicit choice).
  static BfvSettings from_json(const nlohmann::json& j, bool allow_insecure_for_tests = false);
};

// The plan in the settings' layout: `plan` itself (throughput), to_blocked(plan, n, blocks)
// (throughput with blocks) or to_latency(plan, settings.n).
Plan plan_for(const Plan& plan, const BfvSettings& settings);
// True when plan_for would block `plan`: throughput settings with spatial blocks it lacks.
bool needs_blocking(const Plan& plan, const BfvSettings& settings);
// The Galois elements the block sum of `blocks` uses (its row rotations and, for blocks in both
// slot rows, the row swap), increasing: what keygen makes and the server requires.
std::vector<std::uint32_t> block_sum_galois_elts(const BlockLayout& blocks);

}  // namespace leukocrypt::nn
