// The std::expected behaviour the ledger relies on (ledger/status.h). In the g++ build this is
// libstdc++'s std::expected; in the clang 14 build (sanitizers, fuzzing) it is
// ledger/internal/expected_polyfill.h, which these tests hold to the same behaviour.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "ledger/status.h"

namespace ledger {
namespace {

// Counts live instances, so a missing or doubled destructor call shows.
struct Counted {
  static inline int live = 0;
  std::string text;
  explicit Counted(std::string t) : text(std::move(t)) { ++live; }
  Counted(const Counted& other) : text(other.text) { ++live; }
  Counted(Counted&& other) noexcept : text(std::move(other.text)) { ++live; }
  Counted& operator=(const Counted&) = default;
  Counted& operator=(Counted&&) = default;
  ~Counted() { --live; }
};

Result<int> Half(int value) {
  if (value % 2 != 0) return Fail(ErrorKind::kInvalidArgument, "odd", "not even");
  return value / 2;
}

TEST(ExpectedTest, ValueOrError) {
  auto half = Half(8);
  ASSERT_TRUE(half.has_value());
  EXPECT_TRUE(static_cast<bool>(half));
  EXPECT_EQ(*half, 4);
  EXPECT_EQ(half.value(), 4);
  auto odd = Half(3);
  ASSERT_FALSE(odd.has_value());
  EXPECT_EQ(odd.error().code, "odd");
  EXPECT_EQ(odd.error().kind, ErrorKind::kInvalidArgument);
  EXPECT_EQ(odd.value_or(-1), -1);
  EXPECT_EQ(half.value_or(-1), 4);
  EXPECT_THROW((void)odd.value(), std::bad_expected_access<Error>);
}

TEST(ExpectedTest, ConvertsValuesAndUnexpected) {
  Result<std::string> text = "literal";  // const char* -> std::string
  EXPECT_EQ(*text, "literal");
  EXPECT_EQ(text->size(), 7u);
  Result<std::unique_ptr<int>> owned = std::make_unique<int>(5);
  ASSERT_TRUE(owned.has_value());
  std::unique_ptr<int> taken = std::move(*owned);
  EXPECT_EQ(*taken, 5);
  Result<std::string> failed = std::unexpected(MakeError(ErrorKind::kNotFound, "nope", "gone"));
  EXPECT_EQ(failed.error().code, "nope");
  std::expected<int, std::string> from_literal = std::unexpected("text");
  EXPECT_EQ(from_literal.error(), "text");
}

TEST(ExpectedTest, CopiesMovesAndAssignmentsKeepLifetimesExact) {
  Counted::live = 0;
  {
    std::expected<Counted, Counted> value(std::in_place, "v");
    std::expected<Counted, Counted> error(std::unexpect, "e");
    EXPECT_EQ(Counted::live, 2);
    auto copy = value;
    auto moved = std::move(error);
    EXPECT_EQ(Counted::live, 4);
    EXPECT_EQ(copy->text, "v");
    EXPECT_EQ(moved.error().text, "e");
    copy = moved;  // value -> error
    EXPECT_FALSE(copy.has_value());
    EXPECT_EQ(copy.error().text, "e");
    moved = value;  // error -> value
    EXPECT_TRUE(moved.has_value());
    EXPECT_EQ(moved->text, "v");
    moved = std::unexpected(Counted("again"));
    EXPECT_EQ(moved.error().text, "again");
    moved = Counted("fresh");
    EXPECT_EQ(moved->text, "fresh");
    EXPECT_EQ(Counted::live, 4);
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(ExpectedTest, VoidStatus) {
  Status ok = Ok();
  EXPECT_TRUE(ok.has_value());
  Status failed = Fail(ErrorKind::kUnavailable, "down", "storage failed");
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, "down");
  Status copy = failed;
  EXPECT_EQ(copy.error().message, "storage failed");
  copy = ok;
  EXPECT_TRUE(copy.has_value());
  EXPECT_NO_THROW(copy.value());
  EXPECT_THROW(failed.value(), std::bad_expected_access<Error>);
}

TEST(ExpectedTest, Equality) {
  std::expected<int, std::string> a = 1;
  std::expected<int, std::string> b = 1;
  std::expected<int, std::string> c = std::unexpected(std::string("x"));
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
  EXPECT_TRUE(a == 1);
  EXPECT_TRUE(c == std::unexpected(std::string("x")));
}

}  // namespace
}  // namespace ledger
