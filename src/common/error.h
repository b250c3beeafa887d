// Typed exceptions used across leukocrypt. Public APIs throw these with a message that names
// the argument and the mismatch; the CLI and the HTTP service map them to exit codes / 4xx.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace leukocrypt {

// Base of every error we throw on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a value that is out of range or inconsistent with another argument.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// Untrusted bytes (file, HTTP body) failed validation: magic, version, sizes, ranges, ids.
class FormatError : public Error {
 public:
  using Error::Error;
};

// A file or directory could not be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// Parameters are below the security level and insecure use was not explicitly allowed.
class SecurityError : public Error {
 public:
  using Error::Error;
};

// An error with an HTTP status and a stable code a program can key on (the service's JSON error
// codes, the clinic page's): the base of client::ServiceError and clinic::ClinicError.
class StatusError : public Error {
 public:
  StatusError(int status, std::string code, const std::string& message)
      : Error(message), status_(status), code_(std::move(code)) {}
  int status() const { return status_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string code_;
};

// Throws E(message) when cond is false. For public API validation, not hot loops.
template <class E = InvalidArgument>
inline void require(bool cond, const std::string& message) {
  if (!cond) throw E(message);
}

}  // namespace leukocrypt

// Debug-only check for hot loops; compiled out in Release.
#ifdef NDEBUG
#define LC_DCHECK(cond) ((void)0)
#else
#include <cassert>
#define LC_DCHECK(cond) assert(cond)
#endif
