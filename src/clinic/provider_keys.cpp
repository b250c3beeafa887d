// Providers and their keys (see provider_keys.h).
#include "clinic/provider_keys.h"

#include <iostream>

#include "clinic/clinic_error.h"
#include "clinic/packing.h"
#include "clinic/sha256.h"
#include "common/timer.h"
#include "service/wire/container.h"

namespace leukocrypt::clinic {
namespace {

std::string card_summary(const nlohmann::json& card) {
  return "model '" + card.value("model_id", "?") + "', parameters " + card.value("params_id", "?");
}

}  // namespace

client::ServiceClient open_provider(const ProviderRecord& p) {
  client::ClientOptions o;
  o.connect_timeout = std::chrono::seconds(5);
  o.io_timeout = std::chrono::seconds(60);  // per socket read/write: a hung provider is an error within a minute
  return client::ServiceClient(p.url, p.token, o);
}

ProviderKeys::ProviderKeys(ClinicStore& store, std::filesystem::path keys_root, bool allow_insecure_for_tests)
    : store_(store), root_(std::move(keys_root)), allow_insecure_(allow_insecure_for_tests) {}

client::KeyPaths ProviderKeys::paths(const std::string& provider_id) const { return client::KeyPaths(root_ / provider_id); }

ProviderRecord ProviderKeys::get(const std::string& provider_id) {
  auto p = store_.find_provider(provider_id);
  if (!p) throw ClinicError(404, "provider_not_found", "no provider '" + provider_id + "'");
  return *p;
}

ProviderRecord ProviderKeys::make_and_register(ProviderRecord p) {
  try {
    auto sc = open_provider(p);
    p.card = sc.model_card();
    auto kp = paths(p.id);
    Timer keygen_time;
    auto info = make_keys(p.card, kp, allow_insecure_);
    const double keygen_s = keygen_time.seconds();
    p.key_id = info.value("key_id", "");
    p.key_fingerprint.clear();
    p.registered = false;
    store_.put_provider(p);  // the keys exist even if registration fails below
    // eval.key is hashed as it streams to the provider (with Galois keys it is gigabytes: one pass).
    Sha256 hash;
    Timer register_time;
    try {
      sc.register_keys_file(kp.eval, {}, [&hash](const char* d, std::size_t n) { hash.update(d, n); });
    } catch (...) {
      try {
        p.key_fingerprint = sha256_file(kp.eval);
        store_.put_provider(p);
      } catch (const std::exception&) {  // the registration's error is the one to show
      }
      throw;
    }
    p.key_fingerprint = hash.hex();
    p.registered = true;
    store_.put_provider(p);
    // The two costs of a new provider, for the technician's log and bench/clinic.
    std::cerr << "leukocrypt clinic: provider '" << p.name << "': keys made in " << keygen_s << " s, eval.key ("
              << info["bytes"].value("eval.key", std::uint64_t(0)) << " bytes, " << info.value("galois_keys", 0)
              << " Galois keys) registered in " << register_time.seconds() << " s" << std::endl;
    return p;
  } catch (const ClinicError&) {
    throw;
  } catch (const InvalidArgument& e) {
    throw ClinicError(400, "invalid_argument", e.what());
  } catch (const std::exception& e) {
    throw provider_error(e, p.url);
  }
}

ProviderRecord ProviderKeys::add(const std::string& name, const std::string& url, const std::string& token) {
  if (name.empty() || name.size() > 200) throw ClinicError(400, "invalid_argument", "give the provider a name (at most 200 characters)");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
    throw ClinicError(400, "invalid_argument", "the provider's address must start with http:// or https://");
  ProviderRecord p;
  p.id = wire::random_id().substr(0, 12);
  p.name = name;
  p.url = url;
  while (!p.url.empty() && p.url.back() == '/') p.url.pop_back();
  p.token = token;
  p.created = now_seconds();
  return make_and_register(std::move(p));
}

nlohmann::json ProviderKeys::describe(const ProviderRecord& p) const {
  auto j = p.to_json();
  // BFV (exact integer logits) or CKKS (approximate float logits); older cards name no scheme: BFV.
  j["scheme"] = p.card.value("scheme", "bfv");
  j["layouts"] = p.card.contains("layouts") && p.card["layouts"].is_array() ? p.card["layouts"]
                                                                             : nlohmann::json::array({"throughput"});
  try {
    const auto info = client::read_key_info(paths(p.id));
    if (info.value("key_id", "") == p.key_id && info.contains("bytes") && info["bytes"].is_object()) {
      j["eval_key_bytes"] = info["bytes"].value("eval.key", std::uint64_t(0));
      j["galois_keys"] = info.value("galois_keys", std::uint64_t(0));
    }
  } catch (const std::exception&) {  // no keys (yet): the page shows none
  }
  return j;
}

ProviderRecord ProviderKeys::renew(const std::string& provider_id) { return make_and_register(get(provider_id)); }

nlohmann::json ProviderKeys::check_card(const ProviderRecord& p, client::ServiceClient& sc) const {
  auto card = sc.model_card();
  if (card.value("params_id", "") != p.card.value("params_id", "") ||
      card.value("model_id", "") != p.card.value("model_id", ""))
    throw ClinicError(409, "model_card_changed",
                      "the provider '" + p.name + "' now serves " + card_summary(card) + "; the keys were made for " +
                          card_summary(p.card) + ". Make new keys for this provider, then screen again.");
  return card;
}

}  // namespace leukocrypt::clinic
