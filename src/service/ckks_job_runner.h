// The CKKS JobRunner (make_he_runner picks it for a `params --scheme ckks` document): the model's
// plan with float weights on nn::CkksPlanEvaluator, one image per slot (N/2 per batch), public side
// only (relinearisation keys in, ciphertexts in and out). Circuit privacy (flooding the result's
// noise) exists for BFV only: the runner refuses to start with it on, so serving CKKS needs the
// operator's explicit --no-circuit-privacy (docs/API.md, Security).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "service/he_job_runner.h"

namespace leukocrypt::service {

// Throws InvalidArgument when options.circuit_privacy is set, FormatError / SecurityError for bad
// or weak parameters, IoError for unreadable files.
std::unique_ptr<JobRunner> make_ckks_runner(const HeRunnerOptions& options, const nlohmann::json& params_json,
                                            const std::string& params_what);

}  // namespace leukocrypt::service
