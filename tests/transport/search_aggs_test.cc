// Integration: every aggregation (terms, date_histogram, sum, avg, min, max, value_count, one
// level of sub-aggregations) against buckets and values computed from the model.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <variant>

#include "tests/transport/search_fixture.h"
#include "transport/search_json.h"

namespace ledger::transport::testing {
namespace {

using Key = std::variant<std::string, std::int64_t>;
using Group = std::map<Key, std::vector<const ExpectedDoc*>>;

class SearchAggsTest : public SearchTest {
 protected:
  void SetUp() override {
    SearchTest::SetUp();
    WriteStandardData();
  }

  // The aggregations of `aggs` over `index`'s documents matching `query`.
  rapidjson::Document Aggregate(std::string_view index, const std::string& aggs,
                                const std::string& query = R"({"match_all":{}})") {
    return Search(index, R"({"size":0,"query":)" + query + R"(,"aggs":)" + aggs + "}");
  }

  static Group GroupBy(const std::vector<const ExpectedDoc*>& docs,
                       const std::function<std::optional<Key>(const ExpectedDoc&)>& key) {
    Group groups;
    for (const ExpectedDoc* doc : docs) {
      if (const auto k = key(*doc)) groups[*k].push_back(doc);
    }
    return groups;
  }

  static std::int64_t Sum(const std::vector<const ExpectedDoc*>& docs) {
    std::int64_t sum = 0;
    for (const ExpectedDoc* doc : docs) sum += doc->amount;
    return sum;
  }

  static void ExpectKey(const rapidjson::Value& bucket, const Key& key, bool date) {
    if (const auto* text = std::get_if<std::string>(&key)) {
      EXPECT_EQ(bucket["key"].GetString(), *text);
      return;
    }
    const std::int64_t number = std::get<std::int64_t>(key);
    EXPECT_EQ(bucket["key"].GetInt64(), number);
    if (date) {
      ASSERT_TRUE(bucket.HasMember("key_as_string"));
      EXPECT_EQ(bucket["key_as_string"].GetString(), FormatEpochMs(number));
    } else {
      EXPECT_FALSE(bucket.HasMember("key_as_string"));
    }
  }

