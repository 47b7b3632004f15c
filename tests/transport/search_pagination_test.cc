// Integration: sorting, from/size, search_after (also while writes continue), track_total_hits
// and _source filtering, against the model of search_fixture.h.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <thread>

#include "ledger/limits.h"
#include "tests/transport/search_fixture.h"

namespace ledger::transport::testing {
namespace {

using DocOrder = std::function<bool(const ExpectedDoc&, const ExpectedDoc&)>;

class SearchPaginationTest : public SearchTest {
 protected:
  void SetUp() override {
    SearchTest::SetUp();
    WriteStandardData();
  }

  // The ids of every document of `index` in the order `less` defines (ties: index order).
  std::vector<std::string> Sorted(std::string_view index, const DocOrder& less) const {
    std::vector<const ExpectedDoc*> docs =
        model_.Where(index, [](const ExpectedDoc&) { return true; });
    std::stable_sort(docs.begin(), docs.end(),
                     [&less](const ExpectedDoc* a, const ExpectedDoc* b) { return less(*a, *b); });
    return Ids(docs);
  }

  const ExpectedDoc& Doc(std::string_view index, const std::string& id) const {
    for (const ExpectedDoc& doc : model_.Docs(index)) {
      if (doc.record_id == id) return doc;
    }
    ADD_FAILURE() << "no document " << id;
    return model_.Docs(index).front();
  }

