// Token file parsing and bearer-header lookup.
#include "service/auth.h"

#include <gtest/gtest.h>

#include "common/error.h"

namespace leukocrypt::service {
namespace {

TEST(TokenTable, ParsesAndLooksUp) {
  auto t = TokenTable::parse("# clients\nalice aaaaaaaaaaaaaaaaaaaa\n\nbob   bbbbbbbbbbbbbbbbbbbb  # lab\n", "tokens");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.client_for_header("Bearer aaaaaaaaaaaaaaaaaaaa"), "alice");
  EXPECT_EQ(t.client_for_header("Bearer bbbbbbbbbbbbbbbbbbbb"), "bob");
  EXPECT_FALSE(t.client_for_header("Bearer bbbbbbbbbbbbbbbbbbb"));
  EXPECT_FALSE(t.client_for_header("bbbbbbbbbbbbbbbbbbbb"));
  EXPECT_FALSE(t.client_for_header(""));
  EXPECT_FALSE(t.client_for_header("Bearer "));
}

TEST(TokenTable, RejectsBadFiles) {
  EXPECT_THROW(TokenTable::parse("", "t"), FormatError);
  EXPECT_THROW(TokenTable::parse("alice short\n", "t"), FormatError);
  EXPECT_THROW(TokenTable::parse("alice\n", "t"), FormatError);
  EXPECT_THROW(TokenTable::parse("a/b aaaaaaaaaaaaaaaaaaaa\n", "t"), FormatError);
  EXPECT_THROW(TokenTable::parse("a aaaaaaaaaaaaaaaaaaaa\nb aaaaaaaaaaaaaaaaaaaa\n", "t"), FormatError);
  try {
    TokenTable::parse("ok aaaaaaaaaaaaaaaaaaaa\nbad x y z\n", "tokens.txt");
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokens.txt:2"), std::string::npos) << e.what();
  }
}

TEST(TokenTable, OptionalExpiryColumn) {
  auto t = TokenTable::parse(
      "alice aaaaaaaaaaaaaaaaaaaa\n"
      "bob bbbbbbbbbbbbbbbbbbbb 2030-06-30T12:00:00Z  # expires\n",
      "tokens");
  const auto before = TokenTable::parse_utc("2030-06-30T11:59:59Z"), at = TokenTable::parse_utc("2030-06-30T12:00:00Z");
  EXPECT_EQ(at - before, std::chrono::seconds(1));
  EXPECT_EQ(TokenTable::format_utc(at), "2030-06-30T12:00:00Z");
  EXPECT_EQ(t.client_for_header("Bearer bbbbbbbbbbbbbbbbbbbb", before), "bob");
  EXPECT_FALSE(t.client_for_header("Bearer bbbbbbbbbbbbbbbbbbbb", at));  // expired at that second
  EXPECT_EQ(t.client_for_header("Bearer aaaaaaaaaaaaaaaaaaaa", at + std::chrono::hours(24 * 365 * 100)), "alice");
  auto m = t.match_header("Bearer bbbbbbbbbbbbbbbbbbbb");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->client, "bob");
  EXPECT_TRUE(m->expired_at(at));
  EXPECT_FALSE(m->expired_at(before));
  EXPECT_FALSE(t.match_header("Bearer cccccccccccccccccccc"));
  for (const char* bad : {"2030-06-30", "2030-06-30T12:00:00", "2030-02-31T00:00:00Z", "2030-13-01T00:00:00Z",
                          "tomorrow", "2030-06-30T12:00:00Z extra", "2999-01-01T00:00:00Z"}) {
    try {
      TokenTable::parse(std::string("ok aaaaaaaaaaaaaaaaaaaa\nbob bbbbbbbbbbbbbbbbbbbb ") + bad + "\n", "tokens.txt");
      ADD_FAILURE() << "accepted expiry '" << bad << "'";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("tokens.txt:2"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace leukocrypt::service