  // A terms aggregation's buckets: `groups` ordered by `less` (count desc, key asc by default),
  // the first `size`, each with a "total" sum sub-aggregation when `with_sum`.
  void ExpectTerms(const rapidjson::Value& aggregation, const Group& groups, std::size_t size,
                   bool date = false, bool with_sum = false, std::string_view order = "count_desc",
                   std::uint64_t min_doc_count = 1) {
    // sum_other_doc_count: every document of a bucket not returned, below min_doc_count or
    // beyond size (Elasticsearch's documented definition).
    std::vector<std::pair<Key, std::vector<const ExpectedDoc*>>> ordered;
    std::uint64_t other = 0;
    for (const auto& [key, docs] : groups) {
      if (docs.size() >= min_doc_count) {
        ordered.emplace_back(key, docs);
      } else {
        other += docs.size();
      }
    }
    std::stable_sort(ordered.begin(), ordered.end(), [order](const auto& a, const auto& b) {
      if (order == "key_asc") return a.first < b.first;
      if (order == "key_desc") return b.first < a.first;
      if (a.second.size() != b.second.size()) {
        return order == "count_asc" ? a.second.size() < b.second.size()
                                    : a.second.size() > b.second.size();
      }
      return a.first < b.first;
    });
    for (std::size_t i = size; i < ordered.size(); ++i) other += ordered[i].second.size();
    ordered.resize(std::min(size, ordered.size()));
    EXPECT_EQ(aggregation["doc_count_error_upper_bound"].GetUint64(), 0u);
    EXPECT_EQ(aggregation["sum_other_doc_count"].GetUint64(), other);
    const auto& buckets = aggregation["buckets"];
    ASSERT_EQ(buckets.Size(), ordered.size());
    for (rapidjson::SizeType i = 0; i < buckets.Size(); ++i) {
      ExpectKey(buckets[i], ordered[i].first, date);
      EXPECT_EQ(buckets[i]["doc_count"].GetUint64(), ordered[i].second.size()) << i;
      if (with_sum) {
        EXPECT_EQ(buckets[i]["total"]["value"].GetInt64(), Sum(ordered[i].second));
      }
    }
  }
};

TEST_F(SearchAggsTest, TermsOnKeywordWithSumSubAggregation) {
  const auto json = Aggregate(
      "settlements",
      R"({"by_merchant":{"terms":{"field":"merchant"},"aggs":{"total":{"sum":{"field":"amount"}}}},)"
      R"("by_kind":{"terms":{"field":"kind","size":3},"aggregations":{"total":{"sum":{"field":"amount"}}}}})",
      R"({"range":{"occurred_at":{"gte":"2026-11-01","lt":"2026-12-01"}}})");
  const auto docs = model_.Where("settlements", [](const ExpectedDoc& d) {
    const std::string at = FormatRfc3339(d.occurred_at_us);
    return at >= "2026-11" && at < "2026-12";
  });
  EXPECT_EQ(Total(json), docs.size());
  EXPECT_EQ(json["hits"]["hits"].Size(), 0u);
  ExpectTerms(json["aggregations"]["by_merchant"],
              GroupBy(docs, [](const ExpectedDoc& d) { return Key(d.merchant); }), 10, false, true);
  ExpectTerms(json["aggregations"]["by_kind"],
              GroupBy(docs, [](const ExpectedDoc& d) { return Key(d.kind); }), 3, false, true);
}

TEST_F(SearchAggsTest, TermsOrderSizeAndMinDocCount) {
  const auto all = model_.Where("entries", [](const ExpectedDoc&) { return true; });
  const Group by_kind = GroupBy(all, [](const ExpectedDoc& d) { return Key(d.kind); });
  for (const auto& [order, name] :
       {std::pair{R"({"_key":"asc"})", "key_asc"}, std::pair{R"({"_key":"desc"})", "key_desc"},
        std::pair{R"({"_count":"asc"})", "count_asc"},
        std::pair{R"([{"_count":"desc"}])", "count_desc"}}) {
    const auto json =
        Aggregate("entries", std::string(R"({"k":{"terms":{"field":"kind","size":4,"order":)") +
                                 order + "}}}");
    ExpectTerms(json["aggregations"]["k"], by_kind, 4, false, false, name);
  }
  const auto json =
      Aggregate("entries", R"({"k":{"terms":{"field":"kind","size":100,"min_doc_count":3}}})");
  ExpectTerms(json["aggregations"]["k"], by_kind, 100, false, false, "count_desc", 3);
  // Missing values make no bucket.
  const auto orders = Aggregate("entries", R"({"o":{"terms":{"field":"order_id","size":1000}}})");
  ExpectTerms(orders["aggregations"]["o"],
              GroupBy(all,
                      [](const ExpectedDoc& d) -> std::optional<Key> {
                        if (d.order_id.empty()) return std::nullopt;
                        return Key(d.order_id);
                      }),
              1000);
}

TEST_F(SearchAggsTest, TermsOnLongAndDateFields) {
  const auto docs = model_.Where("settlements", [](const ExpectedDoc&) { return true; });
  const auto json = Aggregate(
      "settlements", R"({"p":{"terms":{"field":"position","size":5}},)"
                     R"("t":{"terms":{"field":"occurred_at","size":50,"order":{"_key":"asc"}}}})");
  ExpectTerms(json["aggregations"]["p"],
              GroupBy(docs, [](const ExpectedDoc& d) { return Key(d.position); }), 5);
  ExpectTerms(json["aggregations"]["t"],
              GroupBy(docs, [](const ExpectedDoc& d) { return Key(d.OccurredMs()); }), 50, true,
              false, "key_asc");
}

TEST_F(SearchAggsTest, Metrics) {
  const std::string query = R"({"term":{"merchant":"merchant:blue"}})";
  const auto docs = model_.Where(
      "settlements", [](const ExpectedDoc& d) { return d.merchant == "merchant:blue"; });
  ASSERT_FALSE(docs.empty());
  const auto json = Aggregate(
      "settlements",
      R"({"sum":{"sum":{"field":"amount"}},"avg":{"avg":{"field":"amount"}},)"
      R"("min":{"min":{"field":"amount"}},"max":{"max":{"field":"amount"}},)"
      R"("n":{"value_count":{"field":"amount"}},"refs":{"value_count":{"field":"order_id"}},)"
      R"("first":{"min":{"field":"occurred_at"}},"last":{"max":{"field":"occurred_at"}}})",
      query);
  const auto& aggs = json["aggregations"];
  std::int64_t min = docs[0]->amount, max = docs[0]->amount;
  std::int64_t first = docs[0]->OccurredMs(), last = first;
  std::uint64_t with_order = 0;
  for (const ExpectedDoc* doc : docs) {
    min = std::min(min, doc->amount);
    max = std::max(max, doc->amount);
    first = std::min(first, doc->OccurredMs());
    last = std::max(last, doc->OccurredMs());
    with_order += doc->order_id.empty() ? 0 : 1;
  }
  EXPECT_TRUE(aggs["sum"]["value"].IsInt64());  // Exact integers (a documented deviation).
  EXPECT_EQ(aggs["sum"]["value"].GetInt64(), Sum(docs));
  EXPECT_NEAR(aggs["avg"]["value"].GetDouble(),
              static_cast<double>(Sum(docs)) / static_cast<double>(docs.size()), 1e-9);
  EXPECT_EQ(aggs["min"]["value"].GetInt64(), min);
  EXPECT_EQ(aggs["max"]["value"].GetInt64(), max);
  EXPECT_FALSE(aggs["min"].HasMember("value_as_string"));
  EXPECT_EQ(aggs["n"]["value"].GetUint64(), docs.size());
  EXPECT_EQ(aggs["refs"]["value"].GetUint64(), with_order);
  EXPECT_EQ(aggs["first"]["value"].GetInt64(), first);
  EXPECT_EQ(aggs["first"]["value_as_string"].GetString(), FormatEpochMs(first));
  EXPECT_EQ(aggs["last"]["value"].GetInt64(), last);
  EXPECT_EQ(aggs["last"]["value_as_string"].GetString(), FormatEpochMs(last));
  // No matching document: sum and value_count 0, the others null.
  const auto none =
      Aggregate("settlements",
                R"({"sum":{"sum":{"field":"amount"}},"avg":{"avg":{"field":"amount"}},)"
                R"("min":{"min":{"field":"occurred_at"}},"max":{"max":{"field":"amount"}},)"
                R"("n":{"value_count":{"field":"amount"}}})",
                R"({"match_none":{}})");
  EXPECT_EQ(none["aggregations"]["sum"]["value"].GetInt64(), 0);
  EXPECT_EQ(none["aggregations"]["n"]["value"].GetInt64(), 0);
  for (const char* name : {"avg", "min", "max"}) {
    EXPECT_TRUE(none["aggregations"][name]["value"].IsNull()) << name;
    EXPECT_FALSE(none["aggregations"][name].HasMember("value_as_string")) << name;
  }
}

std::int64_t DaysToMs(std::chrono::sys_days days) {
  return static_cast<std::int64_t>(days.time_since_epoch().count()) * 86'400'000;
}

// The start (ms) of the UTC calendar unit holding `ms`: "day", "week" (Monday), "month", "year".
std::int64_t CalendarStart(std::int64_t ms, std::string_view unit) {
  using namespace std::chrono;
  const sys_days day{days{ms / 86'400'000 - (ms % 86'400'000 < 0 ? 1 : 0)}};
  const year_month_day date{day};
  if (unit == "day") return DaysToMs(day);
  if (unit == "week") {
    const weekday wd{day};
    return DaysToMs(day - days{(wd.c_encoding() + 6) % 7});
  }
  if (unit == "month") return DaysToMs(sys_days{date.year() / date.month() / 1});
  return DaysToMs(sys_days{date.year() / January / 1});
}

std::int64_t NextCalendarStart(std::int64_t start, std::string_view unit) {
  using namespace std::chrono;
  const year_month_day date{sys_days{days{start / 86'400'000}}};
  if (unit == "day") return start + 86'400'000;
  if (unit == "week") return start + 7 * 86'400'000;
  if (unit == "month") return DaysToMs(sys_days{(date.year() / date.month() + months{1}) / 1});
  return DaysToMs(sys_days{(date.year() + years{1}) / January / 1});
}

TEST_F(SearchAggsTest, DateHistogramCalendarAndFixedIntervals) {
  const auto docs =
      model_.Where("settlements", [](const ExpectedDoc& d) { return d.type == "OrderSettled"; });
  struct Case {
    std::string interval;
    std::string unit;  // Calendar unit, or "" for fixed.
    std::int64_t fixed_ms = 0;
  };
  const Case cases[] = {{R"("calendar_interval":"day")", "day"},
                        {R"("calendar_interval":"1w")", "week"},
                        {R"("calendar_interval":"month")", "month"},
                        {R"("calendar_interval":"1y")", "year"},
                        {R"("fixed_interval":"12h")", "", 12 * 3'600'000},
                        {R"("fixed_interval":"90m")", "", 90 * 60'000},
                        {R"("calendar_interval":"1d","min_doc_count":1)", "day"}};
  for (const Case& c : cases) {
    const auto json = Aggregate(
        "settlements",
        R"({"h":{"date_histogram":{"field":"occurred_at",)" + c.interval +
            R"(},"aggs":{"total":{"sum":{"field":"amount"}},"k":{"terms":{"field":"kind","size":1}}}}})",
        R"({"term":{"type":"OrderSettled"}})");
    auto start_of = [&c](std::int64_t ms) {
      if (!c.unit.empty()) return CalendarStart(ms, c.unit);
      return ms / c.fixed_ms * c.fixed_ms;  // Every date here is after the epoch.
    };
    auto next = [&c](std::int64_t start) {
      return c.unit.empty() ? start + c.fixed_ms : NextCalendarStart(start, c.unit);
    };
    Group groups =
        GroupBy(docs, [&](const ExpectedDoc& d) { return Key(start_of(d.OccurredMs())); });
    const bool fill = c.interval.find("min_doc_count") == std::string::npos;
    std::vector<std::int64_t> keys;
    for (std::int64_t key = std::get<std::int64_t>(groups.begin()->first);
         key <= std::get<std::int64_t>(groups.rbegin()->first); key = next(key)) {
      if (fill || groups.contains(Key(key))) keys.push_back(key);
    }
    const auto& buckets = json["aggregations"]["h"]["buckets"];
    ASSERT_EQ(buckets.Size(), keys.size()) << c.interval;
    for (rapidjson::SizeType i = 0; i < buckets.Size(); ++i) {
      const auto& bucket = buckets[i];
      EXPECT_EQ(std::string(bucket.MemberBegin()->name.GetString()), "key_as_string");
      ExpectKey(bucket, Key(keys[i]), true);
      const auto found = groups.find(Key(keys[i]));
      const std::vector<const ExpectedDoc*> in =
          found == groups.end() ? std::vector<const ExpectedDoc*>{} : found->second;
      EXPECT_EQ(bucket["doc_count"].GetUint64(), in.size()) << c.interval << " " << keys[i];
      EXPECT_EQ(bucket["total"]["value"].GetInt64(), Sum(in)) << c.interval;
      ExpectTerms(bucket["k"], GroupBy(in, [](const ExpectedDoc& d) { return Key(d.kind); }), 1);
    }
  }
}

TEST_F(SearchAggsTest, BucketLimits) {
  // A 1 ms histogram over five weeks would need billions of buckets.
  HttpResponse response = SearchResponse(
      "settlements",
      R"({"size":0,"aggs":{"h":{"date_histogram":{"field":"occurred_at","fixed_interval":"1ms"}}}})");
  ASSERT_EQ(response.result_int(), 400u) << response.body();
  auto json = Json(response);
  EXPECT_STREQ(json["error"]["type"].GetString(), "too_many_buckets_exception") << response.body();
  EXPECT_EQ(json["status"].GetInt(), 400);
  // Only the non-empty ones with min_doc_count 1.
  json = Search("settlements", R"({"size":0,"aggs":{"h":{"date_histogram":{"field":"occurred_at",)"
                               R"("fixed_interval":"1ms","min_doc_count":1}}}})");
  const Group distinct =
      GroupBy(model_.Where("settlements", [](const ExpectedDoc&) { return true; }),
              [](const ExpectedDoc& d) { return Key(d.OccurredMs()); });
  EXPECT_EQ(json["aggregations"]["h"]["buckets"].Size(), distinct.size());
  // Sub-aggregation buckets count too: 3 merchants x 1 ms buckets.
  response = SearchResponse(
      "settlements",
      R"({"size":0,"aggs":{"m":{"terms":{"field":"merchant"},"aggs":{"h":{"date_histogram":)"
      R"({"field":"occurred_at","fixed_interval":"10ms"}}}}}})");
  ASSERT_EQ(response.result_int(), 400u) << response.body().substr(0, 500);
  EXPECT_STREQ(Json(response)["error"]["type"].GetString(), "too_many_buckets_exception");
}

}  // namespace
}  // namespace ledger::transport::testing
