// CKKS parameters for a plan, chosen from the precision model (he/ckks/precision_model.h) and the
// 128-bit table: one rescale per linear layer (weights encoded at the level's last prime, so every
// term of a sum has the same scale and one rescale restores it) and one per square, so a plan of
// D squares and D+1 linear layers needs 2D+1 rescale primes. The chooser walks the scale upwards
// (the ring degree N never shrinks as the scale grows, the predicted error only shrinks) and takes
// the first scale whose predicted largest logit error meets the target, then the largest scale
// that still fits the same N (more margin for free) among those with the fewest primes beyond the
// SIMD kernels' 50 bits. It refuses, with the numbers, a target that
// no 128-bit set reaches. With circuit privacy the predicted error includes the server's flood
// (nn/ckks_circuit_privacy.h) and the flooded result must still fit q_0.
// The latency layout (a plan from ckks_latency_plan) uses the same levels; its linear steps are
// predicted with the rotations' key-switch noise and the diagonals' encoding errors, its slot
// magnitudes are measured over every slot of the packed ciphertexts (partial sums included), and N
// is at least twice the block of a cell.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "he/ckks/params.h"
#include "nn/circuit_privacy.h"
#include "nn/plan.h"

namespace leukocrypt::nn {

// Largest |value| after every plan step over the given images (float arithmetic of the f_* rows;
// index = plan step; Encrypt: the scaled pixels). What the key holder measures on calibration
// images to bound the slot values. For a CKKS latency plan: over every slot of the packed
// ciphertexts (the slot program run in doubles: rotations, partial sums and neighbours' values).
std::vector<double> plan_magnitudes(const Plan& plan, const std::vector<const std::uint8_t*>& images);

// The slots of one packed ciphertext (up to cells_per_ciphertext cells) after every step of a CKKS
// latency plan, in doubles: what the encrypted slots approximate (index = plan step).
std::vector<std::vector<double>> slot_program_trace(const Plan& plan, const std::vector<const std::uint8_t*>& cells);

// The plan in the CKKS latency layout at ring degree n (0: the smallest N that holds one cell).
Plan ckks_latency_plan(const Plan& plan, std::size_t n = 0);

// How the scale moves along a throughput plan, per plan step. The default (an empty schedule):
// every linear layer and square rescales by one prime, a linear layer's weights encoded at that
// prime, so the scale returns to the input's after every step. The wide schedule of circuit
// privacy (choose_ckks_settings with circuit_privacy; nn/ckks_circuit_privacy.h): the first linear
// layer's weights at 2^weight_bits and no rescale (integer products of the inputs: nothing is
// rounded yet), every square rescaled by the primes (one, two or three) that bring its product
// back to a wide scale T of ~2^100, every linear layer between squares by one prime, the layers
// after the last square at 2^40 without a rescale (q_0 holds their scale). The rescales' and
// key switches' rounding then sits ~2^100 below the values, so a flood 2^40 above it still leaves
// the logits their precision.
struct CkksStepScale {
  int rescales = 1;     // primes rescaled away after the step (Linear, Square; others 0)
  int weight_bits = 0;  // Linear: weights encoded at 2^weight_bits; 0: at the step's first rescale prime
  // The weights' scale for ckks::Evaluator's scalar ops: 2^weight_bits, or 0 (the level's last prime).
  double weight_scale() const { return weight_bits > 0 ? std::ldexp(1.0, weight_bits) : 0.0; }
  friend bool operator==(const CkksStepScale&, const CkksStepScale&) = default;
};
using CkksSchedule = std::vector<CkksStepScale>;  // empty, or one entry per plan step

// The schedule's entry for step s (the default's for an empty schedule).
CkksStepScale step_scale(const CkksSchedule& schedule, const Plan& plan, std::size_t s);
// Primes the plan consumes under the schedule (ckks_levels(plan) for the default); throws
// InvalidArgument for a schedule of another length, a linear layer without a weight scale (no
// rescale and no weight_bits), or out-of-range entries.
std::size_t ckks_rescales(const Plan& plan, const CkksSchedule& schedule);

struct CkksSettings {
  ckks::Params params = ckks::Params::default_for(8192);
  CkksSchedule schedule;  // empty: one prime per linear layer and square
  Layout layout = Layout::kThroughput;
  double target_error = 0;     // largest logit error asked for
  double predicted_error = 0;  // the precision model's bound on the largest logit error
  std::vector<double> step_error;  // predicted slot error after every plan step (before any flood)
  // Circuit privacy: the server floods every result with 2^flood_bits per coefficient, covering jobs
  // of up to privacy_ciphertexts result ciphertexts; predicted_error includes the flood.
  bool circuit_privacy = false;
  int flood_bits = 0;
  std::size_t privacy_ciphertexts = 0;
  int statistical_bits = 0;  // what the flood was chosen for (the chooser: 40; a document may state less)
  nlohmann::json to_json() const;
};

struct CkksChoiceOptions {
  double target_error = 1e-3;  // largest acceptable |encrypted - float| logit difference
  double margin = 2.0;         // slot-value bounds = margin x the measured magnitudes
  std::size_t min_n = 1024;
  int min_scale_bits = 20, max_scale_bits = 50;
  bool insecure_for_tests = false;  // unit tests only: no 128-bit check, N = min_n
  // Special prime bits (0: about the size of q_0). The latency layout asks for 59: every rotation's
  // key-switch noise is divided by it, and rotations dominate that layout's error (x 1/32 against
  // a 54-bit q_0-sized prime), for one prime beyond the SIMD kernels' 50 bits.
  int special_bits = 0;
  bool circuit_privacy = false;     // count the server's flood (the CLI's default is on)
  JobCaps caps;                     // the largest job the flood covers
};

// Rescales the plan needs (linear layers + squares).
std::size_t ckks_levels(const Plan& plan);

// The plan in the settings' layout: `plan` itself (throughput, or already the CKKS latency layout
// at the settings' N) or ckks_latency_plan(plan, N).
Plan ckks_plan_for(const Plan& plan, const CkksSettings& settings);

// Predicted slot error after every step for these parameters and magnitude bounds (plan_magnitudes
// times the margin).
std::vector<double> predict_ckks_errors(const Plan& plan, const ckks::Params& params,
                                        const std::vector<double>& magnitudes, const CkksSchedule& schedule = {});

// The layout is the plan's (a latency plan: ckks_latency_plan, with magnitudes measured on it).
// Throws SecurityError when no 128-bit set reaches the target (message: the target, the best
// predicted error, and at which scale and N; with circuit privacy also the flood's bits and the
// error without it), InvalidArgument for a bad plan or options.
CkksSettings choose_ckks_settings(const Plan& plan, const std::vector<double>& magnitudes,
                                  const CkksChoiceOptions& options = {});

// Rough end-to-end seconds of screening `cells` cells with these settings and the plan in their
// layout (ckks_plan_for): seeded upload and result download at bandwidth_mbit, key-holder
// encryption, and the server's key switches (rotations, relinearisations), plaintext products and
// rescales from per-op costs measured on 2 cores (docs/benchmarks/he-ckks.md, N = 16384: rotate
// 6.3 ms at 8 primes), scaled with N and the level. For `params --layout auto`.
struct CkksCostEstimate {
  double upload_bytes = 0, download_bytes = 0, keyholder_seconds = 0, server_seconds = 0, total_seconds = 0;
  nlohmann::json to_json() const;
};
CkksCostEstimate estimate_ckks_cost(const Plan& plan, const CkksSettings& settings, std::size_t cells,
                                    double bandwidth_mbit);

// True when a parameters document is for CKKS: params.json of `params --scheme ckks`
// ({"scheme": "ckks", "ckks": ...}), a CKKS model card or keys.json ({"params"|"settings": {"scheme":
// "ckks", ...}}), or a bare CkksSettings::to_json() object.
bool is_ckks_document(const nlohmann::json& j);

// CkksSettings from any document is_ckks_document accepts. The primes are rebuilt and checked again
// (NTT-friendly, 128-bit table): SecurityError for a set below 128 bits unless
// allow_insecure_for_tests (the caller's explicit --insecure-for-tests; the document's own
// "security" field never lowers the level). FormatError naming `what` for anything malformed.
CkksSettings ckks_settings_from_json(const nlohmann::json& j, const std::string& what,
                                     bool allow_insecure_for_tests = false);

}  // namespace leukocrypt::nn
