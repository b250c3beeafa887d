// Errors the clinic shows the lab technician: an HTTP status for the page's JSON API and a stable
// code the page keys its message on (provider_unreachable, provider_token_rejected,
// model_card_changed, job_failed, ...). provider_error() turns what the service client threw into
// one of these, so every path that talks to a provider reports the same words.
#pragma once

#include <exception>
#include <string>

#include "common/error.h"

namespace leukocrypt::clinic {

class ClinicError : public StatusError {
 public:
  using StatusError::StatusError;
};

// Maps an exception from client::ServiceClient (or anything else) while talking to the provider
// at `url` to a ClinicError: unreachable (502), token refused (502, 401 from the provider), job
// failed, other provider errors. ClinicErrors pass through unchanged.
ClinicError provider_error(const std::exception& e, const std::string& url);

}  // namespace leukocrypt::clinic
