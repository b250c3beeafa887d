// API tokens: a text file of `<client> <token>` lines (`#` comments). A request's
// `Authorization: Bearer <token>` header names the client; every key and job belongs to the
// client that created it and is invisible (404) to every other client. Tokens are compared in
// constant time and never logged.
#pragma once

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

  void add(const std::string& client, const std::string& token);
  // The client for an `Authorization` header value ("Bearer <token>"), or nullopt.
  std::optional<std::string> client_for_header(std::string_view header) const;
  std::optional<std::string> client_for_token(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

  static constexpr std::size_t kMinTokenLength = 16;

 private:
  struct Entry {
    std::string client, token;
  };
  std::vector<Entry> entries_;
};

}  // namespace leukocrypt::service
