// Integration: every query clause of POST /{index}/_search against a real ledger, with the
// expected hits computed from the test's own model of the documents (search_fixture.h).
#include <gtest/gtest.h>

#include <random>

#include "tests/transport/search_fixture.h"

namespace ledger::transport::testing {
namespace {

class SearchQueriesTest : public SearchTest {
 protected:
  void SetUp() override {
    SearchTest::SetUp();
    WriteStandardData();
  }

  // The hits of `query` on `index` (all of them, default sort): ids and total as `predicate`
  // selects them from the model, in index order (every clause here scores the same for every
  // hit, so the default sort is index order).
  void ExpectMatches(std::string_view index, const std::string& query,
                     const DocPredicate& predicate, bool may_be_empty = false) {
    const auto json = Search(index, R"({"size":10000,"query":)" + query + "}");
    const auto expected = model_.Where(index, predicate);
    ASSERT_FALSE(expected.empty() && !may_be_empty) << "the data set should exercise " << query;
    ExpectHits(json, expected, std::string(index) + " " + query);
  }

  // The score of every hit.
  static std::vector<double> Scores(const rapidjson::Value& json) {
    std::vector<double> scores;
    for (const auto& hit : json["hits"]["hits"].GetArray()) {
      scores.push_back(hit["_score"].IsNull() ? -1 : hit["_score"].GetDouble());
    }
    return scores;
  }
};

// Every hit's _source is exactly the model's document: each non-empty keyword and text field,
// amount, position, occurred_at with microseconds.
TEST_F(SearchQueriesTest, SourceOfEveryDocumentMatchesTheModel) {
  for (const char* index : {"settlements", "entries"}) {
    const auto json = Search(index, R"({"size":10000,"sort":["_doc"]})");
    const auto& docs = model_.Docs(index);
    ASSERT_EQ(json["hits"]["hits"].Size(), docs.size()) << index;
    EXPECT_EQ(Total(json), docs.size());
    for (rapidjson::SizeType i = 0; i < docs.size(); ++i) {
      const auto& hit = json["hits"]["hits"][i];
      const ExpectedDoc& doc = docs[i];
      EXPECT_STREQ(hit["_index"].GetString(), index);
      EXPECT_STREQ(hit["_type"].GetString(), "_doc");
      EXPECT_EQ(hit["_id"].GetString(), doc.record_id);
      const auto& source = hit["_source"];
      std::size_t fields = 3;
      for (const char* name : {"record_id", "type", "order_id", "merchant", "account",
                               "counterparty", "kind", "category", "asset", "ref", "memo"}) {
        const std::string& expected = doc.Text(name);
        if (expected.empty()) {
          EXPECT_FALSE(source.HasMember(name)) << doc.record_id << " " << name;
          continue;
        }
        ++fields;
        ASSERT_TRUE(source.HasMember(name)) << doc.record_id << " " << name;
        EXPECT_EQ(source[name].GetString(), expected) << doc.record_id << " " << name;
      }
      EXPECT_EQ(source.MemberCount(), fields) << doc.record_id;
      EXPECT_EQ(source["amount"].GetInt64(), doc.amount) << doc.record_id;
      EXPECT_EQ(source["position"].GetInt64(), doc.position) << doc.record_id;
      EXPECT_EQ(source["occurred_at"].GetString(), FormatRfc3339(doc.occurred_at_us))
          << doc.record_id;
      EXPECT_EQ(hit["sort"][0].GetInt64(), static_cast<std::int64_t>(i));
    }
  }
}

TEST_F(SearchQueriesTest, TermOnKeywordLongDateAndId) {
  ExpectMatches("settlements", R"({"term":{"merchant":"merchant:blue"}})",
                [](const ExpectedDoc& d) { return d.merchant == "merchant:blue"; });
  ExpectMatches("settlements", R"({"term":{"kind":{"value":"merchant"}}})",
                [](const ExpectedDoc& d) { return d.kind == "merchant"; });
  const std::int64_t amount = model_.Docs("settlements")[5].amount;
  ExpectMatches("settlements", R"({"term":{"amount":)" + std::to_string(amount) + "}}",
                [amount](const ExpectedDoc& d) { return d.amount == amount; });
  ExpectMatches("settlements", R"({"term":{"amount":")" + std::to_string(amount) + "\"}}",
                [amount](const ExpectedDoc& d) { return d.amount == amount; });
  // A date alone covers its whole day (UTC); a full timestamp one millisecond.
  ExpectMatches("settlements", R"({"term":{"occurred_at":"2026-11-01"}})", [](const auto& d) {
    return FormatRfc3339(d.occurred_at_us).starts_with("2026-11-01");
  });
  ExpectMatches("settlements", R"({"term":{"occurred_at":"2026-10-31T23:59:59.999Z"}})",
                [](const auto& d) {
                  return FormatRfc3339(d.occurred_at_us) == "2026-10-31T23:59:59.999000Z";
                });
  const std::int64_t ms = model_.Docs("settlements")[0].OccurredMs();
  ExpectMatches("settlements", R"({"term":{"occurred_at":)" + std::to_string(ms) + "}}",
                [ms](const ExpectedDoc& d) { return d.OccurredMs() == ms; });
  const std::string id = model_.Docs("entries")[7].record_id;
  ExpectMatches("entries", R"({"term":{"_id":")" + id + "\"}}",
                [&id](const ExpectedDoc& d) { return d.record_id == id; });
  ExpectMatches("entries", R"({"term":{"record_id":")" + id + "\"}}",
                [&id](const ExpectedDoc& d) { return d.record_id == id; });
}

