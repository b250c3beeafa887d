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
#pragma once

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
// images to bound the slot values.
std::vector<double> plan_magnitudes(const Plan& plan, const std::vector<const std::uint8_t*>& images);

struct CkksSettings {
  ckks::Params params = ckks::Params::default_for(8192);
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
  bool circuit_privacy = false;     // count the server's flood (the CLI's default is on)
  JobCaps caps;                     // the largest job the flood covers
};

// Rescales the plan needs (linear layers + squares).
std::size_t ckks_levels(const Plan& plan);

// Predicted slot error after every step for these parameters and magnitude bounds (plan_magnitudes
// times the margin).
std::vector<double> predict_ckks_errors(const Plan& plan, const ckks::Params& params,
                                        const std::vector<double>& magnitudes);

// Throws SecurityError when no 128-bit set reaches the target (message: the target, the best
// predicted error, and at which scale and N; with circuit privacy also the flood's bits and the
// error without it), InvalidArgument for a bad plan or options.
CkksSettings choose_ckks_settings(const Plan& plan, const std::vector<double>& magnitudes,
                                  const CkksChoiceOptions& options = {});

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