  // Pages through `index` with search_after and `sort` (JSON), `size` hits a page; every id.
  std::vector<std::string> PageWithSearchAfter(std::string_view index, const std::string& sort,
                                               std::size_t size, int pause_ms = 0) {
    std::vector<std::string> ids;
    std::string after;
    for (int page = 0; page < 10'000; ++page) {
      std::string body = R"({"size":)" + std::to_string(size) + R"(,"sort":)" + sort;
      if (!after.empty()) body += R"(,"search_after":)" + after;
      const auto json = Search(index, body + "}");
      const auto& hits = json["hits"]["hits"];
      for (const auto& hit : hits.GetArray()) ids.push_back(hit["_id"].GetString());
      if (hits.Size() < size) return ids;
      rapidjson::StringBuffer buffer;
      rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
      hits[hits.Size() - 1]["sort"].Accept(writer);
      after = buffer.GetString();
      if (pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
    ADD_FAILURE() << "search_after did not end";
    return ids;
  }
};

bool ByOccurredDescThenId(const ExpectedDoc& a, const ExpectedDoc& b) {
  if (a.OccurredMs() != b.OccurredMs()) return a.OccurredMs() > b.OccurredMs();
  return a.record_id < b.record_id;
}

TEST_F(SearchPaginationTest, FromAndSizeAreSlicesOfOneOrder) {
  const std::string sort = R"("sort":[{"occurred_at":"desc"},{"record_id":{"order":"asc"}}])";
  const std::vector<std::string> all = Sorted("settlements", ByOccurredDescThenId);
  const auto whole = Search("settlements", R"({"size":10000,)" + sort + "}");
  ASSERT_EQ(HitIds(whole), all);
  for (const auto& hit : whole["hits"]["hits"].GetArray()) {
    const ExpectedDoc& doc = Doc("settlements", hit["_id"].GetString());
    ASSERT_EQ(hit["sort"].Size(), 2u);
    EXPECT_EQ(hit["sort"][0].GetInt64(), doc.OccurredMs());
    EXPECT_EQ(hit["sort"][1].GetString(), doc.record_id);
    EXPECT_TRUE(hit["_score"].IsNull());  // Not sorted by score: not computed.
  }
  EXPECT_TRUE(whole["hits"]["max_score"].IsNull());
  std::vector<std::string> paged;
  for (std::size_t from = 0; from < all.size(); from += 7) {
    const auto page =
        Search("settlements", "{" + sort + "}", "from=" + std::to_string(from) + "&size=7");
    const auto ids = HitIds(page);
    EXPECT_EQ(ids.size(), std::min<std::size_t>(7, all.size() - from));
    EXPECT_EQ(Total(page), all.size());
    paged.insert(paged.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(paged, all);
  // Body from/size; size 0 counts without hits; from past the end is empty.
  EXPECT_EQ(HitIds(Search("settlements", R"({"from":3,"size":2,)" + sort + "}")),
            std::vector<std::string>(all.begin() + 3, all.begin() + 5));
  const auto none = Search("settlements", R"({"size":0})");
  EXPECT_EQ(none["hits"]["hits"].Size(), 0u);
  EXPECT_EQ(Total(none), all.size());
  EXPECT_EQ(Search("settlements", R"({"from":5000})")["hits"]["hits"].Size(), 0u);
}

TEST_F(SearchPaginationTest, SortOnKeywordLongDateScoreAndDoc) {
  struct Case {
    std::string sort;
    DocOrder less;
  };
  const Case cases[] = {
      {R"(["merchant","_doc"])",
       [](const ExpectedDoc& a, const ExpectedDoc& b) { return a.merchant < b.merchant; }},
      {R"([{"merchant":"desc"},{"amount":"asc"},"_doc"])",
       [](const ExpectedDoc& a, const ExpectedDoc& b) {
         if (a.merchant != b.merchant) return a.merchant > b.merchant;
         return a.amount < b.amount;
       }},
      {R"([{"amount":{"order":"desc"}},{"_doc":"desc"}])",
       [](const ExpectedDoc& a, const ExpectedDoc& b) {
         if (a.amount != b.amount) return a.amount > b.amount;
         return a.ordinal > b.ordinal;
       }},
      {R"(["occurred_at","record_id"])",
       [](const ExpectedDoc& a, const ExpectedDoc& b) {
         if (a.OccurredMs() != b.OccurredMs()) return a.OccurredMs() < b.OccurredMs();
         return a.record_id < b.record_id;
       }},
      {R"({"_doc":"desc"})",
       [](const ExpectedDoc& a, const ExpectedDoc& b) { return a.ordinal > b.ordinal; }},
      {R"(["position","_id"])",
       [](const ExpectedDoc& a, const ExpectedDoc& b) {
         if (a.position != b.position) return a.position < b.position;
         return a.record_id < b.record_id;
       }},
  };
  for (const Case& c : cases) {
    const auto json = Search("settlements", R"({"size":10000,"sort":)" + c.sort + "}");
    EXPECT_EQ(HitIds(json), Sorted("settlements", c.less)) << c.sort;
  }
  // Sort values: keyword strings, longs, _doc numbers.
  const auto json = Search("settlements", R"({"size":3,"sort":["merchant","amount","_doc"]})");
  for (const auto& hit : json["hits"]["hits"].GetArray()) {
    const ExpectedDoc& doc = Doc("settlements", hit["_id"].GetString());
    EXPECT_EQ(hit["sort"][0].GetString(), doc.merchant);
    EXPECT_EQ(hit["sort"][1].GetInt64(), doc.amount);
    EXPECT_EQ(hit["sort"][2].GetInt64(), static_cast<std::int64_t>(doc.ordinal));
  }
}

TEST_F(SearchPaginationTest, ScoreSortAndTrackScores) {
  const auto& docs = model_.Docs("entries");
  const std::string query = R"("query":{"match":{"memo":"top up card"}})";
  // Explicit _score sort: hits carry their score as the sort value.
  auto json = Search("entries", "{" + query + R"(,"sort":["_score",{"_doc":"asc"}]})");
  ASSERT_GT(json["hits"]["hits"].Size(), 1u);
  for (const auto& hit : json["hits"]["hits"].GetArray()) {
    const double expected = Bm25(docs, Doc("entries", hit["_id"].GetString()), "top up card");
    EXPECT_NEAR(hit["_score"].GetDouble(), expected, 1e-6);
    EXPECT_NEAR(hit["sort"][0].GetDouble(), expected, 1e-6);
  }
  // Sorted by a field: no scores unless track_scores.
  json = Search("entries", "{" + query + R"(,"sort":["amount"]})");
  EXPECT_TRUE(json["hits"]["hits"][0]["_score"].IsNull());
  EXPECT_TRUE(json["hits"]["max_score"].IsNull());
  json = Search("entries", "{" + query + R"(,"sort":["amount"],"track_scores":true})");
  double best = 0;
  for (const auto& hit : json["hits"]["hits"].GetArray()) {
    const double expected = Bm25(docs, Doc("entries", hit["_id"].GetString()), "top up card");
    EXPECT_NEAR(hit["_score"].GetDouble(), expected, 1e-6);
    best = std::max(best, expected);
  }
  EXPECT_NEAR(json["hits"]["max_score"].GetDouble(), best, 1e-6);
}

// Elasticsearch sorts documents without the field last, ascending or descending, and gives
// them a null sort value.
TEST_F(SearchPaginationTest, MissingKeywordValuesSortLast) {
  for (const bool descending : {false, true}) {
    const auto json = Search("entries", std::string(R"({"size":10000,"sort":[{"order_id":")") +
                                            (descending ? "desc" : "asc") + R"("},"_doc"]})");
    const auto expected =
        Sorted("entries", [descending](const ExpectedDoc& a, const ExpectedDoc& b) {
          if (a.order_id.empty() != b.order_id.empty()) return b.order_id.empty();
          return descending ? a.order_id > b.order_id : a.order_id < b.order_id;
        });
    EXPECT_EQ(HitIds(json), expected) << (descending ? "desc" : "asc");
    const auto& last = json["hits"]["hits"][json["hits"]["hits"].Size() - 1];
    EXPECT_TRUE(last["sort"][0].IsNull()) << "a missing value sorts as null";
  }
}

TEST_F(SearchPaginationTest, SearchAfterVisitsEveryHitOnce) {
  const std::string sort = R"([{"amount":"desc"},{"_doc":"asc"}])";
  const auto expected = Sorted("settlements", [](const ExpectedDoc& a, const ExpectedDoc& b) {
    return a.amount > b.amount;
  });
  EXPECT_EQ(PageWithSearchAfter("settlements", sort, 13), expected);
  // A missing keyword (null sort value) pages on too.
  const auto by_order = Sorted("entries", [](const ExpectedDoc& a, const ExpectedDoc& b) {
    if (a.order_id.empty() != b.order_id.empty()) return b.order_id.empty();
    return a.order_id < b.order_id;
  });
  EXPECT_EQ(PageWithSearchAfter("entries", R"(["order_id","_doc"])", 9), by_order);
  // Dates as epoch ms, keywords as strings.
  EXPECT_EQ(PageWithSearchAfter("settlements", R"([{"occurred_at":"desc"},"record_id"])", 11),
            Sorted("settlements", ByOccurredDescThenId));
}

// search_after pages through a sort while another client keeps settling orders whose documents
// land before and after the cursor: every document that existed at the start is visited exactly
// once and nothing twice.
TEST_F(SearchPaginationTest, SearchAfterWhileWritesContinue) {
  const unsigned long long seed = ::ledger::testing::TestSeed();
  std::printf("SearchAfterWhileWritesContinue seed %llu (LEDGER_TEST_SEED)\n", seed);
  std::set<std::string> before;
  for (const ExpectedDoc& doc : model_.Docs("settlements")) before.insert(doc.record_id);
  std::atomic<bool> reading{true};
  std::vector<std::string> written;  // Write responses, fed to the model after the join.
  std::thread writer([&] {
    std::mt19937_64 random(seed);
    auto client = server_.Connect();
    for (int i = 0; i < 60 && (reading.load() || i < 10); ++i) {
      const int day = 1 + static_cast<int>(random() % 28);
      const std::string body =
          R"({"order_id":"live-)" + std::to_string(i) +
          R"(","merchant":"merchant:live","payer":"external:psp","asset":"EUR","gross":5000,)"
          R"("splits":[{"to":"partner:9","kind":"commission","amount":)" +
          std::to_string(100 + random() % 900) + R"(}],"occurred_at":"2026-11-)" +
          (day < 10 ? "0" : "") + std::to_string(day) + R"(T12:00:00Z"})";
      auto response = client->Send("POST", "/v1/settlements", body, kAdminToken);
      ASSERT_TRUE(response.has_value());
      ASSERT_EQ(response->result_int(), 201u) << response->body();
      written.push_back(response->body());
    }
  });
  const auto visited =
      PageWithSearchAfter("settlements", R"([{"occurred_at":"asc"},{"record_id":"asc"}])", 5, 2);
  reading = false;
  writer.join();
  std::set<std::string> unique(visited.begin(), visited.end());
  EXPECT_EQ(unique.size(), visited.size()) << "a document was visited twice";
  for (const std::string& id : before) EXPECT_TRUE(unique.contains(id)) << id << " was skipped";
  for (const std::string& body : written) {
    rapidjson::Document json;
    json.Parse(body.c_str());
    model_.Add(json["event"]);
  }
  std::set<std::string> all;
  for (const ExpectedDoc& doc : model_.Docs("settlements")) all.insert(doc.record_id);
  for (const std::string& id : visited) EXPECT_TRUE(all.contains(id)) << id << " is no document";
  EXPECT_GT(visited.size(), before.size()) << "the writes should have overlapped the paging";
}

