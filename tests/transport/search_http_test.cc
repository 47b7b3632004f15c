// Integration: the Elasticsearch-compatible routes themselves: GET|HEAD /, _mapping, _count,
// GET with a body, URL parameters, min_position, roles, limits, and the Elasticsearch error
// shape and X-Elastic-Product header on every response of these paths.
#include <gtest/gtest.h>

#include <boost/beast/http/field.hpp>
#include <future>

#include "ledger/limits.h"
#include "tests/transport/search_fixture.h"

namespace ledger::transport::testing {
namespace {

namespace http = boost::beast::http;

class SearchHttpTest : public SearchTest {
 protected:
  // Expects an Elasticsearch-shaped error with `status` and `type`, whose reason contains
  // `reason`; returns the body.
  static rapidjson::Document ExpectElasticError(const HttpResponse& response, unsigned status,
                                                std::string_view type,
                                                std::string_view reason = {}) {
    EXPECT_EQ(response.result_int(), status) << response.body();
    EXPECT_EQ(response["X-Elastic-Product"], "Elasticsearch") << response.body();
    rapidjson::Document json = Json(response);
    if (!json.IsObject() || !json.HasMember("error") || !json["error"].IsObject()) {
      ADD_FAILURE() << "not an Elasticsearch error: " << response.body();
      return json;
    }
    const auto& error = json["error"];
    EXPECT_EQ(error["type"].GetString(), type) << response.body();
    EXPECT_NE(std::string(error["reason"].GetString()).find(reason), std::string::npos)
        << response.body();
    EXPECT_EQ(error["root_cause"].Size(), 1u);
    EXPECT_STREQ(error["root_cause"][0]["type"].GetString(), error["type"].GetString());
    EXPECT_STREQ(error["root_cause"][0]["reason"].GetString(), error["reason"].GetString());
    EXPECT_EQ(json["status"].GetUint(), status);
    return json;
  }
};

TEST_F(SearchHttpTest, InfoAnswersWhatElasticsearchClientsCheck) {
  const HttpResponse response = Get("/");
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(response["X-Elastic-Product"], "Elasticsearch");
  const auto json = Json(response);
  EXPECT_STREQ(json["tagline"].GetString(), "You Know, for Search");
  EXPECT_STREQ(json["version"]["number"].GetString(), "7.17.0");
  EXPECT_STREQ(json["version"]["build_flavor"].GetString(), "default");
  EXPECT_STREQ(json["version"]["lucene_version"].GetString(), "8.11.1");
  EXPECT_FALSE(json["version"]["build_snapshot"].GetBool());
  for (const char* name : {"name", "cluster_name", "cluster_uuid"})
    EXPECT_TRUE(json[name].IsString());
  const HttpResponse head = Send("HEAD", "/", {}, kReaderToken);
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_EQ(head["X-Elastic-Product"], "Elasticsearch");
  EXPECT_TRUE(head.body().empty());
  // ?pretty indents.
  EXPECT_NE(Get("/?pretty").body().find("\n  \"version\": {\n"), std::string::npos);
  // Other routes are not Elasticsearch's.
  EXPECT_EQ(Get("/v1/projections")["X-Elastic-Product"], "");
}

TEST_F(SearchHttpTest, MappingOfEachIndex) {
  for (const char* index : {"settlements", "entries"}) {
    const HttpResponse response = Get(std::string("/") + index + "/_mapping");
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    const auto json = Json(response);
    const auto& properties = json[index]["mappings"]["properties"];
    EXPECT_EQ(properties.MemberCount(), 14u);
    for (const auto& [field, type] :
         {std::pair{"record_id", "keyword"}, std::pair{"type", "keyword"},
          std::pair{"order_id", "keyword"}, std::pair{"merchant", "keyword"},
          std::pair{"account", "keyword"}, std::pair{"counterparty", "keyword"},
          std::pair{"kind", "keyword"}, std::pair{"category", "keyword"},
          std::pair{"asset", "keyword"}, std::pair{"ref", "keyword"}, std::pair{"amount", "long"},
          std::pair{"position", "long"}, std::pair{"occurred_at", "date"},
          std::pair{"memo", "text"}}) {
      EXPECT_STREQ(properties[field]["type"].GetString(), type) << field;
    }
  }
  const auto json = ExpectElasticError(Get("/orders/_mapping"), 404, "index_not_found_exception",
                                       "no such index [orders]");
  EXPECT_STREQ(json["error"]["index"].GetString(), "orders");
  EXPECT_STREQ(json["error"]["root_cause"][0]["resource.id"].GetString(), "orders");
}

TEST_F(SearchHttpTest, GetWithABodySearchesAndCountTakesOnlyAQuery) {
  WriteStandardData();
  const std::string target = "/settlements/_search?min_position=" + std::to_string(last_position_);
  const HttpResponse get =
      Send("GET", target, R"({"query":{"term":{"kind":"payout"}}})", kReaderToken);
  ASSERT_EQ(get.result_int(), 200u) << get.body();
  EXPECT_EQ(Total(Json(get)), 2u);
  const HttpResponse count =
      Send("POST", "/entries/_count", R"({"query":{"exists":{"field":"memo"}}})", kReaderToken);
  ASSERT_EQ(count.result_int(), 200u) << count.body();
  EXPECT_EQ(count["X-Elastic-Product"], "Elasticsearch");
  const auto json = Json(count);
  EXPECT_EQ(json["count"].GetUint64(),
            model_.Where("entries", [](const ExpectedDoc& d) { return !d.memo.empty(); }).size());
  EXPECT_EQ(json["_shards"]["total"].GetInt(), 1);
  EXPECT_GE(json["position"].GetUint64(), last_position_);
  EXPECT_EQ(Json(Send("GET", "/entries/_count", {}, kReaderToken))["count"].GetUint64(),
            model_.Docs("entries").size());
  ExpectElasticError(
      Send("POST", "/entries/_count", R"({"query":{"match_all":{}},"size":1})", kReaderToken), 400,
      "parsing_exception", "request does not support [size]");
  ExpectElasticError(Send("GET", "/", "{}", kReaderToken), 400, "illegal_argument_exception",
                     "does not support having a body");
  // The search response's fixed parts.
  const auto search = Search("settlements", R"({"size":1})");
  EXPECT_FALSE(search["timed_out"].GetBool());
  EXPECT_GE(search["took"].GetInt64(), 0);
  EXPECT_EQ(search["_shards"]["successful"].GetInt(), 1);
  EXPECT_EQ(search["_shards"]["failed"].GetInt(), 0);
  EXPECT_GE(search["position"].GetUint64(), last_position_);
  EXPECT_FALSE(search.HasMember("aggregations"));
}

TEST_F(SearchHttpTest, ErrorsOfEveryKindHaveTheElasticShapeAndHeader) {
  const std::string search = "/settlements/_search";
  auto json = ExpectElasticError(Send("POST", search, "{}", ""), 401, "security_exception");
  const HttpResponse unauthenticated = Send("POST", search, "{}", "");
  EXPECT_EQ(unauthenticated[http::field::www_authenticate].substr(0, 6), "Bearer");
  ExpectElasticError(Send("POST", search, "{}", kWriterToken), 403, "security_exception",
                     "reader or admin");
  ExpectElasticError(Send("POST", "/orders/_search", "{}", kReaderToken), 404,
                     "index_not_found_exception", "no such index [orders]");
  const HttpResponse wrong_method = Send("DELETE", search, {}, kReaderToken);
  ExpectElasticError(wrong_method, 405, "method_not_allowed");
  EXPECT_EQ(wrong_method[http::field::allow], "GET, POST");
  ExpectElasticError(Send("POST", search, R"({"query":{"fuzzy":{"memo":"x"}}})", kReaderToken), 400,
                     "parsing_exception", "unknown query [fuzzy]");
  ExpectElasticError(Send("POST", search, "{", kReaderToken), 400, "x_content_parse_exception");
  ExpectElasticError(Send("POST", search, "{}", kReaderToken, {{"Content-Type", "text/plain"}}),
                     406, "media_type_header_exception", "Content-Type header [text/plain]");
  EXPECT_EQ(Send("POST", search, "{}", kReaderToken,
                 {{"Content-Type", "application/vnd.elasticsearch+json; compatible-with=7"}})
                .result_int(),
            200u);
  ExpectElasticError(Get(search + "?min_position=x"), 400, "illegal_argument_exception",
                     "min_position");
  json = ExpectElasticError(Get(search + "?min_position=1000&timeout_ms=50"), 504,
                            "position_not_reached", "reached position 0, not 1000");
  EXPECT_EQ(json["position"].GetUint64(), 0u);
  ExpectElasticError(Get("/_reports/nope"), 404, "resource_not_found_exception",
                     "no such report [nope]");
  ExpectElasticError(Get("/_reports/bad%20name"), 400, "illegal_argument_exception",
                     "[A-Za-z0-9_.-]");
}

TEST_F(SearchHttpTest, OversizedBodyIs413InTheElasticShape) {
  // Just under the limit is read and parsed.
  const std::string prefix = R"({"query":{"term":{"ref":")";
  std::string body = prefix + std::string(kSearchBodyBytesMax - prefix.size() - 4, 'x') + R"("}}})";
  ASSERT_EQ(body.size(), kSearchBodyBytesMax);
  const HttpResponse fits = Send("POST", "/settlements/_search", body, kReaderToken);
  EXPECT_EQ(fits.result_int(), 200u) << fits.body().substr(0, 300);
  body.insert(prefix.size(), "x");
  ExpectElasticError(Send("POST", "/settlements/_search", body, kReaderToken), 413,
                     "body_too_large", "larger than 1048576 bytes");
}

