// Provider errors in the clinic's words (see clinic_error.h).
#include "clinic/clinic_error.h"

#include "client/service_client.h"

namespace leukocrypt::clinic {

ClinicError provider_error(const std::exception& e, const std::string& url) {
  if (auto* c = dynamic_cast<const ClinicError*>(&e)) return *c;
  if (auto* s = dynamic_cast<const client::ServiceError*>(&e)) {
    if (s->status() == 401)
      return {502, "provider_token_rejected",
              "the provider at " + url + " refused the API token (401): check the token the provider gave you"};
    if (s->code() == "job_failed") return {502, "job_failed", std::string("the provider could not screen the cells: ") + e.what()};
    return {502, "provider_error", std::string("the provider answered with an error: ") + e.what()};
  }
  if (dynamic_cast<const IoError*>(&e) && std::string(e.what()).find("cannot reach") != std::string::npos)
    return {502, "provider_unreachable",
            "cannot reach the provider at " + url + ": is its service running and the address right? (" + e.what() + ")"};
  if (dynamic_cast<const SecurityError*>(&e))
    return {400, "insecure_parameters",
            "the provider at " + url + " uses encryption parameters below 128-bit security: a test setup, never for "
            "patient cells. To test with it, start the clinic with `leukocrypt clinic --insecure-for-tests`. (" +
                std::string(e.what()) + ")"};
  if (dynamic_cast<const FormatError*>(&e)) return {502, "provider_error", std::string("the provider sent bad data: ") + e.what()};
  return {500, "internal_error", e.what()};
}

}  // namespace leukocrypt::clinic
