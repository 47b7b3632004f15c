#include "transport/url.h"

#include <gtest/gtest.h>

#include "transport/http_api.h"
#include "ledger/limits.h"
#include "transport/internal/routes.h"

namespace ledger::transport {
namespace {

using boost::beast::http::verb;

TEST(PercentDecodeTest, DecodesEscapes) {
  EXPECT_EQ(PercentDecode("account%2Falice").value(), "account/alice");
  EXPECT_EQ(PercentDecode("a%20b%7e%7E+").value(), "a b~~+");
  EXPECT_EQ(PercentDecode("").value(), "");
  EXPECT_EQ(PercentDecode("%00").value(), std::string(1, '\0'));
  for (const char* bad : {"%", "%2", "%zz", "a%2Gb", "%%"}) {
    auto decoded = PercentDecode(bad);
    ASSERT_FALSE(decoded.has_value()) << bad;
    EXPECT_EQ(decoded.error().kind, ErrorKind::kInvalidArgument);
  }
}

TEST(QueryTest, ParsesKnownParametersOnce) {
  auto params = ParseQuery("after=5&limit=10", {"after", "limit"});
  ASSERT_TRUE(params.has_value());
  ASSERT_EQ(params->size(), 2u);
  EXPECT_EQ((*params)[0], (std::pair<std::string, std::string>{"after", "5"}));
  EXPECT_EQ((*params)[1], (std::pair<std::string, std::string>{"limit", "10"}));
  EXPECT_TRUE(ParseQuery("", {"after"}).value().empty());
  EXPECT_TRUE(ParseQuery("&&", {"after"}).value().empty());
  EXPECT_FALSE(ParseQuery("after=1&after=2", {"after"}).has_value());
  EXPECT_FALSE(ParseQuery("before=1", {"after"}).has_value());
  EXPECT_FALSE(ParseQuery("after=%zz", {"after"}).has_value());
}

TEST(QueryTest, ParsesUnsignedStrictly) {
  std::uint64_t value = 0;
  EXPECT_TRUE(ParseUnsigned("0", &value));
  EXPECT_TRUE(ParseUnsigned("18446744073709551615", &value));
  EXPECT_EQ(value, 18446744073709551615ull);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "18446744073709551616", "0x10"}) {
    EXPECT_FALSE(ParseUnsigned(bad, &value)) << bad;
  }
}

TEST(RoutesTest, MatchesPathsAndDecodesParameters) {
  auto match = internal::MatchRoute("/v1/settlements/o%2F1/refunds", verb::post);
  ASSERT_TRUE(match.has_value());
  ASSERT_NE(match->route, nullptr);
  EXPECT_EQ(match->route->id, RouteId::kRefundOrder);
  EXPECT_EQ(match->params, std::vector<std::string>{"o/1"});

  auto stream = internal::MatchRoute("/v1/streams/account/alice/events", verb::get);
  ASSERT_TRUE(stream.has_value() && stream->route != nullptr);
  EXPECT_EQ(stream->route->id, RouteId::kStreamEvents);
  EXPECT_EQ(stream->params, std::vector<std::string>{"account/alice"});
  auto escaped = internal::MatchRoute("/v1/streams/account%2Falice/events", verb::get);
  ASSERT_TRUE(escaped.has_value() && escaped->route != nullptr);
  EXPECT_EQ(escaped->params, std::vector<std::string>{"account/alice"});
}

TEST(RoutesTest, ReportsWrongMethodsAndUnknownPaths) {
  auto wrong = internal::MatchRoute("/v1/transfers", verb::get);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->route, nullptr);
  EXPECT_EQ(wrong->allow, "POST");
  for (const char* path : {"/v1", "/v1/transfers/x", "/v1/events/", "/v1/streams//events",
                           "/v2/events", "/v1/settlements//refunds"}) {
    auto none = internal::MatchRoute(path, verb::get);
    ASSERT_TRUE(none.has_value()) << path;
    EXPECT_EQ(none->route, nullptr) << path;
    EXPECT_TRUE(none->allow.empty()) << path;
  }
  EXPECT_FALSE(internal::MatchRoute("/v1/campaigns/%zz/grants", verb::post).has_value());
  // "/" is the Elasticsearch-compatible cluster info (docs/search.md).
  auto root = internal::MatchRoute("/", verb::get);
  ASSERT_TRUE(root.has_value() && root->route != nullptr);
  EXPECT_EQ(root->route->id, RouteId::kElasticInfo);
}

TEST(RoutesTest, SearchRoutesMatchAfterTheV1RoutesAndReportsBeforeIndexes) {
  auto search = internal::MatchRoute("/settlements/_search", verb::post);
  ASSERT_TRUE(search.has_value() && search->route != nullptr);
  EXPECT_EQ(search->route->id, RouteId::kSearch);
  EXPECT_EQ(search->params, std::vector<std::string>{"settlements"});
  auto report = internal::MatchRoute("/_reports/_search", verb::get);
  ASSERT_TRUE(report.has_value() && report->route != nullptr);
  EXPECT_EQ(report->route->id, RouteId::kReport);
  auto holders = internal::MatchRoute("/v1/holders/_check", verb::post);
  ASSERT_TRUE(holders.has_value() && holders->route != nullptr);
  EXPECT_EQ(holders->route->id, RouteId::kHoldersCheck);
  auto wrong = internal::MatchRoute("/entries/_count", verb::put);
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->route, nullptr);
  EXPECT_EQ(wrong->allow, "GET, POST");
  EXPECT_TRUE(internal::IsElasticPath("/entries/_count"));
  EXPECT_TRUE(internal::IsElasticPath("/"));
  EXPECT_FALSE(internal::IsElasticPath(""));
  EXPECT_FALSE(internal::IsElasticPath("/v1/events"));
  EXPECT_EQ(HttpApi::BodyBytesMax("/settlements/_search", verb::get), kSearchBodyBytesMax);
  EXPECT_EQ(HttpApi::BodyBytesMax("/v1/transfers", verb::post), kHttpBodyBytesMax);
}

TEST(RoutesTest, LabelsForMetrics) {
  EXPECT_EQ(HttpApi::RouteLabel("/v1/events/7?x=1"), "/v1/events/{position}");
  EXPECT_EQ(HttpApi::RouteLabel("/v1/transfers"), "/v1/transfers");
  EXPECT_EQ(HttpApi::RouteLabel("/nope"), "unmatched");
}

}  // namespace
}  // namespace ledger::transport
