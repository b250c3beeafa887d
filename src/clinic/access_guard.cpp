// Access token, cookie, CSRF and Host checks of the clinic (see access_guard.h).
#include "clinic/access_guard.h"

#include "clinic/clinic_error.h"
#include "service/wire/container.h"

namespace leukocrypt::clinic {
namespace {

bool equal_constant_time(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (std::size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

// The value of cookie `name` in a Cookie header ("a=1; b=2"), or "".
std::string cookie_value(const std::string& header, const std::string& name) {
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    auto item = header.substr(pos, end - pos);
    auto first = item.find_first_not_of(' ');
    if (first != std::string::npos) item = item.substr(first);
    if (item.rfind(name + "=", 0) == 0) return item.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool is_state_change(const std::string& method) { return method != "GET" && method != "HEAD" && method != "OPTIONS"; }

}  // namespace

AccessGuard::AccessGuard(bool allow_remote)
    : allow_remote_(allow_remote), token_(wire::random_id()), csrf_(wire::random_id()) {}

bool AccessGuard::token_matches(const std::string& candidate) const { return equal_constant_time(candidate, token_); }

std::string AccessGuard::cookie_name() const { return "lc_clinic_" + std::to_string(port_); }

std::string AccessGuard::set_cookie() const {
  return cookie_name() + "=" + token_ + "; Path=/; HttpOnly; SameSite=Strict";
}

bool AccessGuard::is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

void AccessGuard::check_host(const RequestFacts& r) const {
  if (r.host.empty()) throw ClinicError(403, "bad_host", "the request has no Host header");
  if (allow_remote_) return;
  std::string port(":");
  port += std::to_string(port_);
  for (std::string allowed : {"127.0.0.1", "localhost", "[::1]"})
    if (r.host == allowed.append(port)) return;
  throw ClinicError(403, "bad_host",
                    "this clinic answers only at http://127.0.0.1" + port + " (the request was for '" + r.host + "')");
}

void AccessGuard::check_session(const RequestFacts& r) const {
  if (!equal_constant_time(cookie_value(r.cookie, cookie_name()), token_))
    throw ClinicError(403, "no_session",
                      "wrong or missing access token: open the address `leukocrypt clinic` printed (it ends in "
                      "?token=...), from this start of the clinic");
}

void AccessGuard::check_state_change(const RequestFacts& r) const {
  if (!is_state_change(r.method)) return;
  if (!equal_constant_time(r.csrf, csrf_))
    throw ClinicError(403, "csrf", "missing or wrong X-CSRF-Token: reload the page");
  if (!r.origin.empty() && r.origin != "http://" + r.host)
    throw ClinicError(403, "csrf", "request from another site (Origin " + r.origin + ") refused");
}

}  // namespace leukocrypt::clinic
