// Providers and their keys: each provider gets its own key directory under the clinic's data
// directory (keys/<provider id>/, 0700, secret.key 0600), made for the model card the provider
// serves and registered with it (only eval.key is ever sent). Providers never share keys, so
// results from one can not be read with another's keys by mistake.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "client/key_files.h"
#include "client/service_client.h"
#include "clinic/clinic_store.h"
#include "clinic/sha256.h"

namespace leukocrypt::clinic {

class ProviderKeys {
 public:
  // allow_insecure_for_tests: accept provider parameters below 128-bit security (tests only).
  ProviderKeys(ClinicStore& store, std::filesystem::path keys_root, bool allow_insecure_for_tests = false);

  // Fetches the provider's model card, makes keys for it, registers eval.key, stores the provider.
  // Throws ClinicError (provider_unreachable, provider_token_rejected, invalid_argument, ...).
  ProviderRecord add(const std::string& name, const std::string& url, const std::string& token);
  // New keys for the provider's current model card (after model_card_changed), registered.
  ProviderRecord renew(const std::string& provider_id);
  // The stored provider, or ClinicError 404.
  ProviderRecord get(const std::string& provider_id);

  client::KeyPaths paths(const std::string& provider_id) const;
  // The provider as the page sees it: the record plus the layouts its card serves and the size of
  // the evaluation key sent to it (eval_key_bytes, galois_keys; from keys.json, absent without keys).
  nlohmann::json describe(const ProviderRecord& p) const;
  // The provider's card now; throws ClinicError model_card_changed when it is not the card the
  // keys were made for (parameters or model differ).
  nlohmann::json check_card(const ProviderRecord& p, client::ServiceClient& sc) const;

 private:
  ProviderRecord make_and_register(ProviderRecord p);

  ClinicStore& store_;
  std::filesystem::path root_;
  bool allow_insecure_ = false;
};

// A service client for the provider with the clinic's time-outs.
client::ServiceClient open_provider(const ProviderRecord& p);

}  // namespace leukocrypt::clinic
