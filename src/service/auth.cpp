// API token table (see auth.h).
#include "service/auth.h"

#include <cstdio>
#include <ctime>
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
    std::string client, token, expires, extra;
    if (!(ls >> client)) continue;
    if (!(ls >> token) || (ls >> expires && ls >> extra))
      throw FormatError(what + ":" + std::to_string(n) + ": expected '<client> <token> [<expires, UTC>]'");
    try {
      t.add(client, token, expires.empty() ? std::nullopt : std::optional(parse_utc(expires)));
    } catch (const InvalidArgument& e) {
      throw FormatError(what + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  if (t.size() == 0) throw FormatError(what + ": no tokens");
  return t;
}

void TokenTable::add(const std::string& client, const std::string& token, std::optional<Clock::time_point> expires) {
  require(wire::is_valid_id(client), "client name '" + client + "' must be 1-64 characters of [0-9A-Za-z_-]");
  require(token.size() >= kMinTokenLength && printable_token(token),
          "token for client '" + client + "' must be at least " + std::to_string(kMinTokenLength) +
              " printable characters");
  for (auto& e : entries_) require(e.token != token, "token for client '" + client + "' is used twice");
  entries_.push_back({client, token, expires});
}

std::optional<TokenTable::Match> TokenTable::match_token(std::string_view token) const {
  std::optional<Match> found;
  for (auto& e : entries_)  // scan all entries: no early exit leaks which one matched
    if (equal_constant_time(e.token, token) && !found) found = Match{e.client, e.expires};
  return found;
}

std::optional<TokenTable::Match> TokenTable::match_header(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) return std::nullopt;
  return match_token(header.substr(kBearer.size()));
}

std::optional<std::string> TokenTable::client_for_token(std::string_view token, Clock::time_point now) const {
  auto m = match_token(token);
  if (!m || m->expired_at(now)) return std::nullopt;
  return m->client;
}

std::optional<std::string> TokenTable::client_for_header(std::string_view header, Clock::time_point now) const {
  auto m = match_header(header);
  if (!m || m->expired_at(now)) return std::nullopt;
  return m->client;
}

TokenTable::Clock::time_point TokenTable::parse_utc(std::string_view text) {
  const std::string s(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0, used = 0;
  const bool shape = s.size() == 20 && std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &se, &used) == 6 &&
                     used == 20;
  require(shape && y >= 1970 && y <= 2200 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && se <= 59,
          "expiry '" + s + "' is not a UTC time YYYY-MM-DDTHH:MM:SSZ (years 1970-2200)");
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  const std::time_t t = timegm(&tm);
  require(tm.tm_mday == d, "expiry '" + s + "' is not a valid date");  // timegm normalised e.g. 02-31
  return Clock::from_time_t(t);
}

std::string TokenTable::format_utc(Clock::time_point t) {
  const std::time_t tt = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace leukocrypt::service
