// The production JobRunner: runs the encrypted CryptoNets plan of one model with lc_nn's BFV
// evaluation (public side only: evaluation keys, never a secret key). Validates uploads with the
// HE loaders (magic, version, params id, sizes, every coefficient < q_i) before they are queued.
#pragma once

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "nn/circuit_privacy.h"
#include "service/job_runner.h"

namespace leukocrypt::service {

struct HeRunnerOptions {
  std::filesystem::path model;   // native model file (nn::save_model)
  std::filesystem::path params;  // params.json written by `leukocrypt params` / accepted by keygen
  nlohmann::json params_json;    // used instead when `params` is empty (e.g. from eval.key's meta)
  // Parameters below 128-bit security are refused (SecurityError) unless the operator passed
  // --insecure-for-tests: a params document never lowers the level by itself.
  bool allow_insecure_for_tests = false;
  // Re-randomise and noise-flood every result ciphertext (nn/circuit_privacy.h); the parameters
  // must reserve the noise budget for it (`leukocrypt params` does by default). Off only to measure.
  bool circuit_privacy = true;
  // The largest job the flooding reserve must cover (serve: its --max-cells-per-job and
  // --max-batches-per-job); parameters whose budget does not cover it are refused, larger jobs too.
  nn::JobCaps job;
};

// Throws IoError / FormatError / InvalidArgument naming the bad file.
std::unique_ptr<JobRunner> make_he_runner(const HeRunnerOptions& options);

// The scheme a key bundle, request or result container's meta says it is for ("bfv" or "ckks";
// containers without the field are BFV).
std::string scheme_of_meta(const std::string& meta_text);

// Keys an API node validated and stored, read by the runner that evaluates the job: in `serve`
// the same runner, but a `leukocrypt worker` may have been started with other --params than the
// API nodes. Throws FormatError naming both schemes and parameter ids when the keys' are not
// this runner's, instead of an obscure failure deep in a key loader.
void check_stored_keys(const wire::ContainerHeader& keys, const std::string& runner_scheme,
                       std::uint64_t runner_params_id);

}  // namespace leukocrypt::service