TEST_F(SearchQueriesTest, TermsOnKeywordLongAndDate) {
  ExpectMatches("entries", R"({"terms":{"kind":["payout","refund","voucher_grant","transfer"]}})",
                [](const ExpectedDoc& d) {
                  return d.kind == "payout" || d.kind == "refund" || d.kind == "voucher_grant" ||
                         d.kind == "transfer";
                });
  ExpectMatches(
      "settlements", R"({"terms":{"position":[1,3,"5",999999]}})",
      [](const ExpectedDoc& d) { return d.position == 1 || d.position == 3 || d.position == 5; });
  ExpectMatches("settlements",
                R"({"terms":{"occurred_at":["2026-11-03","2026-12-02T07:07:07Z",1]}})",
                [](const ExpectedDoc& d) {
                  const std::string at = FormatRfc3339(d.occurred_at_us);
                  return at.starts_with("2026-11-03") || at == "2026-12-02T07:07:07.000000Z";
                });
  ExpectMatches(
      "entries", R"({"terms":{"kind":[]}})", [](const ExpectedDoc&) { return false; }, true);
}

TEST_F(SearchQueriesTest, RangeOnLongDateAndKeyword) {
  ExpectMatches("settlements", R"({"range":{"amount":{"gte":300,"lt":"2000"}}})",
                [](const ExpectedDoc& d) { return d.amount >= 300 && d.amount < 2000; });
  ExpectMatches("settlements", R"({"range":{"amount":{"gt":-1000,"lte":0}}})",
                [](const ExpectedDoc& d) { return d.amount > -1000 && d.amount <= 0; });
  // Dates round like Elasticsearch: lte and gt take the end of the day named.
  const std::int64_t nov1 = *ParseRfc3339("2026-11-01T00:00:00Z") / 1000;
  const std::int64_t nov2 = nov1 + 86'400'000;
  ExpectMatches(
      "settlements", R"({"range":{"occurred_at":{"gte":"2026-11-01","lte":"2026-11-01"}}})",
      [&](const ExpectedDoc& d) { return d.OccurredMs() >= nov1 && d.OccurredMs() < nov2; });
  ExpectMatches("settlements", R"({"range":{"occurred_at":{"gt":"2026-11-01"}}})",
                [&](const ExpectedDoc& d) { return d.OccurredMs() >= nov2; });
  ExpectMatches("settlements", R"({"range":{"occurred_at":{"lt":"2026-11-01"}}})",
                [&](const ExpectedDoc& d) { return d.OccurredMs() < nov1; });
  ExpectMatches("settlements",
                R"({"range":{"occurred_at":{"gte":"2026-11-01T12:30:00+01:00","lte":)" +
                    std::to_string(nov2) + "}}}",
                [&](const ExpectedDoc& d) {
                  return d.OccurredMs() >= nov1 + 11 * 3'600'000 + 30 * 60'000 &&
                         d.OccurredMs() <= nov2;
                });
  ExpectMatches(
      "settlements", R"({"range":{"account":{"gte":"partner:1","lt":"partner:3"}}})",
      [](const ExpectedDoc& d) { return d.account >= "partner:1" && d.account < "partner:3"; });
  ExpectMatches("entries", R"({"range":{"order_id":{}}})",
                [](const ExpectedDoc& d) { return !d.order_id.empty(); });
}