TEST_F(SearchPaginationTest, SourceFiltering) {
  const std::string sort = R"(,"sort":["_doc"],"size":1000)";
  auto json = Search("entries", R"({"_source":false)" + sort + "}");
  for (const auto& hit : json["hits"]["hits"].GetArray()) EXPECT_FALSE(hit.HasMember("_source"));
  auto fields = [](const rapidjson::Value& hit) {
    std::set<std::string> names;
    for (const auto& member : hit["_source"].GetObject()) names.insert(member.name.GetString());
    return names;
  };
  struct Case {
    std::string source;
    std::function<bool(std::string_view)> keeps;
  };
  const Case cases[] = {
      {R"("merchant")", [](std::string_view f) { return f == "merchant"; }},
      {R"(["*_id","amount"])",
       [](std::string_view f) { return f == "record_id" || f == "order_id" || f == "amount"; }},
      {R"({"excludes":["memo","occurred_*","*ount*"]})",
       [](std::string_view f) {
         return f != "memo" && f != "occurred_at" && f != "amount" && f != "account" &&
                f != "counterparty";
       }},
      {R"({"includes":["m*","a*"],"excludes":"amount"})",
       [](std::string_view f) {
         return f == "memo" || f == "merchant" || f == "account" || f == "asset";
       }},
      {R"(true)", [](std::string_view) { return true; }},
  };
  for (const Case& c : cases) {
    json = Search("entries", R"({"_source":)" + c.source + sort + "}");
    const auto& docs = model_.Docs("entries");
    ASSERT_EQ(json["hits"]["hits"].Size(), docs.size());
    for (rapidjson::SizeType i = 0; i < docs.size(); ++i) {
      std::set<std::string> expected;
      for (const char* name : {"record_id", "type", "order_id", "merchant", "account",
                               "counterparty", "kind", "category", "asset", "ref", "memo"}) {
        if (!docs[i].Text(name).empty() && c.keeps(name)) expected.insert(name);
      }
      for (const char* name : {"amount", "position", "occurred_at"}) {
        if (c.keeps(name)) expected.insert(name);
      }
      EXPECT_EQ(fields(json["hits"]["hits"][i]), expected) << c.source << " " << docs[i].record_id;
    }
  }
}

