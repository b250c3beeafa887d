// Who may use the clinic page. The clinic holds secret keys and reads the cells a technician
// drops, so it answers only:
//   - requests whose Host is this clinic on a loopback name (127.0.0.1 / localhost / [::1] and the
//     port) — a web page elsewhere can not reach it through DNS rebinding;
//   - a browser holding the per-start access token: the URL the command prints carries it
//     (?token=...), the first visit trades it for an HttpOnly, SameSite=Strict cookie;
//   - for every state-changing request (POST, PUT, PATCH, DELETE): the per-start CSRF token in the
//     X-CSRF-Token header (the page reads it from GET /api/session, which another origin can not
//     read) and, when the browser sends one, an Origin that is this clinic.
// Tokens are 128-bit random, compared in constant time, never logged.
#pragma once

#include <string>

namespace leukocrypt::clinic {

struct RequestFacts {
  std::string method, host, origin, cookie, csrf;  // header values as received ("" when absent)
};

class AccessGuard {
 public:
  // allow_remote: the clinic was started on a non-loopback address on purpose (--allow-remote);
  // the Host check then only requires a Host header.
  explicit AccessGuard(bool allow_remote);
  void set_port(int port) { port_ = port; }

  const std::string& token() const { return token_; }
  const std::string& csrf() const { return csrf_; }
  bool token_matches(const std::string& candidate) const;
  std::string cookie_name() const;   // per port: two clinics on one machine keep their cookies apart
  std::string set_cookie() const;    // Set-Cookie value for the token

  // Each throws ClinicError 403 (bad_host, no_session, csrf) when the request may not go on.
  void check_host(const RequestFacts& r) const;
  void check_session(const RequestFacts& r) const;
  void check_state_change(const RequestFacts& r) const;  // CSRF + Origin (only for state changes)

  static bool is_loopback_host(const std::string& host);  // 127.0.0.0/8, ::1, localhost

 private:
  bool allow_remote_;
  int port_ = 0;
  std::string token_, csrf_;
};

}  // namespace leukocrypt::clinic