TEST_F(SearchQueriesTest, MatchScoresWithBm25OnMemo) {
  const auto& docs = model_.Docs("entries");
  for (const std::string text : {"top up card", "REFUND coffee", "Rent", "bonus"}) {
    const auto json = Search("entries", R"({"query":{"match":{"memo":")" + text + R"("}}})");
    std::vector<std::pair<double, const ExpectedDoc*>> expected;
    for (const ExpectedDoc& doc : docs) {
      if (const double score = Bm25(docs, doc, text); score > 0) expected.emplace_back(score, &doc);
    }
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    ASSERT_FALSE(expected.empty()) << text;
    ASSERT_EQ(json["hits"]["hits"].Size(), std::min<std::size_t>(expected.size(), 10)) << text;
    EXPECT_EQ(Total(json), expected.size()) << text;
    EXPECT_NEAR(json["hits"]["max_score"].GetDouble(), expected[0].first, 1e-6) << text;
    for (rapidjson::SizeType i = 0; i < json["hits"]["hits"].Size(); ++i) {
      const auto& hit = json["hits"]["hits"][i];
      EXPECT_EQ(hit["_id"].GetString(), expected[i].second->record_id) << text << " hit " << i;
      EXPECT_NEAR(hit["_score"].GetDouble(), expected[i].first, 1e-6) << text << " hit " << i;
    }
  }
  // A term on the text field is one exact token, scored like a match of that token.
  const auto term = Search("entries", R"({"query":{"term":{"memo":"card"}}})");
  const auto match = Search("entries", R"({"query":{"match":{"memo":"card"}}})");
  EXPECT_EQ(HitIds(term), HitIds(match));
  EXPECT_EQ(Scores(term), Scores(match));
  EXPECT_EQ(Total(Search("entries", R"({"query":{"term":{"memo":"Card"}}})")), 0u);
  // operator and: every token.
  ExpectMatches("entries", R"({"match":{"memo":{"query":"Top Up card","operator":"and"}}})",
                [](const ExpectedDoc& d) {
                  const auto t = Tokens(d.memo);
                  auto has = [&t](const char* w) {
                    return std::find(t.begin(), t.end(), w) != t.end();
                  };
                  return has("top") && has("up") && has("card");
                });
  // On a keyword field match is a term on the whole value; on a long, the number.
  ExpectMatches("entries", R"({"match":{"account":"user:1"}})",
                [](const ExpectedDoc& d) { return d.account == "user:1"; });
  ExpectMatches("settlements", R"({"match":{"amount":{"query":"-3000"}}})",
                [](const ExpectedDoc& d) { return d.amount == -3000; });
}

