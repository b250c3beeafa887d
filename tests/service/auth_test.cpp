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

}  // namespace
}  // namespace leukocrypt::service