TEST_F(SearchPaginationTest, ResultWindowIsTenThousand) {
  EXPECT_EQ(SearchResponse("settlements", R"({"from":9990,"size":10})").result_int(), 200u);
  EXPECT_EQ(SearchResponse("settlements", "", "from=9000&size=1000").result_int(), 200u);
  for (const auto& [body, params] :
       {std::pair<std::string, std::string>{R"({"from":9991,"size":10})", ""},
        {"", "from=9991&size=10"},
        {R"({"size":10001})", ""}}) {
    const HttpResponse response = SearchResponse("settlements", body, params);
    ASSERT_EQ(response.result_int(), 400u) << body << params;
    const auto json = Json(response);
    EXPECT_STREQ(json["error"]["type"].GetString(), "illegal_argument_exception");
    EXPECT_EQ(std::string(json["error"]["reason"].GetString())
                  .rfind("Result window is too large, from + size must be less than or equal to: "
                         "[10000] but was [10001].",
                         0),
              0u)
        << response.body();
    EXPECT_EQ(json["status"].GetInt(), 400);
  }
}

// More than 10,000 matches: 160 transfers of 64 postings make 10,240 entries documents.
class SearchTotalHitsTest : public SearchTest {};

TEST_F(SearchTotalHitsTest, TrackTotalHitsModes) {
  for (int transfer = 0; transfer < 160; ++transfer) {
    std::string postings;
    for (int i = 0; i < 64; ++i) {
      postings += std::string(i ? "," : "") + R"({"from":"external:bank","to":"user:)" +
                  std::to_string(i) + R"(","asset":"EUR","amount":)" +
                  std::to_string(1 + transfer) + "}";
    }
    Write("/v1/transfers", R"({"postings":[)" + postings + "]}");
  }
  const std::uint64_t all = model_.Docs("entries").size();
  ASSERT_EQ(all, 10'240u);
  auto total = [](const rapidjson::Value& json) {
    return std::pair<std::uint64_t, std::string>(json["hits"]["total"]["value"].GetUint64(),
                                                 json["hits"]["total"]["relation"].GetString());
  };
  using Total = std::pair<std::uint64_t, std::string>;
  EXPECT_EQ(total(Search("entries", "")), Total(10'000, "gte"));
  EXPECT_EQ(total(Search("entries", R"({"track_total_hits":true})")), Total(all, "eq"));
  EXPECT_EQ(total(Search("entries", R"({"track_total_hits":50})")), Total(50, "gte"));
  EXPECT_EQ(total(Search("entries", R"({"track_total_hits":20000})")), Total(all, "eq"));
  EXPECT_EQ(total(Search("entries", "", "track_total_hits=10240")), Total(all, "eq"));
  EXPECT_EQ(total(Search("entries", R"({"track_total_hits":10239})")), Total(10'239, "gte"));
  EXPECT_EQ(total(Search("entries", "", "track_total_hits=true")), Total(all, "eq"));
  const auto exact = model_.Where("entries", [](const ExpectedDoc& d) { return d.amount <= 3; });
  EXPECT_EQ(total(Search("entries", R"({"query":{"range":{"amount":{"lte":3}}}})")),
            Total(exact.size(), "eq"));
  for (const auto& body : {std::string(R"({"track_total_hits":false})"), std::string()}) {
    const auto json = Search("entries", body, body.empty() ? "track_total_hits=false" : "");
    EXPECT_FALSE(json["hits"].HasMember("total")) << body;
    EXPECT_EQ(json["hits"]["hits"].Size(), 10u);
  }
  // _count is always exact.
  const auto count = Json(SearchResponse("entries", "", "", "_count"));
  EXPECT_EQ(count["count"].GetUint64(), all);
}

}  // namespace
}  // namespace ledger::transport::testing