TEST_F(SearchQueriesTest, PrefixExistsMatchAllMatchNoneAndUnmappedFields) {
  ExpectMatches("settlements", R"({"prefix":{"account":"partner:"}})",
                [](const ExpectedDoc& d) { return d.account.starts_with("partner:"); });
  ExpectMatches("entries", R"({"prefix":{"counterparty":{"value":"external:p"}}})",
                [](const ExpectedDoc& d) { return d.counterparty.starts_with("external:p"); });
  ExpectMatches("entries", R"({"exists":{"field":"order_id"}})",
                [](const ExpectedDoc& d) { return !d.order_id.empty(); });
  ExpectMatches("entries", R"({"exists":{"field":"memo"}})",
                [](const ExpectedDoc& d) { return !d.memo.empty(); });
  ExpectMatches("entries", R"({"exists":{"field":"amount"}})",
                [](const ExpectedDoc&) { return true; });
  ExpectMatches("settlements", R"({"match_all":{}})", [](const ExpectedDoc&) { return true; });
  ExpectMatches(
      "settlements", R"({"match_none":{}})", [](const ExpectedDoc&) { return false; }, true);
  ExpectMatches(
      "settlements", R"({"term":{"nope":"x"}})", [](const ExpectedDoc&) { return false; }, true);
  ExpectMatches("settlements", R"({"bool":{"must_not":{"exists":{"field":"nope"}}}})",
                [](const ExpectedDoc&) { return true; });
}

TEST_F(SearchQueriesTest, BoolFilterMustMustNotShould) {
  ExpectMatches("settlements",
                R"({"bool":{"filter":[{"term":{"merchant":"merchant:acme"}},)"
                R"({"range":{"occurred_at":{"gte":"2026-11-01","lt":"2026-12-01"}}},)"
                R"({"term":{"category":"other"}}],"must_not":{"term":{"type":"OrderRefunded"}}}})",
                [](const ExpectedDoc& d) {
                  const std::string at = FormatRfc3339(d.occurred_at_us);
                  return d.merchant == "merchant:acme" && at >= "2026-11" && at < "2026-12" &&
                         d.category == "other" && d.type != "OrderRefunded";
                });
  ExpectMatches(
      "entries",
      R"({"bool":{"must":{"bool":{"should":[{"term":{"kind":"payout"}},)"
      R"({"term":{"kind":"refund"}}]}},"must_not":[{"term":{"merchant":"merchant:cafe"}}]}})",
      [](const ExpectedDoc& d) {
        return (d.kind == "payout" || d.kind == "refund") && d.merchant != "merchant:cafe";
      });
  // An empty bool matches everything.
  ExpectMatches("entries", R"({"bool":{}})", [](const ExpectedDoc&) { return true; });
}

