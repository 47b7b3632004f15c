// The query DSL parser on its own (transport/search_dsl.h): what each clause becomes, the
// Elasticsearch rules it reproduces (minimum_should_match, date rounding), and its limits.
#include "transport/search_dsl.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "ledger/limits.h"
#include "transport/internal/search_dsl_internal.h"

namespace ledger::transport {
namespace {

using projections::SearchAggregation;
using projections::SearchField;
using projections::SearchIndexId;
using projections::SearchQuery;
using projections::SearchSort;
using projections::SearchValue;
using Kind = SearchQuery::Kind;

SearchCall Parsed(const std::string& body, const SearchUrlParams& params = {}) {
  auto call = ParseSearch(SearchIndexId::kSettlements, body, params);
  EXPECT_TRUE(call.has_value()) << body << " -> " << (call ? "" : call.error().message);
  return call ? std::move(*call) : SearchCall{};
}

SearchQuery Query(const std::string& query) {
  return Parsed(R"({"query":)" + query + "}").request.query;
}

// The refusal of `body`: its Elasticsearch type and reason.
Error Refused(const std::string& body, const SearchUrlParams& params = {}) {
  auto call = ParseSearch(SearchIndexId::kSettlements, body, params);
  EXPECT_FALSE(call.has_value()) << body << " was accepted";
  return call ? Error{} : call.error();
}

std::int64_t Ms(const char* rfc3339) { return internal::ParseDate(rfc3339).value().down_ms; }

TEST(SearchDslTest, EmptyBodyIsMatchAllFromZeroSizeTenCountingToTenThousand) {
  const SearchCall call = Parsed("");
  EXPECT_EQ(call.request.query.kind, Kind::kMatchAll);
  EXPECT_EQ(call.request.from, 0u);
  EXPECT_EQ(call.request.size, 10u);
  EXPECT_TRUE(call.request.sort.empty());
  EXPECT_FALSE(call.sorted);
  EXPECT_EQ(call.total_hits_up_to, std::optional<std::uint64_t>(kSearchTrackTotalHitsDefault));
  EXPECT_TRUE(call.source.enabled);
  EXPECT_EQ(Parsed("  {}  ").request.query.kind, Kind::kMatchAll);
}

TEST(SearchDslTest, TermShortAndLongFormsByFieldType) {
  SearchQuery term = Query(R"({"term":{"merchant":"m1"}})");
  EXPECT_EQ(term.kind, Kind::kTerm);
  EXPECT_EQ(term.field, SearchField::kMerchant);
  EXPECT_EQ(term.keywords, std::vector<std::string>{"m1"});
  term = Query(R"({"term":{"merchant":{"value":"m2","boost":2.5}}})");
  EXPECT_EQ(term.keywords, std::vector<std::string>{"m2"});
  EXPECT_EQ(term.boost, 2.5);
  // Integers on keyword fields are their decimal text, as in Elasticsearch.
  EXPECT_EQ(Query(R"({"term":{"ref":42}})").keywords, std::vector<std::string>{"42"});
  term = Query(R"({"term":{"amount":"-120"}})");
  EXPECT_EQ(term.field, SearchField::kAmount);
  EXPECT_EQ(term.numbers, std::vector<std::int64_t>{-120});
  EXPECT_EQ(Query(R"({"term":{"_id":"7.1"}})").field, SearchField::kRecordId);
  // A full-precision date is one instant; a date alone covers its day.
  term = Query(R"({"term":{"occurred_at":"2026-11-01T10:00:00.123Z"}})");
  EXPECT_EQ(term.kind, Kind::kTerm);
  EXPECT_EQ(term.numbers, std::vector<std::int64_t>{Ms("2026-11-01T10:00:00.123Z")});
  term = Query(R"({"term":{"occurred_at":"2026-11-01"}})");
  EXPECT_EQ(term.kind, Kind::kRange);
  EXPECT_EQ(term.gte, Ms("2026-11-01T00:00:00Z"));
  EXPECT_EQ(term.lte, Ms("2026-11-01T23:59:59.999Z"));
  EXPECT_EQ(Query(R"({"term":{"occurred_at":1793526400000}})").numbers,
            std::vector<std::int64_t>{1793526400000});
}

TEST(SearchDslTest, TermOnTheTextFieldMatchesOneExactToken) {
  SearchQuery term = Query(R"({"term":{"memo":"card"}})");
  EXPECT_EQ(term.kind, Kind::kMatch);
  EXPECT_EQ(term.text, "card");
  // Not a lower-case single token: Elasticsearch's term query finds nothing.
  EXPECT_EQ(Query(R"({"term":{"memo":"Card"}})").kind, Kind::kMatchNone);
  EXPECT_EQ(Query(R"({"term":{"memo":"top up"}})").kind, Kind::kMatchNone);
}

TEST(SearchDslTest, UnmappedFieldsMatchNothingButMetadataFieldsAreRefused) {
  for (const char* query : {R"({"term":{"nope":"x"}})", R"({"terms":{"nope":["x"]}})",
                            R"({"range":{"nope":{"gte":1}}})", R"({"match":{"nope":"x"}})",
                            R"({"prefix":{"nope":"x"}})", R"({"exists":{"field":"nope"}})"}) {
    EXPECT_EQ(Query(query).kind, Kind::kMatchNone) << query;
  }
  const Error error = Refused(R"({"query":{"term":{"_index":"settlements"}}})");
  EXPECT_EQ(error.code, "parsing_exception");
  EXPECT_NE(error.message.find("[_index]"), std::string::npos) << error.message;
}

TEST(SearchDslTest, TermsByType) {
  SearchQuery terms = Query(R"({"terms":{"kind":["a","b"],"boost":3}})");
  EXPECT_EQ(terms.kind, Kind::kTerms);
  EXPECT_EQ(terms.keywords, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(terms.boost, 3.0);
  EXPECT_EQ(Query(R"({"terms":{"position":[1,"2"]}})").numbers, (std::vector<std::int64_t>{1, 2}));
  EXPECT_EQ(Query(R"({"terms":{"kind":[]}})").kind, Kind::kMatchNone);
  // Dates: instants stay terms; a day becomes a range; overlapping intervals merge.
  terms = Query(R"({"terms":{"occurred_at":[1000, "2026-11-01", "2026-11-01T10:00:00Z"]}})");
  ASSERT_EQ(terms.kind, Kind::kBool);
  ASSERT_EQ(terms.should.size(), 2u);
  EXPECT_EQ(terms.minimum_should_match, 1u);
  EXPECT_EQ(terms.should[0].gte, 1000);
  EXPECT_EQ(terms.should[0].lte, 1000);
  EXPECT_EQ(terms.should[1].gte, Ms("2026-11-01T00:00:00Z"));
  EXPECT_EQ(terms.should[1].lte, Ms("2026-11-01T23:59:59.999Z"));
  EXPECT_EQ(Query(R"({"terms":{"occurred_at":[5, 6]}})").numbers,
            (std::vector<std::int64_t>{5, 6}));
}

TEST(SearchDslTest, RangeBoundsRoundDatesLikeElasticsearch) {
  SearchQuery range = Query(R"({"range":{"amount":{"gt":-5,"lte":"10"}}})");
  EXPECT_EQ(range.kind, Kind::kRange);
  EXPECT_EQ(range.gt, -5);
  EXPECT_EQ(range.lte, 10);
  EXPECT_FALSE(range.gte.has_value());
  // gt and lte take the upper end of a date with missing parts, gte and lt the lower.
  range = Query(
      R"({"range":{"occurred_at":{"gt":"2026-11-01","gte":"2026-11-02T10:00","lt":"2026-11-03T10:00:05+01:00","lte":"2026-11-04T10:00:05.5Z"}}})");
  EXPECT_EQ(range.gt, Ms("2026-11-01T23:59:59.999Z"));
  EXPECT_EQ(range.gte, Ms("2026-11-02T10:00:00Z"));
  EXPECT_EQ(range.lt, Ms("2026-11-03T09:00:05Z"));
  EXPECT_EQ(range.lte, Ms("2026-11-04T10:00:05.500Z"));
  range = Query(R"({"range":{"occurred_at":{"lte":"2026-11-02T10:00"}}})");
  EXPECT_EQ(range.lte, Ms("2026-11-02T10:00:59.999Z"));
  range = Query(R"({"range":{"occurred_at":{"lte":"2026-11-02T10:00:00Z"}}})");
  EXPECT_EQ(range.lte, Ms("2026-11-02T10:00:00.999Z"));
  range = Query(R"({"range":{"account":{"gte":"b","lt":"c"}}})");
  EXPECT_EQ(range.gte_keyword, "b");
  EXPECT_EQ(range.lt_keyword, "c");
  // No bound (or only nulls): every document with the field.
  range = Query(R"({"range":{"order_id":{"gte":null}}})");
  EXPECT_EQ(range.kind, Kind::kExists);
  EXPECT_EQ(range.field, SearchField::kOrderId);
}

TEST(SearchDslTest, DatesBeforeTheEpochAndBadDates) {
  EXPECT_EQ(Ms("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(internal::ParseDate("1969-12-31").value().up_ms, -1);
  for (const char* bad :
       {"2026-13-01", "2026-02-30", "2026-11", "now-1d", "2026-11-01T25:00", "2026-11-01 10:00",
        "2026-11-01T10:00:00.Z", "2026-11-01T10:00:00+1", "2026-11-01T10:00:00.1234567890Z"}) {
    EXPECT_FALSE(internal::ParseDate(bad).has_value()) << bad;
  }
  const Error error = Refused(R"({"query":{"range":{"occurred_at":{"gte":"now-1d"}}}})");
  EXPECT_EQ(error.code, "parsing_exception");
  EXPECT_NE(error.message.find("now-1d"), std::string::npos) << error.message;
}

TEST(SearchDslTest, MatchOnTextAndOnOtherFields) {
  SearchQuery match = Query(R"({"match":{"memo":{"query":"Top up","operator":"AND","boost":2}}})");
  EXPECT_EQ(match.kind, Kind::kMatch);
  EXPECT_EQ(match.text, "Top up");
  EXPECT_TRUE(match.match_all_tokens);
  EXPECT_EQ(match.boost, 2.0);
  EXPECT_FALSE(Query(R"({"match":{"memo":"card"}})").match_all_tokens);
  EXPECT_EQ(Query(R"({"match":{"memo":"!!"}})").kind, Kind::kMatchNone);  // No tokens.
  match = Query(R"({"match":{"merchant":"merchant:acme shop"}})");
  EXPECT_EQ(match.kind, Kind::kTerm);
  EXPECT_EQ(match.keywords, std::vector<std::string>{"merchant:acme shop"});
  EXPECT_EQ(Query(R"({"match":{"amount":{"query":12}}})").numbers, std::vector<std::int64_t>{12});
}

TEST(SearchDslTest, PrefixExistsMatchAllMatchNone) {
  SearchQuery prefix = Query(R"({"prefix":{"account":{"value":"partner:","boost":1.5}}})");
  EXPECT_EQ(prefix.kind, Kind::kPrefix);
  EXPECT_EQ(prefix.keywords, std::vector<std::string>{"partner:"});
  EXPECT_EQ(prefix.boost, 1.5);
  EXPECT_EQ(Query(R"({"prefix":{"account":"p"}})").keywords, std::vector<std::string>{"p"});
  const SearchQuery exists = Query(R"({"exists":{"field":"memo"}})");
  EXPECT_EQ(exists.kind, Kind::kExists);
  EXPECT_EQ(exists.field, SearchField::kMemo);
  EXPECT_EQ(Query(R"({"match_all":{"boost":2}})").boost, 2.0);
  EXPECT_EQ(Query(R"({"match_none":{}})").kind, Kind::kMatchNone);
  EXPECT_EQ(Refused(R"({"query":{"prefix":{"amount":"1"}}})").code, "query_shard_exception");
}

TEST(SearchDslTest, BoolTakesObjectsOrArraysAndResolvesMinimumShouldMatch) {
  const SearchQuery bool_query = Query(
      R"({"bool":{"must":{"term":{"kind":"a"}},"filter":[{"term":{"kind":"b"}},{"match_all":{}}],)"
      R"("should":[{"term":{"kind":"c"}}],"must_not":{"term":{"kind":"d"}},"boost":0.5}})");
  EXPECT_EQ(bool_query.kind, Kind::kBool);
  EXPECT_EQ(bool_query.must.size(), 1u);
  EXPECT_EQ(bool_query.filter.size(), 2u);
  EXPECT_EQ(bool_query.should.size(), 1u);
  EXPECT_EQ(bool_query.must_not.size(), 1u);
  EXPECT_EQ(bool_query.boost, 0.5);
  EXPECT_FALSE(bool_query.minimum_should_match.has_value());
  const std::string four_should =
      R"({"term":{"kind":"a"}},{"term":{"kind":"b"}},{"term":{"kind":"c"}},{"term":{"kind":"d"}})";
  // Elasticsearch's Queries.calculateMinShouldMatch over 4 should clauses.
  const std::pair<const char*, std::uint32_t> cases[] = {
      {"2", 2},       {"-1", 3},       {"\"3\"", 3},    {"\"-3\"", 1},  {"\"50%\"", 2},
      {"\"75%\"", 3}, {"\"-25%\"", 3}, {"\"-30%\"", 3}, {"\"30%\"", 1}, {"\"100%\"", 4},
      {"7", 7},       {"-9", 1},       {"0", 1}};
  for (const auto& [spec, expected] : cases) {
    const SearchQuery query = Query(R"({"bool":{"should":[)" + four_should +
                                    R"(],"minimum_should_match":)" + spec + "}}");
    EXPECT_EQ(query.minimum_should_match, expected) << spec;
  }
  // With a filter (or must) clause, 0 stays 0: the should clauses only score.
  EXPECT_EQ(Query(R"({"bool":{"filter":{"match_all":{}},"should":[)" + four_should +
                  R"(],"minimum_should_match":"-100%"}})")
                .minimum_should_match,
            0u);
  EXPECT_EQ(Refused(R"({"query":{"bool":{"should":[],"minimum_should_match":"2<75%"}}})").code,
            "illegal_argument_exception");
}

TEST(SearchDslTest, SortForms) {
  const SearchCall call =
      Parsed(R"({"sort":["merchant",{"amount":"desc"},{"occurred_at":{"order":"asc"}},"_score",)"
             R"({"_doc":"desc"},{"_id":"asc"}]})");
  ASSERT_EQ(call.request.sort.size(), 6u);
  EXPECT_TRUE(call.sorted);
  EXPECT_EQ(call.request.sort[0].field, SearchField::kMerchant);
  EXPECT_FALSE(call.request.sort[0].descending);
  EXPECT_TRUE(call.request.sort[1].descending);
  EXPECT_EQ(call.request.sort[2].field, SearchField::kOccurredAt);
  EXPECT_EQ(call.request.sort[3].kind, SearchSort::Kind::kScore);
  EXPECT_TRUE(call.request.sort[3].descending);
  EXPECT_EQ(call.request.sort[4].kind, SearchSort::Kind::kDoc);
  EXPECT_TRUE(call.request.sort[4].descending);
  EXPECT_EQ(call.request.sort[5].field, SearchField::kRecordId);
  EXPECT_EQ(Parsed(R"({"sort":"amount"})").request.sort.size(), 1u);
  EXPECT_EQ(Parsed(R"({"sort":{"amount":"desc","merchant":"asc"}})").request.sort.size(), 2u);
  Error error = Refused(R"({"sort":["memo"]})");
  EXPECT_EQ(error.code, "illegal_argument_exception");
  EXPECT_NE(error.message.find("fielddata=true on [memo]"), std::string::npos);
  error = Refused(R"({"sort":["nope"]})");
  EXPECT_EQ(error.code, "query_shard_exception");
  EXPECT_EQ(error.message, "No mapping found for [nope] in order to sort on");
  EXPECT_NE(Refused(R"({"sort":[{"amount":{"order":"asc","mode":"min"}}]})").message.find("[mode]"),
            std::string::npos);
  EXPECT_NE(Refused(R"({"sort":[{"amount":"up"}]})").message.find("[up]"), std::string::npos);
}

TEST(SearchDslTest, SearchAfterIsTypedBySortKeys) {
  const SearchCall call = Parsed(R"({"sort":["merchant","amount","occurred_at","_score","_doc"],)"
                                 R"("search_after":["m1",-5,1793526400000,1.5,7]})");
  ASSERT_EQ(call.request.search_after.size(), 5u);
  EXPECT_EQ(call.request.search_after[0], SearchValue(std::string("m1")));
  EXPECT_EQ(call.request.search_after[1], SearchValue(std::int64_t{-5}));
  EXPECT_EQ(call.request.search_after[2], SearchValue(std::int64_t{1793526400000}));
  EXPECT_EQ(call.request.search_after[3], SearchValue(1.5));
  EXPECT_EQ(call.request.search_after[4], SearchValue(std::int64_t{7}));
  // A missing keyword value (null) pages on.
  EXPECT_EQ(Parsed(R"({"sort":["order_id"],"search_after":[null]})").request.search_after[0],
            SearchValue());
  EXPECT_EQ(Refused(R"({"sort":["amount"],"search_after":[1,2]})").message,
            "search_after has 2 value(s) but sort has 1.");
  EXPECT_EQ(Refused(R"({"search_after":[1]})").code, "illegal_argument_exception");
  EXPECT_EQ(Refused(R"({"sort":["amount"],"search_after":[1],"from":1})").message,
            "[from] parameter must be set to 0 when [search_after] is used.");
  EXPECT_NE(Refused(R"({"sort":["amount"],"search_after":["x"]})").message.find("[amount]"),
            std::string::npos);
  EXPECT_NE(Refused(R"({"sort":["merchant"],"search_after":[3]})").message.find("[merchant]"),
            std::string::npos);
}

// Numbers keep RapidJSON's types and are converted exactly, whatever their digits: RapidJSON
// 1.1.0's full-precision strtod has undefined behaviour on extreme inputs (found by the
// search_dsl fuzzer; both inputs are in tests/fuzz/regressions/search_dsl).
TEST(SearchDslTest, NumbersKeepTheirTypesAndAreConvertedExactly) {
  auto number = [](const std::string& text) {
    auto document = ParseSearchJson(R"({"n":)" + text + "}");
    EXPECT_TRUE(document.has_value()) << text << ": " << document.error().message;
    rapidjson::Document copy;
    if (document) copy.CopyFrom((*document)["n"], copy.GetAllocator());
    return copy;
  };
  const std::string tiny = "0." + std::string(500, '0') + "875230835875700000";
  for (const std::string& zero : {std::string("0.0"), std::string("0.000000000000000000000000000"),
                                  std::string("0e-30"), std::string("0.0E-400"), tiny,
                                  std::string("1e-400"), std::string("1e-536870900")}) {
    const auto value = number(zero);
    ASSERT_TRUE(value.IsDouble()) << zero;
    EXPECT_EQ(value.GetDouble(), 0.0) << zero;
    EXPECT_FALSE(std::signbit(value.GetDouble())) << zero;
  }
  const auto negative_zero = number("-0.00000000000000000000000000000e-7");
  ASSERT_TRUE(negative_zero.IsDouble());
  EXPECT_TRUE(std::signbit(negative_zero.GetDouble()));
  EXPECT_TRUE(std::signbit(number("-1e-400").GetDouble()));
  // Integers: RapidJSON's types.
  EXPECT_TRUE(number("0").IsUint());
  EXPECT_TRUE(number("-0").IsInt());
  EXPECT_EQ(number("-0").GetInt(), 0);
  EXPECT_EQ(number("-5").GetInt(), -5);
  EXPECT_EQ(number("-2147483648").GetInt(), std::numeric_limits<std::int32_t>::min());
  EXPECT_FALSE(number("-2147483649").IsInt());
  EXPECT_EQ(number("-2147483649").GetInt64(), -2147483649);
  EXPECT_EQ(number("4294967295").GetUint(), 4294967295u);
  EXPECT_EQ(number("4294967296").GetInt64(), 4294967296);
  EXPECT_EQ(number("-9223372036854775808").GetInt64(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(number("18446744073709551615").GetUint64(), 18446744073709551615u);
  EXPECT_EQ(number("18446744073709551616").GetDouble(), 18446744073709551616.0);
  EXPECT_EQ(number("-9223372036854775809").GetDouble(), -9223372036854775809.0);
  // Doubles: the shortest text of a double reads back as that very double (search_after's
  // _score), subnormals included.
  EXPECT_EQ(number("0.30000000000000004").GetDouble(), 0.1 + 0.2);
  EXPECT_EQ(number("0.1").GetDouble(), 0.1);
  EXPECT_EQ(number("1E+2").GetDouble(), 100.0);
  EXPECT_EQ(number("2.2250738585072014e-308").GetDouble(), std::numeric_limits<double>::min());
  EXPECT_EQ(number("1.7976931348623157e308").GetDouble(), std::numeric_limits<double>::max());
  EXPECT_EQ(number("4.9406564584124654e-324").GetDouble(),
            std::numeric_limits<double>::denorm_min());
  // Too large for a double: refused, with the number.
  auto refused = ParseSearchJson(R"({"n":1.8e308})");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("number 1.8e308 is out of the range of a double"),
            std::string::npos)
      << refused.error().message;
  // Syntax errors still carry their offset.
  refused = ParseSearchJson(R"({"n":01})");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("at offset"), std::string::npos)
      << refused.error().message;
}

TEST(SearchDslTest, TrackTotalHitsAndUrlParams) {
  EXPECT_EQ(Parsed(R"({"track_total_hits":true})").total_hits_up_to,
            std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(Parsed(R"({"track_total_hits":false})").total_hits_up_to, std::nullopt);
  EXPECT_EQ(Parsed(R"({"track_total_hits":-1})").total_hits_up_to, std::nullopt);
  EXPECT_EQ(Parsed(R"({"track_total_hits":25})").total_hits_up_to, 25u);
  EXPECT_EQ(Refused(R"({"track_total_hits":-2})").message,
            "[track_total_hits] parameter must be positive or equals to -1, got -2");
  // URL parameters override the body.
  const SearchCall call =
      Parsed(R"({"from":1,"size":2,"track_total_hits":true})",
             SearchUrlParams{.from = "3", .size = "4", .track_total_hits = "false"});
  EXPECT_EQ(call.request.from, 3u);
  EXPECT_EQ(call.request.size, 4u);
  EXPECT_EQ(call.total_hits_up_to, std::nullopt);
  EXPECT_EQ(Parsed("", SearchUrlParams{.track_total_hits = "7"}).total_hits_up_to, 7u);
  EXPECT_EQ(Refused("", SearchUrlParams{.size = "ten"}).message,
            "Failed to parse int parameter [size] with value [ten]");
  EXPECT_EQ(Refused("", SearchUrlParams{.from = "-1"}).message,
            "[from] parameter cannot be negative, found [-1]");
}

TEST(SearchDslTest, ResultWindowIsCappedAtTenThousand) {
  EXPECT_EQ(Parsed(R"({"from":9990,"size":10})").request.from, 9990u);
  EXPECT_EQ(Parsed(R"({"size":10000})").request.size, 10000u);
  const Error error = Refused(R"({"from":9991,"size":10})");
  EXPECT_EQ(error.code, "illegal_argument_exception");
  EXPECT_EQ(error.message,
            "Result window is too large, from + size must be less than or equal to: [10000] but "
            "was [10001]. See the scroll api for a more efficient way to request large data "
            "sets. This limit can be set by changing the [index.max_result_window] index level "
            "setting.");
  EXPECT_NE(Refused(R"({"size":4294967296})").message.find("[4294967296]"), std::string::npos);
  EXPECT_EQ(Refused(R"({"size":-1})").message, "[size] parameter cannot be negative, found [-1]");
}

TEST(SearchDslTest, SourceFilter) {
  EXPECT_FALSE(Parsed(R"({"_source":false})").source.Keeps("merchant"));
  SearchSourceFilter filter = Parsed(R"({"_source":"merchant"})").source;
  EXPECT_TRUE(filter.Keeps("merchant"));
  EXPECT_FALSE(filter.Keeps("amount"));
  filter = Parsed(R"({"_source":["*_id","amount"]})").source;
  EXPECT_TRUE(filter.Keeps("record_id"));
  EXPECT_TRUE(filter.Keeps("order_id"));
  EXPECT_TRUE(filter.Keeps("amount"));
  EXPECT_FALSE(filter.Keeps("account"));
  filter = Parsed(R"({"_source":{"includes":"*","excludes":["memo","occ*at","*ter*"]}})").source;
  EXPECT_TRUE(filter.Keeps("merchant"));
  EXPECT_FALSE(filter.Keeps("memo"));
  EXPECT_FALSE(filter.Keeps("occurred_at"));
  EXPECT_FALSE(filter.Keeps("counterparty"));
  EXPECT_TRUE(Parsed(R"({"_source":[]})").source.Keeps("memo"));
  EXPECT_NE(Refused(R"({"_source":{"include":["a"]}})").message.find("[include]"),
            std::string::npos);
}

TEST(SearchDslTest, Aggregations) {
  const SearchCall call = Parsed(
      R"({"aggs":{"by_merchant":{"terms":{"field":"merchant","size":3,"order":{"_key":"desc"},)"
      R"("min_doc_count":2},"aggs":{"total":{"sum":{"field":"amount"}},)"
      R"("first":{"min":{"field":"occurred_at"}}}},)"
      R"("days":{"date_histogram":{"field":"occurred_at","calendar_interval":"1d","min_doc_count":1}},)"
      R"("halves":{"date_histogram":{"field":"occurred_at","fixed_interval":"12h"}},)"
      R"("n":{"value_count":{"field":"_id"}},"a":{"avg":{"field":"amount"}},)"
      R"("m":{"max":{"field":"position"}}}})");
  const auto& aggs = call.request.aggregations;
  ASSERT_EQ(aggs.size(), 6u);
  EXPECT_EQ(aggs[0].name, "by_merchant");
  EXPECT_EQ(aggs[0].kind, SearchAggregation::Kind::kTerms);
  EXPECT_EQ(aggs[0].size, 3u);
  EXPECT_EQ(aggs[0].order, SearchAggregation::Order::kKeyDesc);
  EXPECT_EQ(aggs[0].min_doc_count, 2u);
  ASSERT_EQ(aggs[0].subs.size(), 2u);
  EXPECT_EQ(aggs[0].subs[1].kind, SearchAggregation::Kind::kMin);
  EXPECT_EQ(aggs[1].calendar, SearchAggregation::Calendar::kDay);
  EXPECT_EQ(aggs[1].min_doc_count, 1u);
  EXPECT_EQ(aggs[2].fixed_interval_ms, 12 * 3'600'000);
  EXPECT_EQ(aggs[3].field, SearchField::kRecordId);
  // "aggregations" is the long spelling; calendar and fixed intervals of every unit.
  EXPECT_EQ(
      Parsed(R"({"aggregations":{"x":{"sum":{"field":"amount"}}}})").request.aggregations.size(),
      1u);
  for (const auto& [interval, calendar, fixed_ms] :
       {std::tuple{R"("calendar_interval":"week")", SearchAggregation::Calendar::kWeek, 0LL},
        std::tuple{R"("calendar_interval":"1M")", SearchAggregation::Calendar::kMonth, 0LL},
        std::tuple{R"("calendar_interval":"year")", SearchAggregation::Calendar::kYear, 0LL},
        std::tuple{R"("calendar_interval":"1h")", SearchAggregation::Calendar::kNone, 3'600'000LL},
        std::tuple{R"("fixed_interval":"500ms")", SearchAggregation::Calendar::kNone, 500LL},
        std::tuple{R"("fixed_interval":"10s")", SearchAggregation::Calendar::kNone, 10'000LL},
        std::tuple{R"("fixed_interval":"30m")", SearchAggregation::Calendar::kNone, 1'800'000LL},
        std::tuple{R"("fixed_interval":"2d")", SearchAggregation::Calendar::kNone,
                   172'800'000LL}}) {
    const SearchCall histogram =
        Parsed(std::string(R"({"aggs":{"h":{"date_histogram":{"field":"occurred_at",)") + interval +
               "}}}}");
    ASSERT_EQ(histogram.request.aggregations.size(), 1u) << interval;
    EXPECT_EQ(histogram.request.aggregations[0].calendar, calendar) << interval;
    EXPECT_EQ(histogram.request.aggregations[0].fixed_interval_ms, fixed_ms) << interval;
  }
}

TEST(SearchDslTest, AggregationRefusals) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"x":{"terms":{"field":"memo"}}})", "fielddata=true on [memo]"},
      {R"({"x":{"sum":{"field":"merchant"}}})",
       "Field [merchant] of type [keyword] is not supported for aggregation [sum]"},
      {R"({"x":{"avg":{"field":"occurred_at"}}})", "of type [date] is not supported"},
      {R"({"x":{"date_histogram":{"field":"amount","fixed_interval":"1d"}}})",
       "of type [long] is not supported for aggregation [date_histogram]"},
      {R"({"x":{"terms":{"field":"nope"}}})", "No mapping found for [nope]"},
      {R"({"x":{"terms":{"field":"kind","size":0}}})", "[size] must be greater than 0"},
      {R"({"x":{"terms":{"field":"kind","size":65537}}})", "[size] must be between 0 and 65536"},
      {R"({"x":{"terms":{"field":"kind","shard_size":5}}})", "[shard_size]"},
      {R"({"x":{"terms":{"field":"kind","order":{"total":"desc"}}}})", "[total]"},
      {R"({"x":{"terms":{"field":"kind","include":"a.*"}}})", "[include]"},
      {R"({"x":{"cardinality":{"field":"kind"}}})", "Unknown aggregation type [cardinality]"},
      {R"({"x":{"terms":{"field":"kind"},"sum":{"field":"amount"}}})",
       "Found two aggregation type definitions in [x]: [terms] and [sum]"},
      {R"({"x":{"sum":{"field":"amount"},"aggs":{"y":{"sum":{"field":"amount"}}}}})",
       "Aggregator [x] of type [sum] cannot accept sub-aggregations"},
      {R"({"x":{"terms":{"field":"kind"},"aggs":{"y":{"terms":{"field":"asset"},)"
       R"("aggs":{"z":{"sum":{"field":"amount"}}}}}}})",
       "[y] is a sub-aggregation and may not have sub-aggregations of its own"},
      {R"({"x":{"date_histogram":{"field":"occurred_at"}}})", "Invalid interval specified"},
      {R"({"x":{"date_histogram":{"field":"occurred_at","calendar_interval":"2d"}}})",
       "The supplied interval [2d] could not be parsed as a calendar interval"},
      {R"({"x":{"date_histogram":{"field":"occurred_at","fixed_interval":"1M"}}})",
       "with value [1M] as a time value"},
      {R"({"x":{"date_histogram":{"field":"occurred_at","fixed_interval":"1d","calendar_interval":"1d"}}})",
       "Cannot use [fixed_interval] with [calendar_interval]"},
      {R"({"x":{"date_histogram":{"field":"occurred_at","fixed_interval":"1d","time_zone":"+01:00"}}})",
       "[time_zone]"},
      {R"({"x":{"date_histogram":{"field":"occurred_at","interval":"1d"}}})", "[interval]"},
      {R"({"x":{"max":{"field":"amount","missing":0}}})", "[missing]"},
      {R"({"x":{"sum":{"script":"doc.amount"}}})", "[script]"},
      {R"({"a>b":{"sum":{"field":"amount"}}})", "Invalid aggregation name [a>b]"},
  };
  for (const auto& [aggs, expected] : cases) {
    const Error error = Refused(R"({"aggs":)" + aggs + "}");
    EXPECT_EQ(error.kind, ErrorKind::kInvalidArgument) << aggs;
    EXPECT_NE(error.message.find(expected), std::string::npos) << aggs << " -> " << error.message;
  }
}

TEST(SearchDslTest, Limits) {
  // Terms values.
  std::string values;
  for (std::size_t i = 0; i <= kSearchTermsMax; ++i)
    values += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  Error error = Refused(R"({"query":{"terms":{"kind":[)" + values + "]}}}");
  EXPECT_NE(error.message.find("[65537] used in the Terms Query request has exceeded the allowed "
                               "maximum of [65536]"),
            std::string::npos)
      << error.message;
  // Clauses: 1 bool + 1023 leaves is fine, one more is not.
  auto bool_of = [](std::size_t leaves) {
    std::string body = R"({"query":{"bool":{"filter":[)";
    for (std::size_t i = 0; i < leaves; ++i)
      body += std::string(i ? "," : "") + R"({"match_all":{}})";
    return body + "]}}}";
  };
  EXPECT_TRUE(ParseSearch(SearchIndexId::kEntries, bool_of(kSearchClausesMax - 1), {}).has_value());
  EXPECT_EQ(Refused(bool_of(kSearchClausesMax)).code, "too_many_clauses");
  // JSON depth: 64 levels are fine, 65 are not (iterative: a deeper body cannot crash).
  auto nested = [](std::size_t depth) {
    return R"({"query":)" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
  };
  EXPECT_NE(ParseSearchJson(nested(kSearchJsonDepthMax)).has_value(), false);
  error = ParseSearchJson(nested(kSearchJsonDepthMax + 1)).error();
  EXPECT_NE(error.message.find("deeper than 64"), std::string::npos) << error.message;
  EXPECT_FALSE(ParseSearchJson(std::string(500'000, '[') + std::string(500'000, ']')).has_value());
  // Body size.
  const std::string large =
      R"({"query":{"term":{"ref":")" + std::string(kSearchBodyBytesMax, 'x') + "\"}}}";
  EXPECT_EQ(ParseSearchJson(large).error().kind, ErrorKind::kTooLarge);
  // Aggregations: kSearchAggregationsMax in all.
  std::string aggs = R"({"aggs":{)";
  for (std::size_t i = 0; i <= kSearchAggregationsMax; ++i) {
    aggs += (i ? ",\"a" : "\"a") + std::to_string(i) + R"(":{"sum":{"field":"amount"}})";
  }
  EXPECT_NE(Refused(aggs + "}}").message.find("too many aggregations: more than 100"),
            std::string::npos);
}

// Every key, clause, option and parameter outside the supported set is refused, naming it.
TEST(SearchDslTest, EverythingElseIsRefusedByName) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"highlight":{"fields":{"memo":{}}}})", "[highlight]"},
      {R"({"script_fields":{}})", "[script_fields]"},
      {R"({"timeout":"1s"})", "[timeout]"},
      {R"({"min_score":1})", "[min_score]"},
      {R"({"post_filter":{"match_all":{}}})", "[post_filter]"},
      {R"({"collapse":{"field":"kind"}})", "[collapse]"},
      {R"({"explain":true})", "[explain]"},
      {R"({"docvalue_fields":["kind"]})", "[docvalue_fields]"},
      {R"({"query":{"query_string":{"query":"x"}}})", "unknown query [query_string]"},
      {R"({"query":{"wildcard":{"kind":"a*"}}})", "unknown query [wildcard]"},
      {R"({"query":{"ids":{"values":["1.0"]}}})", "unknown query [ids]"},
      {R"({"query":{"script":{"script":"true"}}})", "unknown query [script]"},
      {R"({"query":{"match":{"memo":{"query":"x","fuzziness":"AUTO"}}}})", "[fuzziness]"},
      {R"({"query":{"match":{"memo":{"query":"x","minimum_should_match":1}}}})",
       "[minimum_should_match]"},
      {R"({"query":{"match":{"memo":{"query":"x","analyzer":"standard"}}}})", "[analyzer]"},
      {R"({"query":{"term":{"kind":{"value":"x","case_insensitive":true}}}})",
       "[case_insensitive]"},
      {R"({"query":{"range":{"occurred_at":{"gte":"2026-11-01","time_zone":"+01:00"}}}})",
       "[time_zone]"},
      {R"({"query":{"range":{"occurred_at":{"gte":"01/11/2026","format":"dd/MM/yyyy"}}}})",
       "[format]"},
      {R"({"query":{"range":{"amount":{"from":1}}}})", "[from]"},
      {R"({"query":{"bool":{"must":[],"_name":"x"}}})", "[_name]"},
      {R"({"query":{"bool":{"should":[],"adjust_pure_negative":true}}})", "[adjust_pure_negative]"},
      {R"({"query":{"terms":{"kind":{"index":"i","id":"1","path":"p"}}}})", "[kind]"},
      {R"({"query":{"terms":{"memo":["a"]}}})", "text field [memo]"},
      {R"({"query":{"prefix":{"memo":"a"}}})", "text field [memo]"},
      {R"({"query":{"range":{"memo":{"gte":"a"}}}})", "text field [memo]"},
      {R"({"query":{"exists":{"field":"kind","x":1}}})", "[x]"},
      {R"({"query":{"term":{"kind":"a","ref":"b"}}})",
       "[term] query doesn't support multiple fields, found [kind] and [ref]"},
      {R"({"query":{"term":{"kind":"a"},"match_all":{}}})", "[term] malformed query"},
      {R"({"query":{}})", "query malformed, empty clause found"},
      {R"({"query":[]})", "must start with start_object"},
      {R"({"query":{"match_all":{}},"query2":1})", "Unknown key for a VALUE_NUMBER in [query2]."},
      {R"({"size":1.5})", "[size] must be an integer"},
      {R"({"track_scores":"yes"})", "[track_scores]"},
      {R"({"query":{"term":{"amount":1.5}}})", "long field [amount]"},
      {R"({"query":{"term":{"amount":{"value":1,"boost":-1}}}})", "negative [boost]"},
      {R"({"query":{"match_all":{}},"query":{"match_all":{}}})", "Duplicate field 'query'"},
      {R"({"query":{"match_all":{})", "Failed to parse the request body"},
      {R"([1])", "Expected [START_OBJECT]"},
      {"{\"query\":{\"term\":{\"kind\":\"\xff\"}}}", "Failed to parse the request body"},
  };
  for (const auto& [body, expected] : cases) {
    const Error error = Refused(body);
    EXPECT_EQ(error.kind, ErrorKind::kInvalidArgument) << body;
    EXPECT_NE(error.message.find(expected), std::string::npos) << body << " -> " << error.message;
    EXPECT_TRUE(error.code == "parsing_exception" || error.code == "illegal_argument_exception" ||
                error.code == "x_content_parse_exception" || error.code == "query_shard_exception")
        << body << " -> " << error.code;
  }
}

TEST(SearchDslTest, CountBodyHoldsOnlyAQuery) {
  auto query = ParseCountBody(R"({"query":{"term":{"kind":"payout"}}})");
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->kind, Kind::kTerm);
  EXPECT_EQ(ParseCountBody("")->kind, Kind::kMatchAll);
  const auto refused = ParseCountBody(R"({"query":{"match_all":{}},"size":1})");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "request does not support [size]");
}

}  // namespace
}  // namespace ledger::transport
