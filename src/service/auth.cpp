// API token table (see auth.h).
#include "service/auth.h"

#include <sstream>

#include "common/error.h"
#include "common/paths.h"
#include "service/wire/container.h"

namespace leukocrypt::service {
namespace {

bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool printable_token(std::string_view t) {
  for (char c : t)
    if (c <= ' ' || c > '~') return false;
  return true;
}

}  // namespace

TokenTable TokenTable::load(const std::filesystem::path& path) {
  return parse(read_file(path, 1 << 20), path.string());
}

TokenTable TokenTable::parse(std::string_view text, const std::string& what) {
  TokenTable t;
  std::istringstream in{std::string(text)};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    std::istringstream ls(line);
    std::string client, token, extra;
    if (!(ls >> client)) continue;
    if (!(ls >> token) || (ls >> extra))
      throw FormatError(what + ":" + std::to_string(n) + ": expected '<client> <token>'");
    try {
      t.add(client, token);
    } catch (const InvalidArgument& e) {
      throw FormatError(what + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  if (t.size() == 0) throw FormatError(what + ": no tokens");
  return t;
}

void TokenTable::add(const std::string& client, const std::string& token) {
  require(wire::is_valid_id(client), "client name '" + client + "' must be 1-64 characters of [0-9A-Za-z_-]");
  require(token.size() >= kMinTokenLength && printable_token(token),
          "token for client '" + client + "' must be at least " + std::to_string(kMinTokenLength) +
              " printable characters");
  for (auto& e : entries_) require(e.token != token, "token for client '" + client + "' is used twice");
  entries_.push_back({client, token});
}

std::optional<std::string> TokenTable::client_for_token(std::string_view token) const {
  std::optional<std::string> found;
  for (auto& e : entries_)  // scan all entries: no early exit leaks which one matched
    if (equal_constant_time(e.token, token) && !found) found = e.client;
  return found;
}

std::optional<std::string> TokenTable::client_for_header(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return std::nullopt;
  return client_for_token(header.substr(kBearer.size()));
}

}  // namespace leukocrypt::service