TEST_F(SearchQueriesTest, MinimumShouldMatchAndItsDefaults) {
  const std::string should =
      R"("should":[{"term":{"merchant":"merchant:acme"}},{"term":{"kind":"merchant"}},)"
      R"({"term":{"asset":"EUR"}},{"prefix":{"account":"partner:1"}}])";
  auto hits = [](const ExpectedDoc& d) {
    return int{d.merchant == "merchant:acme"} + int{d.kind == "merchant"} + int{d.asset == "EUR"} +
           int{d.account.starts_with("partner:1")};
  };
  for (const auto& [spec, needed] :
       {std::pair{"1", 1}, std::pair{"2", 2}, std::pair{"-1", 3}, std::pair{"\"75%\"", 3},
        std::pair{"\"-50%\"", 2}, std::pair{"4", 4}, std::pair{"5", 5}}) {
    const auto json = Search("settlements", R"({"size":10000,"query":{"bool":{)" + should +
                                                R"(,"minimum_should_match":)" + spec + "}}}");
    std::vector<std::pair<int, const ExpectedDoc*>> expected;
    for (const ExpectedDoc& doc : model_.Docs("settlements")) {
      if (hits(doc) >= needed) expected.emplace_back(hits(doc), &doc);
    }
    // Each matching should clause scores 1: more matches first, then index order.
    std::stable_sort(expected.begin(), expected.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<std::string> ids;
    for (const auto& entry : expected) ids.push_back(entry.second->record_id);
    EXPECT_EQ(HitIds(json), ids) << spec;
    for (rapidjson::SizeType i = 0; i < json["hits"]["hits"].Size(); ++i) {
      EXPECT_EQ(json["hits"]["hits"][i]["_score"].GetDouble(), expected[i].first) << spec;
    }
  }
  // Should alone: at least one. With a filter: optional, they only add to the score.
  ExpectMatches("settlements", R"({"bool":{"should":[{"term":{"kind":"payout"}}]}})",
                [](const ExpectedDoc& d) { return d.kind == "payout"; });
  const auto json = Search("settlements", R"({"size":10000,"query":{"bool":{"filter":{"term":)"
                                          R"({"merchant":"merchant:acme"}},"should":[{"term":)"
                                          R"({"kind":"payout"}}]}}})");
  const auto acme = model_.Where(
      "settlements", [](const ExpectedDoc& d) { return d.merchant == "merchant:acme"; });
  EXPECT_EQ(Total(json), acme.size());
  EXPECT_EQ(json["hits"]["hits"][0]["_score"].GetDouble(), 1.0);  // The payout first.
  EXPECT_STREQ(json["hits"]["hits"][0]["_source"]["kind"].GetString(), "payout");
  EXPECT_EQ(json["hits"]["hits"][1]["_score"].GetDouble(), 0.0);
}

TEST_F(SearchQueriesTest, ScoresInQueryAndFilterContext) {
  // Constant 1 x boost per keyword clause, summed by bool must and should; filters score 0.
  auto json = Search("settlements", R"({"query":{"bool":{"must":[{"term":{"kind":"merchant"}},)"
                                    R"({"term":{"asset":{"value":"EUR","boost":2.5}}}]}}})");
  EXPECT_EQ(json["hits"]["max_score"].GetDouble(), 3.5);
  for (const auto& hit : json["hits"]["hits"].GetArray()) EXPECT_EQ(hit["_score"].GetDouble(), 3.5);
  json = Search("settlements", R"({"query":{"bool":{"filter":{"term":{"kind":"merchant"}}}}})");
  EXPECT_EQ(json["hits"]["max_score"].GetDouble(), 0.0);
  EXPECT_EQ(json["hits"]["hits"][0]["_score"].GetDouble(), 0.0);
  json = Search("settlements", R"({"query":{"range":{"amount":{"gt":0,"boost":4}}}})");
  EXPECT_EQ(json["hits"]["hits"][0]["_score"].GetDouble(), 4.0);
  json = Search("settlements", R"({"query":{"match_all":{"boost":1.5}}})");
  EXPECT_EQ(json["hits"]["hits"][0]["_score"].GetDouble(), 1.5);
  json = Search("settlements", "");
  EXPECT_EQ(json["hits"]["hits"][0]["_score"].GetDouble(), 1.0);
  EXPECT_EQ(json["hits"]["max_score"].GetDouble(), 1.0);
}

// A random keyword/range/prefix query tree in filter context and its predicate.
struct RandomQuery {
  std::string json;
  DocPredicate predicate;
};

RandomQuery RandomLeaf(std::mt19937_64& random) {
  static const char* kMerchants[] = {"merchant:acme", "merchant:blue", "merchant:cafe", "x"};
  static const char* kKinds[] = {"merchant",       "host_commission", "commission",
                                 "platform_share", "payout",          "technical_service_fee"};
  switch (random() % 5) {
    case 0: {
      const std::string merchant = kMerchants[random() % 4];
      return {R"({"term":{"merchant":")" + merchant + "\"}}",
              [merchant](const ExpectedDoc& d) { return d.merchant == merchant; }};
    }
    case 1: {
      const std::string a = kKinds[random() % 6], b = kKinds[random() % 6];
      return {R"({"terms":{"kind":[")" + a + "\",\"" + b + "\"]}}",
              [a, b](const ExpectedDoc& d) { return d.kind == a || d.kind == b; }};
    }
    case 2: {
      const std::int64_t low = static_cast<std::int64_t>(random() % 3000) - 500;
      const std::int64_t high = low + static_cast<std::int64_t>(random() % 6000);
      return {R"({"range":{"amount":{"gte":)" + std::to_string(low) + R"(,"lt":)" +
                  std::to_string(high) + "}}}",
              [low, high](const ExpectedDoc& d) { return d.amount >= low && d.amount < high; }};
    }
    case 3: {
      const int day = 1 + static_cast<int>(random() % 30);
      const std::string date = "2026-11-" + std::string(day < 10 ? "0" : "") + std::to_string(day);
      const std::int64_t end = *ParseRfc3339(date + "T23:59:59.999Z") / 1000;
      return {R"({"range":{"occurred_at":{"lte":")" + date + "\"}}}",
              [end](const ExpectedDoc& d) { return d.OccurredMs() <= end; }};
    }
    default: {
      const std::string prefix = "partner:" + std::to_string(random() % 5);
      return {R"({"prefix":{"account":")" + prefix + "\"}}",
              [prefix](const ExpectedDoc& d) { return d.account.starts_with(prefix); }};
    }
  }
}

