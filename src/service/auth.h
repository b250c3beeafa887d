// API tokens: a text file of `<client> <token> [<expires>]` lines (`#` comments); <expires> is an
// optional UTC time `YYYY-MM-DDTHH:MM:SSZ` after which the token is refused with 401 token_expired
// (files without the column keep working: such tokens never expire). A request's
// `Authorization: Bearer <token>` header names the client; every key and job belongs to the
// client that created it and is invisible (404) to every other client. Tokens are compared in
// constant time and never logged.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace leukocrypt::service {

class TokenTable {
 public:
  TokenTable() = default;
  // Parses a tokens file; throws FormatError naming the line (short token, bad client name,
  // duplicate token) or IoError.
  static TokenTable load(const std::filesystem::path& path);
  static TokenTable parse(std::string_view text, const std::string& what);

  using Clock = std::chrono::system_clock;
  // A token that never expires unless `expires` is given.
  void add(const std::string& client, const std::string& token, std::optional<Clock::time_point> expires = {});

  struct Match {
    std::string client;
    std::optional<Clock::time_point> expires;
    bool expired_at(Clock::time_point now) const { return expires && now >= *expires; }
  };
  // The entry for an `Authorization` header value ("Bearer <token>"), expired or not, or nullopt.
  std::optional<Match> match_header(std::string_view header) const;
  std::optional<Match> match_token(std::string_view token) const;
  // The client for a header or token that is valid at `now`, or nullopt (unknown or expired).
  std::optional<std::string> client_for_header(std::string_view header, Clock::time_point now = Clock::now()) const;
  std::optional<std::string> client_for_token(std::string_view token, Clock::time_point now = Clock::now()) const;

  // `YYYY-MM-DDTHH:MM:SSZ` (UTC, years 1970-2200: the clock's range) to a time point; throws
  // InvalidArgument otherwise.
  static Clock::time_point parse_utc(std::string_view text);
  static std::string format_utc(Clock::time_point t);
  std::size_t size() const { return entries_.size(); }

  static constexpr std::size_t kMinTokenLength = 16;

 private:
  struct Entry {
    std::string client, token;
    std::optional<Clock::time_point> expires;
  };
  std::vector<Entry> entries_;
};

}  // namespace leukocrypt::service