TEST_F(SearchHttpTest, QueryLimitsOverHttp) {
  const std::string search = "/entries/_search";
  std::string values;
  for (std::size_t i = 0; i <= kSearchTermsMax; ++i) {
    values += (i ? ",\"" : "\"") + std::to_string(i) + "\"";
  }
  ExpectElasticError(
      Send("POST", search, R"({"query":{"terms":{"ref":[)" + values + "]}}}", kReaderToken), 400,
      "illegal_argument_exception", "exceeded the allowed maximum of [65536]");
  std::string filters;
  for (std::size_t i = 0; i < kSearchClausesMax; ++i) {
    filters += std::string(i ? "," : "") + R"({"match_all":{}})";
  }
  ExpectElasticError(Send("POST", search, R"({"query":{"bool":{"filter":[)" + filters + "]}}}",
                          kReaderToken),
                     400, "too_many_clauses", "more than 1024");
  const std::string deep = R"({"query":)" + std::string(kSearchJsonDepthMax, '[') +
                           std::string(kSearchJsonDepthMax, ']') + "}";
  ExpectElasticError(Send("POST", search, deep, kReaderToken), 400, "x_content_parse_exception",
                     "deeper than 64");
  std::string aggs;
  for (std::size_t i = 0; i <= kSearchAggregationsMax; ++i) {
    aggs += (i ? ",\"a" : "\"a") + std::to_string(i) + R"(":{"sum":{"field":"amount"}})";
  }
  ExpectElasticError(Send("POST", search, R"({"aggs":{)" + aggs + "}}", kReaderToken), 400,
                     "illegal_argument_exception", "too many aggregations");
  ExpectElasticError(
      Send("POST", search, R"({"aggs":{"k":{"terms":{"field":"kind","size":65537}}}})",
           kReaderToken),
      400, "illegal_argument_exception", "[size] must be between 0 and 65536");
}