RandomQuery RandomTree(std::mt19937_64& random, int depth) {
  if (depth == 0 || random() % 3 == 0) return RandomLeaf(random);
  std::vector<RandomQuery> filter, must_not, should;
  for (std::uint64_t i = random() % 3; i > 0; --i) filter.push_back(RandomTree(random, depth - 1));
  for (std::uint64_t i = random() % 2; i > 0; --i)
    must_not.push_back(RandomTree(random, depth - 1));
  for (std::uint64_t i = random() % 3; i > 0; --i) should.push_back(RandomTree(random, depth - 1));
  const std::size_t minimum = should.empty() ? 0 : random() % (should.size() + 1);
  auto list = [](const std::vector<RandomQuery>& queries) {
    std::string json = "[";
    for (const auto& query : queries) json += (json.size() > 1 ? "," : "") + query.json;
    return json + "]";
  };
  RandomQuery tree;
  tree.json = R"({"bool":{"filter":)" + list(filter) + R"(,"must_not":)" + list(must_not) +
              R"(,"should":)" + list(should) + R"(,"minimum_should_match":)" +
              std::to_string(minimum) + "}}";
  tree.predicate = [filter, must_not, should, minimum](const ExpectedDoc& d) {
    for (const auto& query : filter) {
      if (!query.predicate(d)) return false;
    }
    for (const auto& query : must_not) {
      if (query.predicate(d)) return false;
    }
    std::size_t matched = 0;
    for (const auto& query : should) matched += query.predicate(d) ? 1 : 0;
    // As in Elasticsearch: with no filter (or must), one should clause at least.
    const std::size_t needed =
        filter.empty() && !should.empty() ? std::max<std::size_t>(minimum, 1) : minimum;
    return matched >= needed;
  };
  return tree;
}

TEST_F(SearchQueriesTest, RandomBoolTreesMatchTheModel) {
  const unsigned long long seed = ::ledger::testing::TestSeed();
  std::printf("RandomBoolTreesMatchTheModel seed %llu (LEDGER_TEST_SEED)\n", seed);
  std::mt19937_64 random(seed);
  for (int i = 0; i < 150; ++i) {
    const RandomQuery query = RandomTree(random, 3);
    const auto json = Search("settlements", R"({"size":10000,"sort":["_doc"],"query":{"bool":)"
                                            R"({"filter":)" +
                                                query.json + "}}}");
    EXPECT_EQ(HitIds(json), Expected("settlements", query.predicate))
        << "seed " << seed << " query " << i << ": " << query.json;
    auto count = SearchResponse("settlements", R"({"query":)" + query.json + "}", "", "_count");
    ASSERT_EQ(count.result_int(), 200u) << count.body();
    EXPECT_EQ(Json(count)["count"].GetUint64(), model_.Where("settlements", query.predicate).size())
        << "seed " << seed << " query " << i << ": " << query.json;
  }
}

}  // namespace
}  // namespace ledger::transport::testing
