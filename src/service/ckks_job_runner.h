// The CKKS JobRunner (make_he_runner picks it for a `params --scheme ckks` document): the model's
// plan with float weights on nn::CkksPlanEvaluator, one image per slot (N/2 per batch), public side
// only (relinearisation keys in, ciphertexts in and out). With circuit privacy (the default) every
// result is re-randomised and flooded (nn/ckks_circuit_privacy.h) with the flood the parameters
// carry; parameters without one (`params --scheme ckks --no-circuit-privacy`, the only kind the
// chooser can make for this project's models) are refused unless the operator passes
// --no-circuit-privacy (docs/API.md, Security).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "service/he_job_runner.h"

namespace leukocrypt::service {

// Throws InvalidArgument when options.circuit_privacy is set and the parameters carry no flood
// covering options.job, FormatError / SecurityError for bad or weak parameters, IoError for
// unreadable files.
std::unique_ptr<JobRunner> make_ckks_runner(const HeRunnerOptions& options, const nlohmann::json& params_json,
                                            const std::string& params_what);

}  // namespace leukocrypt::service