TEST_F(SearchHttpTest, UnsupportedParametersAreRefusedByName) {
  for (const char* param :
       {"q=merchant:acme", "scroll=1m", "_source=merchant", "sort=amount:desc", "timeout=1s",
        "search_type=dfs_query_then_fetch", "request_cache=true", "preference=_local", "routing=x",
        "typed_keys=true", "rest_total_hits_as_int=true", "filter_path=hits.hits._id",
        "ignore_unavailable=true", "allow_partial_search_results=false", "track_scores=true",
        "default_operator=AND"}) {
    const std::string name = std::string(param).substr(0, std::string(param).find('='));
    ExpectElasticError(
        Get(std::string("/settlements/_search?") + param), 400, "illegal_argument_exception",
        "request [/settlements/_search] contains unrecognized parameter: [" + name + "]");
  }
  for (const char* param : {"from=1", "size=1", "track_total_hits=true", "q=x"}) {
    ExpectElasticError(Get(std::string("/entries/_count?") + param), 400,
                       "illegal_argument_exception", "contains unrecognized parameter");
  }
  ExpectElasticError(Get("/settlements/_search?size=1&size=2"), 400, "illegal_argument_exception",
                     "[size] more than once");
  ExpectElasticError(Get("/settlements/_search?pretty=yes"), 400, "illegal_argument_exception",
                     "only [true] or [false] are allowed");
  ExpectElasticError(Get("/settlements/_mapping?include_type_name=true"), 400,
                     "illegal_argument_exception", "[include_type_name]");
  ExpectElasticError(Get("/?human=true"), 400, "illegal_argument_exception", "[human]");
  // Accepted ones.
  EXPECT_EQ(Get("/settlements/_search?from=0&size=5&track_total_hits=100&pretty&timeout_ms=10")
                .result_int(),
            200u);
}

