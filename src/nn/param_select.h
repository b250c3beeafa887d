// Automatic BFV parameter selection for a plan (what `leukocrypt params` runs):
//  1. plaintext primes: the logits need `bits_needed` signed bits (worst-case bound by default,
//     or the largest value observed by the raw backend), so the CRT product T of k primes
//     t_j = 1 (mod 2N) must exceed 2^bits_needed;
//  2. for every N in the 128-bit table and k = 1..4: the fewest ciphertext primes (<= 50 bits,
//     log2(q*p) within the HomomorphicEncryption.org bound) whose worst-case noise simulation of
//     this plan (bfv::NoiseModel) leaves `margin_bits` at decryption, with a greedy mod-switch
//     schedule (each switch drops to the lowest level that still finishes with the margin);
//  3. the candidate with the lowest estimated end-to-end time for the requested number of images
//     (key holder + upload and download at the stated bandwidth + server), over both layouts
//     unless one is asked for: throughput (one cell per slot) and latency (a cell's values in
//     the slots of one ciphertext; plan_for builds its plan for each N).
// Explicit settings (N, plaintext primes, ciphertext prime sizes) are checked the same way and
// refused with the reason when insecure, too small for the logits or short of noise budget.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "he/bfv/params.h"
#include "nn/bfv_settings.h"
#include "nn/circuit_privacy.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

struct NoiseSimulation {
  std::vector<double> budget_after_step;  // bits, per plan step (encrypt .. decrypt)
  std::vector<std::size_t> level_after_step;
  double final_budget = 0;                // at decryption (min over the plaintext primes)
};

// Worst-case noise of the plan under one Params (one plaintext prime) and a mod-switch schedule.
// defer_relin: relinearisation after the next linear layer (BfvSettings::defer_relin): mod switches
// in between act on size-3 ciphertexts (rounding term (1 + N + N^2)/2 instead of (1 + N)/2) and the
// key-switching noise is added after the linear layer instead of being multiplied by its weights.
NoiseSimulation simulate_noise(const Plan& plan, const bfv::Params& params,
                               const std::vector<std::size_t>& mod_switch_levels, bool defer_relin = false);

// Greedy schedule: at each ModSwitch step the lowest level from which the rest of the plan still
// ends with >= margin_bits (budget taken as the minimum over `params`, one per plaintext prime).
std::vector<std::size_t> choose_mod_switch_levels(const Plan& plan, const std::vector<bfv::Params>& params,
                                                  double margin_bits, bool defer_relin = false);

// The settings adapted to run `plan` in `layout` (plan_for: the latency lowering for settings.n):
// the layout set, relinearisation not deferred for latency, the greedy mod-switch schedule for that
// layout's noise; nullopt when the cell does not fit N/2 slots or the worst-case noise would leave
// less than margin_bits. A server uses it to accept both layouts with one parameter set.
std::optional<BfvSettings> adapt_to_layout(const Plan& plan, const BfvSettings& settings, Layout layout,
                                           double margin_bits = 10);

// Estimated seconds for `images` images on `threads` threads (analytic op counts x per-op costs of
// this engine: element-wise O(N*l) ops, NTTs, HPS squaring and gadget key switching).
struct CostEstimate {
  double client_seconds = 0;  // encode + encrypt + decrypt
  double server_seconds = 0;  // the plan's server steps
  double upload_bytes = 0;    // ciphertexts key holder -> server (seeded), keys apart
  double download_bytes = 0;  // results server -> key holder
  double transfer_seconds = 0;  // both directions at the request's bandwidth
  double galois_key_bytes = 0;  // latency layout: the Galois keys (registered once per key, not per request)
  // End to end: key holder + upload + server + download.
  double total() const { return client_seconds + server_seconds + transfer_seconds; }
  std::size_t batches = 0;
  // Ciphertexts resident at once in the streaming evaluation (one prime at a time, inputs pulled on
  // demand): the largest linear layer's inputs plus outputs, after the first layer.
  double peak_bytes = 0;
};
// plan must be in the settings' layout (plan_for). bandwidth_mbit: the link both ways.
// circuit_privacy: add the server's re-randomisation and flooding of every result ciphertext.
CostEstimate estimate_cost(const Plan& plan, const BfvSettings& s, std::size_t images, std::size_t threads,
                           double bandwidth_mbit = 100, bool circuit_privacy = false);

// Result ciphertexts of the largest job `caps` allow, in the layout of `plan` (plan_for(settings)):
// throughput min(batches, ceil(cells / N)) x primes x outputs, latency ciphertexts x primes.
std::size_t result_ciphertexts_per_job(const Plan& plan, const BfvSettings& settings, const JobCaps& caps);

// Budget to leave at decryption: the margin, or the flooding reserve for the largest job (which
// bounds the noise far below the margin: circuit_privacy.h, "Correctness").
double required_final_budget(const Plan& plan, const BfvSettings& settings, double margin_bits,
                             bool circuit_privacy, const JobCaps& caps);

struct ParamsRequest {
  int bits_needed = 0;                        // signed bits of the logits
  std::size_t images = 0;                     // images to run (0: one full batch of N)
  std::size_t threads = 2;
  double margin_bits = 10;                    // noise budget left at decryption
  double memory_limit_bytes = 8.0e9;          // refuse candidates whose inputs exceed this
  double bandwidth_mbit = 100;                // link between key holder and server, both ways
  // Layout: throughput (CryptoNets), latency (cells in slots, rotations) or empty = both, the
  // lower estimated end-to-end time wins.
  std::optional<Layout> layout;
  // Explicit choices (empty/0 = automatic):
  std::size_t n = 0;
  std::vector<std::uint64_t> plain_primes;
  std::vector<int> q_bits;                    // ciphertext primes then the special prime(s)
  std::size_t special_primes = 0;             // the last entries of q_bits (0: automatic; 1 with q_bits)
  std::size_t blocks = 0;                     // throughput: spatial blocks (block_layout.h; 0: automatic)
  bool insecure_for_tests = false;            // tiny parameters in tests only
  // Leave circuit_privacy_reserved_bits of noise budget (instead of the margin when larger) for the
  // server's noise flooding of jobs up to `job` (nn/circuit_privacy.h), and include its cost in the
  // estimate. On by default.
  bool circuit_privacy = true;
  JobCaps job;
};

struct ParamsChoice {
  BfvSettings settings;
  NoiseSimulation noise;
  CostEstimate cost;
  double circuit_privacy_bits = 0;            // budget reserved for the server's flooding (0: off)
  std::size_t circuit_privacy_ciphertexts = 0;  // result ciphertexts of the largest job it covers
  JobCaps job;
  std::vector<std::string> reasons;           // human-readable lines: why this choice
  nlohmann::json candidates = nlohmann::json::array();  // every candidate considered
  nlohmann::json to_json() const;
};

// Throws InvalidArgument (with the explanation) when explicit settings are unusable and
// SecurityError when they are below 128 bits; throws InvalidArgument when nothing fits.
ParamsChoice choose_params(const Plan& plan, const ParamsRequest& request);

}  // namespace leukocrypt::nn
