#include "transport/rfc3339.h"

#include <gtest/gtest.h>

#include <random>

#include "tests/support/temp_dir.h"

namespace ledger::transport {
namespace {

constexpr TimestampUs k2026_11_21T10 = 1'795'255'200'000'000;  // 2026-11-21T10:00:00Z

TEST(Rfc3339Test, ParsesUtcWithoutFraction) {
  EXPECT_EQ(ParseRfc3339("2026-11-21T10:00:00Z").value(), k2026_11_21T10);
  EXPECT_EQ(ParseRfc3339("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(ParseRfc3339("2026-11-21t10:00:00z").value(), k2026_11_21T10);
}

TEST(Rfc3339Test, ParsesFractionsUpToMicroseconds) {
  EXPECT_EQ(ParseRfc3339("2026-11-21T10:00:00.5Z").value(), k2026_11_21T10 + 500'000);
  EXPECT_EQ(ParseRfc3339("2026-11-21T10:00:00.123456Z").value(), k2026_11_21T10 + 123'456);
  EXPECT_EQ(ParseRfc3339("2026-11-21T10:00:00.000001Z").value(), k2026_11_21T10 + 1);
}

TEST(Rfc3339Test, AppliesOffsets) {
  EXPECT_EQ(ParseRfc3339("2026-11-21T12:00:00+02:00").value(), k2026_11_21T10);
  EXPECT_EQ(ParseRfc3339("2026-11-21T04:30:00-05:30").value(), k2026_11_21T10);
  EXPECT_EQ(ParseRfc3339("2026-11-21T10:00:00+00:00").value(), k2026_11_21T10);
}

TEST(Rfc3339Test, ParsesBeforeTheEpochAndLeapDays) {
  EXPECT_EQ(ParseRfc3339("1969-12-31T23:59:59.999999Z").value(), -1);
  EXPECT_TRUE(ParseRfc3339("2024-02-29T00:00:00Z").has_value());
  EXPECT_TRUE(ParseRfc3339("2000-02-29T00:00:00Z").has_value());
}

TEST(Rfc3339Test, RejectsMalformedText) {
  for (const char* text : {"",
                           "2026-11-21",
                           "2026-11-21T10:00:00",
                           "2026-11-21 10:00:00Z",
                           "2026-11-21T10:00Z",
                           "2026-13-01T00:00:00Z",
                           "2026-00-01T00:00:00Z",
                           "2026-02-29T00:00:00Z",
                           "1900-02-29T00:00:00Z",
                           "2026-04-31T00:00:00Z",
                           "2026-11-21T24:00:00Z",
                           "2026-11-21T10:60:00Z",
                           "2026-11-21T10:00:60Z",
                           "2026-11-21T10:00:00.Z",
                           "2026-11-21T10:00:00.1234567Z",
                           "2026-11-21T10:00:00+2:00",
                           "2026-11-21T10:00:00+24:00",
                           "2026-11-21T10:00:00+02:60",
                           "2026-11-21T10:00:00Zjunk",
                           "+2026-11-21T10:00:00Z",
                           "2026-1-21T10:00:00Z",
                           "2026-11-21T10:00:00+0200"}) {
    auto parsed = ParseRfc3339(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::kInvalidArgument) << text;
  }
}

TEST(Rfc3339Test, FormatsWithMicrosecondsInUtc) {
  EXPECT_EQ(FormatRfc3339(k2026_11_21T10), "2026-11-21T10:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(k2026_11_21T10 + 123'456), "2026-11-21T10:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(FormatRfc3339(ParseRfc3339("2024-02-29T23:59:59Z").value()),
            "2024-02-29T23:59:59.000000Z");
}

TEST(Rfc3339Test, FormatThenParseRoundTrips) {
  const TimestampUs min = ParseRfc3339("0000-01-01T00:00:00Z").value();
  const TimestampUs max = ParseRfc3339("9999-12-31T23:59:59.999999Z").value();
  std::mt19937_64 random(testing::TestSeed());
  std::uniform_int_distribution<TimestampUs> pick(min, max);
  for (int i = 0; i < 20'000; ++i) {
    const TimestampUs t = pick(random);
    const auto parsed = ParseRfc3339(FormatRfc3339(t));
    ASSERT_TRUE(parsed.has_value()) << FormatRfc3339(t);
    ASSERT_EQ(*parsed, t) << FormatRfc3339(t);
  }
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(min)).value(), min);
  EXPECT_EQ(ParseRfc3339(FormatRfc3339(max)).value(), max);
}

}  // namespace
}  // namespace ledger::transport

namespace ledger::transport {
namespace {

// Regression: an offset could carry a valid local time outside years 0000..9999 in UTC, which
// was stored and then formatted as a timestamp the API itself refuses.
TEST(Rfc3339RangeTest, RefusesInstantsOutsideFourDigitYearsInUtc) {
  EXPECT_FALSE(ParseRfc3339("9999-12-31T23:59:59-23:59").has_value());
  EXPECT_FALSE(ParseRfc3339("0000-01-01T00:00:00+01:00").has_value());
  auto last = ParseRfc3339("9999-12-31T23:59:59.999999Z");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(FormatRfc3339(*last), "9999-12-31T23:59:59.999999Z");
  auto first = ParseRfc3339("0000-01-01T00:00:00Z");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(*first)), *first);
}

}  // namespace
}  // namespace ledger::transport