TEST_F(SearchHttpTest, UnsupportedClausesAreRefusedByName) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"query":{"match":{"memo":{"query":"x","fuzziness":"AUTO"}}}})",
       "[match] query does not support [fuzziness]"},
      {R"({"query":{"script":{"script":"true"}}})", "unknown query [script]"},
      {R"({"highlight":{"fields":{"memo":{}}}})", "Unknown key for a START_OBJECT in [highlight]."},
      {R"({"aggs":{"h":{"date_histogram":{"field":"occurred_at","calendar_interval":"day","time_zone":"+01:00"}}}})",
       "[date_histogram] aggregation does not support [time_zone]"},
      {R"({"query":{"range":{"occurred_at":{"gte":"2026-11-01","format":"yyyy-MM-dd"}}}})",
       "[range] query does not support [format]"},
      {R"({"sort":[{"amount":{"order":"asc","missing":"_first"}}]})", "[missing]"},
      {R"({"sort":["memo"]})", "fielddata=true on [memo]"},
      {R"({"aggs":{"x":{"terms":{"field":"nope"}}}})", "No mapping found for [nope]"},
      {R"({"suggest":{}})", "[suggest]"},
      {R"({"stored_fields":["kind"]})", "[stored_fields]"},
      {R"({"indices_boost":[]})", "[indices_boost]"},
      {R"({"rescore":{}})", "[rescore]"},
      {R"({"version":true})", "[version]"},
  };
  for (const auto& [body, reason] : cases) {
    const HttpResponse response = Send("POST", "/settlements/_search", body, kReaderToken);
    EXPECT_EQ(response.result_int(), 400u) << body;
    const auto json = Json(response);
    EXPECT_NE(std::string(json["error"]["reason"].GetString()).find(reason), std::string::npos)
        << body << " -> " << response.body();
  }
  ExpectElasticError(Send("POST", "/settlements/_search", R"({"sort":["nope"]})", kReaderToken),
                     400, "query_shard_exception",
                     "No mapping found for [nope] in order to sort on");
}

TEST_F(SearchHttpTest, MinPositionWaitsForTheSearchProjection) {
  const std::uint64_t first = Change("user:1", 100, "card", "first", "a");
  const std::string target =
      "/entries/_search?timeout_ms=10000&min_position=" + std::to_string(first + 1);
  auto waiting = std::async(std::launch::async, [this, target] {
    return server_.Connect()->Send("POST", target, R"({"query":{"match":{"memo":"second"}}})",
                                   kReaderToken);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(waiting.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  const std::uint64_t second = Change("user:1", 200, "card", "second", "b");
  auto response = waiting.get();
  ASSERT_TRUE(response.has_value());
  ASSERT_EQ(response->result_int(), 200u) << response->body();
  const auto json = Json(*response);
  EXPECT_GE(json["position"].GetUint64(), second);
  ASSERT_EQ(json["hits"]["hits"].Size(), 1u);
  EXPECT_EQ(json["hits"]["hits"][0]["_id"].GetString(), std::to_string(second) + ".0");
  // _count and reports wait too; timeout_ms=0 answers at once.
  ExpectElasticError(Get("/entries/_count?timeout_ms=0&min_position=" + std::to_string(second + 1)),
                     504, "position_not_reached");
  EXPECT_EQ(Get("/entries/_count?min_position=" + std::to_string(second)).result_int(), 200u);
}

class SearchWriterRoleTest : public HttpTest {
 protected:
  static HttpServerOptions WriterOnly() {
    HttpServerOptions options;
    options.api.serve_queries = false;
    options.api.role = "writer";
    return options;
  }
  SearchWriterRoleTest() : HttpTest(WriterOnly()) {}
};

TEST_F(SearchWriterRoleTest, AWriterOnlyLedgerdRefusesSearchesInTheElasticShape) {
  for (const char* target : {"/settlements/_search", "/", "/entries/_mapping", "/_reports"}) {
    const HttpResponse response = Get(target, kReaderToken);
    EXPECT_EQ(response.result_int(), 403u) << target;
    EXPECT_EQ(response["X-Elastic-Product"], "Elasticsearch");
    const auto json = Json(response);
    EXPECT_STREQ(json["error"]["type"].GetString(), "wrong_role") << response.body();
    EXPECT_EQ(json["status"].GetInt(), 403);
  }
}

}  // namespace
}  // namespace ledger::transport::testing
