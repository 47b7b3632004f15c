// Integration: saved reports (PUT/GET/DELETE /_reports/{name}): validation, the cache and its
// staleness bounds, min_position, persistence across a restart, limits and roles.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "ledger/limits.h"
#include "tests/transport/search_fixture.h"

namespace ledger::transport::testing {
namespace {

// Sales per merchant with their sum, over settled lines.
constexpr std::string_view kSalesSearch =
    R"({"size":0,"query":{"bool":{"filter":{"term":{"type":"OrderSettled"}}}},)"
    R"("aggs":{"m":{"terms":{"field":"merchant"},"aggs":{"total":{"sum":{"field":"amount"}}}}}})";

class SearchReportsTest : public SearchTest {
 protected:
  HttpResponse PutReport(const std::string& name, const std::string& definition,
                         std::string_view token = kReaderToken) {
    return Send("PUT", "/_reports/" + name, definition, token);
  }
  static std::string Definition(std::string_view bounds, std::string_view search = kSalesSearch) {
    return R"({"index":"settlements","search":)" + std::string(search) + "," + std::string(bounds) +
           "}";
  }
  rapidjson::Document Run(const std::string& name, const std::string& params = "") {
    const HttpResponse response = Get("/_reports/" + name + params);
    EXPECT_EQ(response.result_int(), 200u) << response.body();
    EXPECT_EQ(response["X-Elastic-Product"], "Elasticsearch");
    return Json(response);
  }
  // Waits until the search projection has applied `position`.
  void AwaitSearch(std::uint64_t position) {
    ASSERT_EQ(Get("/settlements/_count?min_position=" + std::to_string(position)).result_int(),
              200u);
  }
  // Expects the report's sales aggregation to match the model.
  void ExpectSales(const rapidjson::Value& report) {
    std::map<std::string, std::pair<std::uint64_t, std::int64_t>> sales;
    for (const ExpectedDoc& doc : model_.Docs("settlements")) {
      if (doc.type != "OrderSettled" || doc.position > report["position"].GetInt64()) continue;
      sales[doc.merchant].first += 1;
      sales[doc.merchant].second += doc.amount;
    }
    const auto& buckets = report["result"]["aggregations"]["m"]["buckets"];
    ASSERT_EQ(buckets.Size(), sales.size());
    for (const auto& bucket : buckets.GetArray()) {
      const auto& expected = sales[bucket["key"].GetString()];
      EXPECT_EQ(bucket["doc_count"].GetUint64(), expected.first) << bucket["key"].GetString();
      EXPECT_EQ(bucket["total"]["value"].GetInt64(), expected.second) << bucket["key"].GetString();
    }
  }
  std::uint64_t SettleOne(int i) {
    return Settle("rep-" + std::to_string(i), i % 2 ? "merchant:acme" : "merchant:blue",
                  "external:psp", 1'000 + i, {{"partner:1", "commission", 10}},
                  "2026-11-20T10:00:00Z");
  }
};

TEST_F(SearchReportsTest, PutValidatesStoresAndLists) {
  HttpResponse response =
      PutReport("sales.by-merchant_1", Definition(R"("max_staleness_positions":5)"));
  ASSERT_EQ(response.result_int(), 201u) << response.body();
  auto json = Json(response);
  EXPECT_TRUE(json["acknowledged"].GetBool());
  EXPECT_TRUE(json["created"].GetBool());
  response = PutReport("sales.by-merchant_1",
                       Definition(R"("max_staleness_positions":7,"max_staleness_seconds":60)"),
                       kAdminToken);
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_FALSE(Json(response)["created"].GetBool());
  json = Json(Get("/_reports"));
  ASSERT_EQ(json["reports"].Size(), 1u);
  const auto& listed = json["reports"][0];
  EXPECT_STREQ(listed["name"].GetString(), "sales.by-merchant_1");
  EXPECT_STREQ(listed["definition"]["index"].GetString(), "settlements");
  EXPECT_EQ(listed["definition"]["max_staleness_positions"].GetUint64(), 7u);
  EXPECT_EQ(listed["definition"]["max_staleness_seconds"].GetUint64(), 60u);
  EXPECT_TRUE(listed["definition"]["search"]["aggs"]["m"].IsObject());

  const std::pair<std::string, std::string> refused[] = {
      {Definition(R"("max_staleness_hours":1)"), "[max_staleness_hours]"},
      {R"({"index":"settlements","search":{}})",
       "[max_staleness_positions] or [max_staleness_seconds]"},
      {R"({"index":"orders","search":{},"max_staleness_seconds":1})", "[index]"},
      {R"({"search":{},"max_staleness_seconds":1})", "needs [index] and [search]"},
      {R"({"index":"entries","max_staleness_seconds":1})", "needs [index] and [search]"},
      {R"({"index":"entries","search":[],"max_staleness_seconds":1})",
       "[search] must be an object"},
      {R"({"index":"entries","search":{},"max_staleness_seconds":-1})", "[max_staleness_seconds]"},
      {Definition(R"("max_staleness_seconds":1)", R"({"query":{"fuzzy":{"memo":"x"}}})"),
       "[search]: unknown query [fuzzy]"},
      {Definition(R"("max_staleness_seconds":1)", R"({"aggs":{"x":{"sum":{"field":"memo"}}}})"),
       "fielddata=true on [memo]"},
      {"not json", "Failed to parse"},
  };
  for (const auto& [definition, reason] : refused) {
    response = PutReport("bad", definition);
    EXPECT_EQ(response.result_int(), 400u) << definition << " -> " << response.body();
    EXPECT_EQ(response["X-Elastic-Product"], "Elasticsearch");
    EXPECT_NE(response.body().find(reason), std::string::npos)
        << definition << " -> " << response.body();
  }
  for (const std::string& name :
       {std::string(kSearchReportNameBytesMax + 1, 'a'), std::string("a%2Fb"), std::string("a%20b"),
        std::string("%C3%A9")}) {
    response = PutReport(name, Definition(R"("max_staleness_seconds":1)"));
    EXPECT_EQ(response.result_int(), 400u) << name << " -> " << response.body();
  }
  EXPECT_EQ(PutReport(std::string(kSearchReportNameBytesMax, 'a'),
                      Definition(R"("max_staleness_seconds":1)"))
                .result_int(),
            201u);
  EXPECT_EQ(Json(Get("/_reports"))["reports"].Size(), 2u);
  // Writers may not query, so they may not define reports either.
  EXPECT_EQ(PutReport("w", Definition(R"("max_staleness_seconds":1)"), kWriterToken).result_int(),
            403u);
}

TEST_F(SearchReportsTest, CachedUntilTheIndexMovesOnByMoreThanMaxStalenessPositions) {
  for (int i = 0; i < 4; ++i) SettleOne(i);
  ASSERT_EQ(PutReport("sales", Definition(R"("max_staleness_positions":2)")).result_int(), 201u);
  AwaitSearch(last_position_);
  auto first = Run("sales");
  EXPECT_FALSE(first["cached"].GetBool());
  EXPECT_STREQ(first["report"].GetString(), "sales");
  EXPECT_EQ(first["position"].GetUint64(), last_position_);
  EXPECT_EQ(first["result"]["position"].GetUint64(), last_position_);
  EXPECT_TRUE(ParseRfc3339(first["computed_at"].GetString()).has_value());
  ExpectSales(first);
  auto second = Run("sales");
  EXPECT_TRUE(second["cached"].GetBool());
  EXPECT_STREQ(second["computed_at"].GetString(), first["computed_at"].GetString());
  // Two positions later: still within the bound, still the old answer.
  SettleOne(10);
  SettleOne(11);
  AwaitSearch(last_position_);
  second = Run("sales");
  EXPECT_TRUE(second["cached"].GetBool());
  EXPECT_EQ(second["position"].GetUint64(), first["position"].GetUint64());
  // Three: recomputed, and the new sales are in.
  SettleOne(12);
  AwaitSearch(last_position_);
  auto third = Run("sales");
  EXPECT_FALSE(third["cached"].GetBool());
  EXPECT_EQ(third["position"].GetUint64(), last_position_);
  ExpectSales(third);
  EXPECT_TRUE(Run("sales")["cached"].GetBool());
}

TEST_F(SearchReportsTest, CachedUntilOlderThanMaxStalenessSeconds) {
  SettleOne(0);
  ASSERT_EQ(PutReport("sales", Definition(R"("max_staleness_seconds":1)")).result_int(), 201u);
  AwaitSearch(last_position_);
  const auto first = Run("sales");
  EXPECT_FALSE(first["cached"].GetBool());
  const auto started = std::chrono::steady_clock::now();
  SettleOne(1);
  AwaitSearch(last_position_);
  const auto stale = Run("sales");
  if (std::chrono::steady_clock::now() - started < std::chrono::milliseconds(900)) {
    EXPECT_TRUE(stale["cached"].GetBool());
    EXPECT_EQ(stale["position"].GetUint64(), first["position"].GetUint64());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1'100));
  const auto fresh = Run("sales");
  EXPECT_FALSE(fresh["cached"].GetBool());
  EXPECT_EQ(fresh["position"].GetUint64(), last_position_);
  ExpectSales(fresh);
}

TEST_F(SearchReportsTest, MinPositionNeverServesAnOlderCache) {
  SettleOne(0);
  ASSERT_EQ(PutReport("sales", Definition(R"("max_staleness_positions":1000)")).result_int(), 201u);
  AwaitSearch(last_position_);
  EXPECT_FALSE(Run("sales")["cached"].GetBool());
  const std::uint64_t later = SettleOne(1);
  const auto json = Run("sales", "?min_position=" + std::to_string(later));
  EXPECT_FALSE(json["cached"].GetBool());
  EXPECT_GE(json["position"].GetUint64(), later);
  ExpectSales(json);
  EXPECT_TRUE(Run("sales", "?min_position=" + std::to_string(later))["cached"].GetBool());
  const HttpResponse timeout =
      Get("/_reports/sales?timeout_ms=0&min_position=" + std::to_string(later + 5));
  EXPECT_EQ(timeout.result_int(), 504u);
  EXPECT_NE(Get("/_reports/sales?pretty").body().find("\n  \"report\": \"sales\""),
            std::string::npos);
}

TEST_F(SearchReportsTest, ReportsSurviveARestartAndDeletesToo) {
  for (int i = 0; i < 3; ++i) SettleOne(i);
  ASSERT_EQ(PutReport("keep", Definition(R"("max_staleness_positions":0)")).result_int(), 201u);
  ASSERT_EQ(PutReport("drop", Definition(R"("max_staleness_seconds":5)")).result_int(), 201u);
  AwaitSearch(last_position_);
  EXPECT_FALSE(Run("keep")["cached"].GetBool());
  const HttpResponse deleted = Send("DELETE", "/_reports/drop", {}, kReaderToken);
  ASSERT_EQ(deleted.result_int(), 200u) << deleted.body();
  EXPECT_TRUE(Json(deleted)["acknowledged"].GetBool());
  EXPECT_EQ(Send("DELETE", "/_reports/drop", {}, kReaderToken).result_int(), 404u);
  EXPECT_EQ(Get("/_reports/drop").result_int(), 404u);

  client_.reset();
  server_.Stop();
  ASSERT_NO_FATAL_FAILURE(server_.Start());
  client_ = server_.Connect();
  const auto list = Json(Get("/_reports"));
  ASSERT_EQ(list["reports"].Size(), 1u);
  EXPECT_STREQ(list["reports"][0]["name"].GetString(), "keep");
  EXPECT_EQ(Get("/_reports/drop").result_int(), 404u);
  const auto json = Run("keep", "?min_position=" + std::to_string(last_position_));
  EXPECT_FALSE(json["cached"].GetBool());  // The cache is memory only.
  ExpectSales(json);
  // max_staleness_positions 0: cached only while nothing new was applied.
  EXPECT_TRUE(Run("keep")["cached"].GetBool());
  SettleOne(9);
  AwaitSearch(last_position_);
  EXPECT_FALSE(Run("keep")["cached"].GetBool());
}

TEST_F(SearchReportsTest, AtMostKSearchReportsMax) {
  const std::string definition = Definition(R"("max_staleness_seconds":1)", R"({"size":0})");
  for (std::size_t i = 0; i < kSearchReportsMax; ++i) {
    ASSERT_EQ(PutReport("r" + std::to_string(i), definition).result_int(), 201u) << i;
  }
  const HttpResponse full = PutReport("one-more", definition);
  EXPECT_EQ(full.result_int(), 400u);
  EXPECT_NE(full.body().find("already 1000 reports"), std::string::npos) << full.body();
  // Replacing one is fine; deleting one makes room.
  EXPECT_EQ(PutReport("r0", definition).result_int(), 200u);
  EXPECT_EQ(Send("DELETE", "/_reports/r1", {}, kAdminToken).result_int(), 200u);
  EXPECT_EQ(PutReport("one-more", definition).result_int(), 201u);
}

TEST_F(SearchReportsTest, ConcurrentRunsWhileWriting) {
  ASSERT_EQ(PutReport("sales", Definition(R"("max_staleness_positions":1)")).result_int(), 201u);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    auto client = server_.Connect();
    for (int i = 0; i < 30; ++i) {
      const std::string body =
          R"({"order_id":"c-)" + std::to_string(i) +
          R"(","merchant":"merchant:acme","payer":"external:psp","asset":"EUR",)"
          R"("gross":100,"splits":[]})";
      auto response = client->Send("POST", "/v1/settlements", body, kAdminToken);
      ASSERT_TRUE(response.has_value());
      ASSERT_EQ(response->result_int(), 201u);
    }
    writing = false;
  });
  std::vector<std::future<void>> readers;
  for (int r = 0; r < 4; ++r) {
    readers.push_back(std::async(std::launch::async, [this, &writing] {
      auto client = server_.Connect();
      do {
        auto response = client->Send("GET", "/_reports/sales", {}, kReaderToken);
        ASSERT_TRUE(response.has_value());
        ASSERT_EQ(response->result_int(), 200u) << response->body();
        const auto json = Json(*response);
        // Each answer is consistent with its own position: one settled line per order.
        const auto& buckets = json["result"]["aggregations"]["m"]["buckets"];
        const std::uint64_t count = buckets.Empty() ? 0 : buckets[0]["doc_count"].GetUint64();
        EXPECT_EQ(count, json["position"].GetUint64());
        EXPECT_EQ(buckets.Empty() ? 0 : buckets[0]["total"]["value"].GetInt64(),
                  static_cast<std::int64_t>(100 * count));
      } while (writing.load());
    }));
  }
  writer.join();
  for (auto& reader : readers) reader.get();
}

}  // namespace
}  // namespace ledger::transport::testing
