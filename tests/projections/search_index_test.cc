// SearchIndex (projections/search_index.h) against an oracle written here from the documented
// semantics alone: a brute-force scan over a std::vector<SearchDocument> that shares no code with
// the engine (its own tokenizer, BM25, sort order, calendar arithmetic and aggregations).
//
// The randomized tests draw a few thousand documents with small vocabularies (terms collide),
// several documents per position, dates spread over years with calendar boundaries and a few
// before 1970, negative amounts, absent keyword fields and memos with repeated words, then check
// Count, Match and Search (hits, order, scores, sort values, windows, search_after, aggregations,
// errors) for random requests. They print their seed; LEDGER_TEST_SEED=<seed> replays one. The
// deterministic tests pin what the oracle itself could get wrong: BM25 with hand-computed
// numbers, tokenization, calendar buckets, missing-last sorting, the limits and error codes.
#include "projections/search_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/limits.h"
#include "projections/search_query.h"
#include "tests/support/temp_dir.h"

namespace ledger::projections {
namespace {

using Kind = SearchQuery::Kind;
using Aggregation = SearchAggregation;
using Docs = std::vector<std::uint32_t>;

constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr double kK1 = 1.2;
constexpr double kB = 0.75;

// --- The oracle's own view of the fields (not the engine's table). -----------------------------

struct FieldSpec {
  SearchField field;
  const char* name;
  SearchFieldType type;
};

constexpr FieldSpec kFieldSpecs[] = {
    {SearchField::kRecordId, "record_id", SearchFieldType::kKeyword},
    {SearchField::kType, "type", SearchFieldType::kKeyword},
    {SearchField::kOrderId, "order_id", SearchFieldType::kKeyword},
    {SearchField::kMerchant, "merchant", SearchFieldType::kKeyword},
    {SearchField::kAccount, "account", SearchFieldType::kKeyword},
    {SearchField::kCounterparty, "counterparty", SearchFieldType::kKeyword},
    {SearchField::kKind, "kind", SearchFieldType::kKeyword},
    {SearchField::kCategory, "category", SearchFieldType::kKeyword},
    {SearchField::kAsset, "asset", SearchFieldType::kKeyword},
    {SearchField::kRef, "ref", SearchFieldType::kKeyword},
    {SearchField::kAmount, "amount", SearchFieldType::kLong},
    {SearchField::kPosition, "position", SearchFieldType::kLong},
    {SearchField::kOccurredAt, "occurred_at", SearchFieldType::kDate},
    {SearchField::kMemo, "memo", SearchFieldType::kText},
};

const FieldSpec& SpecOf(SearchField field) {
  for (const FieldSpec& spec : kFieldSpecs) {
    if (spec.field == field) return spec;
  }
  ADD_FAILURE() << "unknown field";
  return kFieldSpecs[0];
}

bool IsKeyword(SearchField field) { return SpecOf(field).type == SearchFieldType::kKeyword; }
bool IsNumeric(SearchField field) {
  return SpecOf(field).type == SearchFieldType::kLong ||
         SpecOf(field).type == SearchFieldType::kDate;
}

// The keyword field `field` of `document` (const or not).
template <typename Document>
auto& KeywordOf(Document& document, SearchField field) {
  switch (field) {
    case SearchField::kType:
      return document.type;
    case SearchField::kOrderId:
      return document.order_id;
    case SearchField::kMerchant:
      return document.merchant;
    case SearchField::kAccount:
      return document.account;
    case SearchField::kCounterparty:
      return document.counterparty;
    case SearchField::kKind:
      return document.kind;
    case SearchField::kCategory:
      return document.category;
    case SearchField::kAsset:
      return document.asset;
    case SearchField::kRef:
      return document.ref;
    default:
      break;
  }
  EXPECT_EQ(field, SearchField::kRecordId) << "not a keyword field: " << SpecOf(field).name;
  return document.record_id;
}

// --- Time, independently of the engine: floor division and Hinnant's civil-date algorithms. ----

std::int64_t FloorDiv(std::int64_t value, std::int64_t divisor) {
  std::int64_t quotient = value / divisor;
  if (value % divisor != 0 && (value < 0) != (divisor < 0)) --quotient;
  return quotient;
}

std::int64_t FloorMod(std::int64_t value, std::int64_t divisor) {
  return value - FloorDiv(value, divisor) * divisor;
}

std::int64_t DaysFromCivil(std::int64_t year, std::int64_t month, std::int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = FloorDiv(year, 400);
  const std::int64_t year_of_era = year - era * 400;
  const std::int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146'097 + day_of_era - 719'468;
}

struct Civil {
  std::int64_t year, month, day;
};

Civil CivilFromDays(std::int64_t days) {
  days += 719'468;
  const std::int64_t era = FloorDiv(days, 146'097);
  const std::int64_t day_of_era = days - era * 146'097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t shifted_month = (5 * day_of_year + 2) / 153;
  const std::int64_t day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const std::int64_t month = shifted_month + (shifted_month < 10 ? 3 : -9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

// Microseconds since the epoch of a UTC civil time.
std::int64_t UtcUs(std::int64_t year, std::int64_t month, std::int64_t day, std::int64_t hour = 0,
                   std::int64_t minute = 0, std::int64_t second = 0) {
  return ((DaysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60'000'000 +
         second * 1'000'000;
}

std::int64_t UtcMs(std::int64_t year, std::int64_t month, std::int64_t day) {
  return DaysFromCivil(year, month, day) * kDayMs;
}

std::int64_t BucketStartOf(const Aggregation& aggregation, std::int64_t ms) {
  if (aggregation.calendar == Aggregation::Calendar::kNone) {
    return FloorDiv(ms, aggregation.fixed_interval_ms) * aggregation.fixed_interval_ms;
  }
  const std::int64_t days = FloorDiv(ms, kDayMs);
  const Civil civil = CivilFromDays(days);
  switch (aggregation.calendar) {
    case Aggregation::Calendar::kDay:
      return days * kDayMs;
    case Aggregation::Calendar::kWeek:
      // 1970-01-01 was a Thursday: 3 days after a Monday.
      return (days - FloorMod(days + 3, 7)) * kDayMs;
    case Aggregation::Calendar::kMonth:
      return DaysFromCivil(civil.year, civil.month, 1) * kDayMs;
    case Aggregation::Calendar::kYear:
      return DaysFromCivil(civil.year, 1, 1) * kDayMs;
    case Aggregation::Calendar::kNone:
      break;
  }
  return 0;
}

std::int64_t NextBucketStart(const Aggregation& aggregation, std::int64_t start) {
  const Civil civil = CivilFromDays(FloorDiv(start, kDayMs));
  switch (aggregation.calendar) {
    case Aggregation::Calendar::kNone:
      return start + aggregation.fixed_interval_ms;
    case Aggregation::Calendar::kDay:
      return start + kDayMs;
    case Aggregation::Calendar::kWeek:
      return start + 7 * kDayMs;
    case Aggregation::Calendar::kMonth:
      return civil.month == 12 ? UtcMs(civil.year + 1, 1, 1)
                               : UtcMs(civil.year, civil.month + 1, 1);
    case Aggregation::Calendar::kYear:
      return UtcMs(civil.year + 1, 1, 1);
  }
  return 0;
}

// --- Tokens: runs of ASCII letters/digits and non-ASCII bytes, ASCII lower-cased, cut to 255
// bytes at a UTF-8 character boundary. ------------------------------------------------------

std::vector<std::string> OracleTokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  auto flush = [&] {
    if (current.empty()) return;
    if (current.size() > 255) {
      std::size_t cut = 255;
      while (cut > 0 && (static_cast<unsigned char>(current[cut]) & 0xC0) == 0x80) --cut;
      current.resize(cut);
    }
    tokens.push_back(current);
    current.clear();
  };
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 'A' && byte <= 'Z') {
      current.push_back(static_cast<char>(byte + ('a' - 'A')));
    } else if ((byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') || byte >= 0x80) {
      current.push_back(c);
    } else {
      flush();
    }
  }
  flush();
  return tokens;
}

// --- Describing requests, for failure messages (a DSL-like rendering). -------------------------

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string Describe(const SearchQuery& query);

std::string DescribeClauses(const char* name, const std::vector<SearchQuery>& clauses) {
  if (clauses.empty()) return "";
  std::string out = std::string("\"") + name + "\":[";
  for (std::size_t i = 0; i < clauses.size(); ++i) out += (i ? "," : "") + Describe(clauses[i]);
  return out + "],";
}

std::string Describe(const SearchQuery& query) {
  const std::string field = Quote(SpecOf(query.field).name);
  std::string boost = query.boost != 1.0 ? ",\"boost\":" + std::to_string(query.boost) : "";
  std::ostringstream out;
  switch (query.kind) {
    case Kind::kMatchAll:
      out << "{\"match_all\":{" << boost << "}}";
      break;
    case Kind::kMatchNone:
      out << "{\"match_none\":{}}";
      break;
    case Kind::kTerm:
    case Kind::kTerms: {
      out << (query.kind == Kind::kTerm ? "{\"term\":{" : "{\"terms\":{") << field << ":[";
      for (const std::string& keyword : query.keywords) out << Quote(keyword) << ",";
      for (const std::int64_t number : query.numbers) out << number << ",";
      out << "]" << boost << "}}";
      break;
    }
    case Kind::kRange:
      out << "{\"range\":{" << field << ":{";
      if (query.gt) out << "\"gt\":" << *query.gt << ",";
      if (query.gte) out << "\"gte\":" << *query.gte << ",";
      if (query.lt) out << "\"lt\":" << *query.lt << ",";
      if (query.lte) out << "\"lte\":" << *query.lte << ",";
      if (query.gt_keyword) out << "\"gt\":" << Quote(*query.gt_keyword) << ",";
      if (query.gte_keyword) out << "\"gte\":" << Quote(*query.gte_keyword) << ",";
      if (query.lt_keyword) out << "\"lt\":" << Quote(*query.lt_keyword) << ",";
      if (query.lte_keyword) out << "\"lte\":" << Quote(*query.lte_keyword) << ",";
      out << "}" << boost << "}}";
      break;
    case Kind::kMatch:
      out << "{\"match\":{" << field << ":{\"query\":" << Quote(query.text)
          << ",\"operator\":" << (query.match_all_tokens ? "\"and\"" : "\"or\"") << boost << "}}}";
      break;
    case Kind::kPrefix:
      out << "{\"prefix\":{" << field << ":" << Quote(query.keywords.at(0)) << boost << "}}";
      break;
    case Kind::kExists:
      out << "{\"exists\":{\"field\":" << field << boost << "}}";
      break;
    case Kind::kBool:
      out << "{\"bool\":{" << DescribeClauses("must", query.must)
          << DescribeClauses("filter", query.filter) << DescribeClauses("should", query.should)
          << DescribeClauses("must_not", query.must_not);
      if (query.minimum_should_match) {
        out << "\"minimum_should_match\":" << *query.minimum_should_match;
      }
      out << boost << "}}";
      break;
  }
  return out.str();
}

std::string Describe(const SearchValue& value) {
  if (std::holds_alternative<std::monostate>(value)) return "null";
  if (const auto* number = std::get_if<std::int64_t>(&value)) return std::to_string(*number);
  if (const auto* real = std::get_if<double>(&value)) {
    std::ostringstream out;
    out.precision(17);
    out << *real << "d";
    return out.str();
  }
  return Quote(std::get<std::string>(value));
}

std::string Describe(const SearchSort& key) {
  std::string name = key.kind == SearchSort::Kind::kScore ? "_score"
                     : key.kind == SearchSort::Kind::kDoc ? "_doc"
                                                          : SpecOf(key.field).name;
  return "{\"" + name + "\":\"" + (key.descending ? "desc" : "asc") + "\"}";
}

std::string Describe(const Aggregation& aggregation) {
  static const char* kKinds[] = {"terms", "sum",         "avg",           "min",
                                 "max",   "value_count", "date_histogram"};
  std::ostringstream out;
  out << Quote(aggregation.name) << ":{" << Quote(kKinds[static_cast<int>(aggregation.kind)])
      << ":{\"field\":" << Quote(SpecOf(aggregation.field).name);
  if (aggregation.kind == Aggregation::Kind::kTerms) {
    static const char* kOrders[] = {"_count desc", "_count asc", "_key asc", "_key desc"};
    out << ",\"size\":" << aggregation.size << ",\"order\":\""
        << kOrders[static_cast<int>(aggregation.order)] << "\"";
  }
  if (aggregation.kind == Aggregation::Kind::kDateHistogram) {
    static const char* kCalendars[] = {"none", "day", "week", "month", "year"};
    if (aggregation.calendar != Aggregation::Calendar::kNone) {
      out << ",\"calendar_interval\":\"" << kCalendars[static_cast<int>(aggregation.calendar)]
          << "\"";
    } else {
      out << ",\"fixed_interval\":\"" << aggregation.fixed_interval_ms << "ms\"";
    }
  }
  if (aggregation.min_doc_count) out << ",\"min_doc_count\":" << *aggregation.min_doc_count;
  out << "}";
  if (!aggregation.subs.empty()) {
    out << ",\"aggs\":{";
    for (const Aggregation& sub : aggregation.subs) out << Describe(sub) << ",";
    out << "}";
  }
  out << "}";
  return out.str();
}

std::string Describe(const SearchRequest& request) {
  std::ostringstream out;
  out << "{\"query\":" << Describe(request.query) << ",\"from\":" << request.from
      << ",\"size\":" << request.size << ",\"sort\":[";
  for (const SearchSort& key : request.sort) out << Describe(key) << ",";
  out << "]";
  if (!request.search_after.empty()) {
    out << ",\"search_after\":[";
    for (const SearchValue& value : request.search_after) out << Describe(value) << ",";
    out << "]";
  }
  if (request.track_scores) out << ",\"track_scores\":true";
  if (!request.aggregations.empty()) {
    out << ",\"aggs\":{";
    for (const Aggregation& aggregation : request.aggregations) {
      out << Describe(aggregation) << ",";
    }
    out << "}";
  }
  out << "}";
  return out.str();
}

// --- The oracle. ---------------------------------------------------------------------------

class Oracle {
 public:
  explicit Oracle(std::vector<SearchDocument> documents) : documents_(std::move(documents)) {
    for (const SearchDocument& document : documents_) {
      const std::int64_t us = document.occurred_at_us;
      milliseconds_.push_back(FloorDiv(us, 1000));
      tokens_.push_back(OracleTokens(document.memo));
      const std::vector<std::string>& tokens = tokens_.back();
      if (!tokens.empty()) ++field_documents_;
      total_tokens_ += tokens.size();
      std::set<std::string> distinct(tokens.begin(), tokens.end());
      for (const std::string& token : distinct) ++document_frequency_[token];
    }
  }

  [[nodiscard]] std::uint32_t Size() const { return static_cast<std::uint32_t>(documents_.size()); }
  [[nodiscard]] const SearchDocument& Document(std::uint32_t doc) const { return documents_[doc]; }
  [[nodiscard]] const std::vector<std::string>& Tokens(std::uint32_t doc) const {
    return tokens_[doc];
  }

  [[nodiscard]] std::int64_t NumberOf(SearchField field, std::uint32_t doc) const {
    switch (field) {
      case SearchField::kAmount:
        return documents_[doc].amount;
      case SearchField::kPosition:
        return documents_[doc].position;
      case SearchField::kOccurredAt:
        return milliseconds_[doc];
      default:
        break;
    }
    ADD_FAILURE() << "not a numeric field: " << SpecOf(field).name;
    return 0;
  }

  // Whether `field` has a value in `doc` (exists).
  [[nodiscard]] bool Present(SearchField field, std::uint32_t doc) const {
    if (field == SearchField::kMemo) return !tokens_[doc].empty();
    if (IsKeyword(field)) return !KeywordOf(documents_[doc], field).empty();
    return true;
  }

  [[nodiscard]] bool Matches(const SearchQuery& query, std::uint32_t doc) const {
    switch (query.kind) {
      case Kind::kMatchAll:
        return true;
      case Kind::kMatchNone:
        return false;
      case Kind::kTerm:
      case Kind::kTerms:
        if (IsKeyword(query.field)) {
          const std::string& value = KeywordOf(documents_[doc], query.field);
          return !value.empty() && std::find(query.keywords.begin(), query.keywords.end(), value) !=
                                       query.keywords.end();
        }
        return std::find(query.numbers.begin(), query.numbers.end(), NumberOf(query.field, doc)) !=
               query.numbers.end();
      case Kind::kRange:
        return MatchesRange(query, doc);
      case Kind::kMatch:
        return MatchesText(query, doc);
      case Kind::kPrefix: {
        const std::string& value = KeywordOf(documents_[doc], query.field);
        return !value.empty() && value.starts_with(query.keywords.at(0));
      }
      case Kind::kExists:
        return Present(query.field, doc);
      case Kind::kBool:
        return MatchesBool(query, doc);
    }
    return false;
  }

  [[nodiscard]] Docs MatchAll(const SearchQuery& query) const {
    Docs matched;
    for (std::uint32_t doc = 0; doc < Size(); ++doc) {
      if (Matches(query, doc)) matched.push_back(doc);
    }
    return matched;
  }

  // The score of a document `query` matches.
  [[nodiscard]] double Score(const SearchQuery& query, std::uint32_t doc) const {
    switch (query.kind) {
      case Kind::kMatch:
        return query.boost * Bm25(query.text, doc);
      case Kind::kBool: {
        // Elasticsearch rewrites a bool without clauses to match_all, which scores 1 x boost.
        if (query.must.empty() && query.filter.empty() && query.should.empty() &&
            query.must_not.empty()) {
          return query.boost;
        }
        double score = 0;
        for (const SearchQuery& clause : query.must) score += Score(clause, doc);
        for (const SearchQuery& clause : query.should) {
          if (Matches(clause, doc)) score += Score(clause, doc);
        }
        return query.boost * score;
      }
      case Kind::kMatchNone:
        return 0;
      default:
        return query.boost;
    }
  }

  // Lucene 8's BM25 of the memo field: per query token (repeats included) present in the doc,
  // idf * tf / (tf + k1 * (1 - b + b * dl / avgdl)).
  [[nodiscard]] double Bm25(std::string_view text, std::uint32_t doc) const {
    if (field_documents_ == 0) return 0;
    const auto field_documents = static_cast<double>(field_documents_);
    const double average_length = static_cast<double>(total_tokens_) / field_documents;
    const auto length = static_cast<double>(tokens_[doc].size());
    double score = 0;
    for (const std::string& token : OracleTokens(text)) {
      const auto frequency =
          static_cast<double>(std::count(tokens_[doc].begin(), tokens_[doc].end(), token));
      if (frequency == 0) continue;
      const auto with_token = static_cast<double>(document_frequency_.at(token));
      const double idf = std::log(1 + (field_documents - with_token + 0.5) / (with_token + 0.5));
      score += idf * frequency / (frequency + kK1 * (1 - kB + kB * length / average_length));
    }
    return score;
  }

  [[nodiscard]] SearchValue SortValue(const SearchSort& key, std::uint32_t doc,
                                      const std::vector<double>& scores) const {
    switch (key.kind) {
      case SearchSort::Kind::kScore:
        return scores[doc];
      case SearchSort::Kind::kDoc:
        return std::int64_t{doc};
      case SearchSort::Kind::kField:
        break;
    }
    if (IsNumeric(key.field)) return NumberOf(key.field, doc);
    const std::string& value = KeywordOf(documents_[doc], key.field);
    if (value.empty()) return std::monostate();
    return value;
  }

  // <0, 0, >0: `a` sorts before, with, after `b` under `key`. Missing values sort last in both
  // directions.
  static int CompareValues(const SearchSort& key, const SearchValue& a, const SearchValue& b) {
    const bool a_missing = std::holds_alternative<std::monostate>(a);
    const bool b_missing = std::holds_alternative<std::monostate>(b);
    if (a_missing && b_missing) return 0;
    if (a_missing) return 1;
    if (b_missing) return -1;
    int order = 0;
    if (std::holds_alternative<std::string>(a)) {
      const std::string& x = std::get<std::string>(a);
      const std::string& y = std::get<std::string>(b);
      order = x < y ? -1 : (y < x ? 1 : 0);
    } else if (std::holds_alternative<std::int64_t>(a) && std::holds_alternative<std::int64_t>(b)) {
      const std::int64_t x = std::get<std::int64_t>(a), y = std::get<std::int64_t>(b);
      order = x < y ? -1 : (y < x ? 1 : 0);
    } else {
      auto real = [](const SearchValue& v) {
        return std::holds_alternative<double>(v) ? std::get<double>(v)
                                                 : static_cast<double>(std::get<std::int64_t>(v));
      };
      order = real(a) < real(b) ? -1 : (real(b) < real(a) ? 1 : 0);
    }
    return key.descending ? -order : order;
  }

  [[nodiscard]] Result<SearchResult> Search(const SearchRequest& request) const;

  // Every present value of `field` in the index (for terms with min_doc_count 0).
  [[nodiscard]] std::set<SearchValue> IndexedValues(SearchField field) const {
    std::set<SearchValue> values;
    for (std::uint32_t doc = 0; doc < Size(); ++doc) {
      if (IsKeyword(field)) {
        if (Present(field, doc)) values.insert(KeywordOf(documents_[doc], field));
      } else {
        values.insert(NumberOf(field, doc));
      }
    }
    return values;
  }

 private:
  [[nodiscard]] bool MatchesRange(const SearchQuery& query, std::uint32_t doc) const {
    if (IsKeyword(query.field)) {
      const std::string& value = KeywordOf(documents_[doc], query.field);
      if (value.empty()) return false;
      return (!query.gt_keyword || value > *query.gt_keyword) &&
             (!query.gte_keyword || value >= *query.gte_keyword) &&
             (!query.lt_keyword || value < *query.lt_keyword) &&
             (!query.lte_keyword || value <= *query.lte_keyword);
    }
    const std::int64_t value = NumberOf(query.field, doc);
    return (!query.gt || value > *query.gt) && (!query.gte || value >= *query.gte) &&
           (!query.lt || value < *query.lt) && (!query.lte || value <= *query.lte);
  }

  [[nodiscard]] bool MatchesText(const SearchQuery& query, std::uint32_t doc) const {
    const std::vector<std::string> wanted = OracleTokens(query.text);
    if (wanted.empty()) return false;
    const std::vector<std::string>& have = tokens_[doc];
    auto has = [&have](const std::string& token) {
      return std::find(have.begin(), have.end(), token) != have.end();
    };
    return query.match_all_tokens ? std::all_of(wanted.begin(), wanted.end(), has)
                                  : std::any_of(wanted.begin(), wanted.end(), has);
  }

  // Elasticsearch's bool: a bool without clauses matches everything; minimum_should_match
  // counts matching should clauses, so one above their number matches nothing (with no should
  // clause at all too).
  [[nodiscard]] bool MatchesBool(const SearchQuery& query, std::uint32_t doc) const {
    if (query.must.empty() && query.filter.empty() && query.should.empty() &&
        query.must_not.empty()) {
      return true;
    }
    auto matches = [&](const SearchQuery& clause) { return Matches(clause, doc); };
    if (!std::all_of(query.must.begin(), query.must.end(), matches)) return false;
    if (!std::all_of(query.filter.begin(), query.filter.end(), matches)) return false;
    if (std::any_of(query.must_not.begin(), query.must_not.end(), matches)) return false;
    const std::uint32_t minimum = query.minimum_should_match.value_or(
        !query.should.empty() && query.must.empty() && query.filter.empty() ? 1 : 0);
    const auto matched_should = static_cast<std::uint32_t>(
        std::count_if(query.should.begin(), query.should.end(), matches));
    return matched_should >= minimum;
  }

  std::vector<SearchDocument> documents_;
  std::vector<std::int64_t> milliseconds_;
  std::vector<std::vector<std::string>> tokens_;
  std::uint64_t field_documents_ = 0;
  std::uint64_t total_tokens_ = 0;
  std::map<std::string, std::uint64_t> document_frequency_;
};

// Aggregations over a set of documents; counts the buckets built.
class AggregationOracle {
 public:
  explicit AggregationOracle(const Oracle& oracle) : oracle_(oracle) {}

  [[nodiscard]] std::size_t Buckets() const { return buckets_; }

  SearchAggregationResult Run(const Aggregation& aggregation, const Docs& docs) {
    SearchAggregationResult result;
    result.name = aggregation.name;
    result.kind = aggregation.kind;
    result.field_type = SpecOf(aggregation.field).type;
    switch (aggregation.kind) {
      case Aggregation::Kind::kTerms:
        Terms(aggregation, docs, &result);
        break;
      case Aggregation::Kind::kDateHistogram:
        DateHistogram(aggregation, docs, &result);
        break;
      default:
        Metric(aggregation, docs, &result);
        break;
    }
    return result;
  }

 private:
  SearchValue KeyOf(const Aggregation& aggregation, std::uint32_t doc) const {
    if (IsKeyword(aggregation.field)) return KeywordOf(oracle_.Document(doc), aggregation.field);
    return oracle_.NumberOf(aggregation.field, doc);
  }

  void Subs(const Aggregation& aggregation, const std::map<SearchValue, Docs>& groups,
            SearchAggregationResult* result) {
    for (SearchBucket& bucket : result->buckets) {
      const auto it = groups.find(bucket.key);
      const Docs empty;
      for (const Aggregation& sub : aggregation.subs) {
        bucket.subs.push_back(Run(sub, it == groups.end() ? empty : it->second));
      }
    }
  }

  void Terms(const Aggregation& aggregation, const Docs& docs, SearchAggregationResult* result) {
    std::map<SearchValue, Docs> groups;
    std::uint64_t with_value = 0;
    for (const std::uint32_t doc : docs) {
      if (!oracle_.Present(aggregation.field, doc)) continue;
      groups[KeyOf(aggregation, doc)].push_back(doc);
      ++with_value;
    }
    const std::uint64_t min_doc_count = aggregation.min_doc_count.value_or(1);
    if (min_doc_count == 0) {
      for (const SearchValue& value : oracle_.IndexedValues(aggregation.field)) groups[value];
    }
    std::vector<SearchBucket> buckets;
    for (const auto& [key, members] : groups) {
      if (members.size() >= min_doc_count) buckets.push_back({key, members.size(), {}});
    }
    auto key_less = [](const SearchBucket& a, const SearchBucket& b) { return a.key < b.key; };
    std::stable_sort(buckets.begin(), buckets.end(), key_less);  // Ties: key ascending.
    std::stable_sort(buckets.begin(), buckets.end(),
                     [&](const SearchBucket& a, const SearchBucket& b) {
                       switch (aggregation.order) {
                         case Aggregation::Order::kCountDesc:
                           return a.doc_count > b.doc_count;
                         case Aggregation::Order::kCountAsc:
                           return a.doc_count < b.doc_count;
                         case Aggregation::Order::kKeyAsc:
                           return a.key < b.key;
                         case Aggregation::Order::kKeyDesc:
                           return b.key < a.key;
                       }
                       return false;
                     });
    if (buckets.size() > aggregation.size) buckets.resize(aggregation.size);
    std::uint64_t shown = 0;
    for (const SearchBucket& bucket : buckets) shown += bucket.doc_count;
    result->sum_other_doc_count = with_value - shown;
    buckets_ += buckets.size();
    result->buckets = std::move(buckets);
    Subs(aggregation, groups, result);
  }

  void DateHistogram(const Aggregation& aggregation, const Docs& docs,
                     SearchAggregationResult* result) {
    std::map<SearchValue, Docs> groups;
    for (const std::uint32_t doc : docs) {
      groups[BucketStartOf(aggregation, oracle_.NumberOf(aggregation.field, doc))].push_back(doc);
    }
    if (groups.empty()) return;
    const std::uint64_t min_doc_count = aggregation.min_doc_count.value_or(0);
    if (min_doc_count > 0) {
      for (const auto& [key, members] : groups) {
        if (members.size() >= min_doc_count) result->buckets.push_back({key, members.size(), {}});
      }
    } else {
      const std::int64_t last = std::get<std::int64_t>(groups.rbegin()->first);
      for (std::int64_t start = std::get<std::int64_t>(groups.begin()->first); start <= last;
           start = NextBucketStart(aggregation, start)) {
        const auto it = groups.find(start);
        result->buckets.push_back({start, it == groups.end() ? 0 : it->second.size(), {}});
        // A runaway fill would be an oracle bug; the engine refuses past the limit anyway.
        if (result->buckets.size() > 2 * kSearchBucketsMax) break;
      }
    }
    buckets_ += result->buckets.size();
    Subs(aggregation, groups, result);
  }

  void Metric(const Aggregation& aggregation, const Docs& docs, SearchAggregationResult* result) {
    if (aggregation.kind == Aggregation::Kind::kValueCount) {
      std::int64_t values = 0;
      for (const std::uint32_t doc : docs) values += oracle_.Present(aggregation.field, doc);
      result->integer_value = values;
      return;
    }
    __int128 sum = 0;
    std::optional<std::int64_t> low, high;
    for (const std::uint32_t doc : docs) {
      const std::int64_t value = oracle_.NumberOf(aggregation.field, doc);
      sum += value;
      low = low ? std::min(*low, value) : value;
      high = high ? std::max(*high, value) : value;
    }
    switch (aggregation.kind) {
      case Aggregation::Kind::kSum:
        result->integer_value = static_cast<std::int64_t>(sum);  // Test data stays in range.
        break;
      case Aggregation::Kind::kAvg:
        if (!docs.empty()) {
          result->double_value = static_cast<double>(sum) / static_cast<double>(docs.size());
        }
        break;
      case Aggregation::Kind::kMin:
        result->integer_value = low;
        break;
      case Aggregation::Kind::kMax:
        result->integer_value = high;
        break;
      default:
        ADD_FAILURE() << "not a metric";
    }
  }

  const Oracle& oracle_;
  std::size_t buckets_ = 0;
};

// Whether `value` can stand for sort key `key` in search_after.
bool FitsSortKey(const SearchSort& key, const SearchValue& value) {
  switch (key.kind) {
    case SearchSort::Kind::kScore:
      return std::holds_alternative<double>(value) || std::holds_alternative<std::int64_t>(value);
    case SearchSort::Kind::kDoc:
      return std::holds_alternative<std::int64_t>(value);
    case SearchSort::Kind::kField:
      break;
  }
  if (IsKeyword(key.field)) {
    return std::holds_alternative<std::string>(value) ||
           std::holds_alternative<std::monostate>(value);
  }
  return std::holds_alternative<std::int64_t>(value);
}

Result<SearchResult> Oracle::Search(const SearchRequest& request) const {
  if (!request.search_after.empty()) {
    bool fits = request.search_after.size() == request.sort.size();
    for (std::size_t i = 0; fits && i < request.sort.size(); ++i) {
      fits = FitsSortKey(request.sort[i], request.search_after[i]);
    }
    if (!fits) return Fail(ErrorKind::kInvalidArgument, "invalid_search_after", "");
  }
  const Docs matched = MatchAll(request.query);
  SearchResult result;
  result.total = matched.size();
  AggregationOracle aggregations(*this);
  for (const Aggregation& aggregation : request.aggregations) {
    result.aggregations.push_back(aggregations.Run(aggregation, matched));
  }
  if (aggregations.Buckets() > kSearchBucketsMax) {
    return Fail(ErrorKind::kInvalidArgument, "too_many_buckets", "");
  }
  const bool by_score =
      request.sort.empty() ||
      std::any_of(request.sort.begin(), request.sort.end(),
                  [](const SearchSort& key) { return key.kind == SearchSort::Kind::kScore; });
  const bool with_scores = by_score || request.track_scores;
  std::vector<double> scores(Size(), 0.0);
  if (with_scores) {
    for (const std::uint32_t doc : matched) scores[doc] = Score(request.query, doc);
    if (!matched.empty()) {
      result.max_score = scores[matched[0]];
      for (const std::uint32_t doc : matched)
        result.max_score = std::max(*result.max_score, scores[doc]);
    }
  }
  std::vector<SearchSort> keys = request.sort;
  if (keys.empty()) keys.push_back({.kind = SearchSort::Kind::kScore, .descending = true});
  auto compare_docs = [&](std::uint32_t a, std::uint32_t b) {
    for (const SearchSort& key : keys) {
      const int order = CompareValues(key, SortValue(key, a, scores), SortValue(key, b, scores));
      if (order != 0) return order < 0;
    }
    return a < b;
  };
  Docs ordered;
  for (const std::uint32_t doc : matched) {
    bool after = true;
    if (!request.search_after.empty()) {
      int order = 0;
      for (std::size_t i = 0; i < keys.size() && order == 0; ++i) {
        order = CompareValues(keys[i], SortValue(keys[i], doc, scores), request.search_after[i]);
      }
      after = order > 0;
    }
    if (after) ordered.push_back(doc);
  }
  std::sort(ordered.begin(), ordered.end(), compare_docs);
  const std::size_t end =
      std::min<std::size_t>(ordered.size(), std::size_t{request.from} + request.size);
  for (std::size_t i = request.from; i < end; ++i) {
    SearchHit hit;
    hit.doc = ordered[i];
    if (with_scores) hit.score = scores[hit.doc];
    for (const SearchSort& key : request.sort) hit.sort.push_back(SortValue(key, hit.doc, scores));
    result.hits.push_back(std::move(hit));
  }
  return result;
}

// --- Comparing results: the first difference as text, "" when equal. --------------------------

bool Near(double a, double b) { return std::fabs(a - b) <= 1e-9 * std::max(1.0, std::fabs(a)); }

std::string DiffValue(const SearchValue& expected, const SearchValue& actual) {
  if (expected.index() != actual.index() ||
      (std::holds_alternative<double>(expected)
           ? !Near(std::get<double>(expected), std::get<double>(actual))
           : expected != actual)) {
    return "expected " + Describe(expected) + ", got " + Describe(actual);
  }
  return "";
}

std::string DiffOptional(const std::optional<double>& expected,
                         const std::optional<double>& actual) {
  if (expected.has_value() != actual.has_value() || (expected && !Near(*expected, *actual))) {
    auto show = [](const std::optional<double>& value) {
      return value ? Describe(SearchValue(*value)) : std::string("none");
    };
    return "expected " + show(expected) + ", got " + show(actual);
  }
  return "";
}

std::string DiffAggregations(const std::vector<SearchAggregationResult>& expected,
                             const std::vector<SearchAggregationResult>& actual,
                             const std::string& path) {
  if (expected.size() != actual.size()) {
    return path + ": expected " + std::to_string(expected.size()) + " aggregations, got " +
           std::to_string(actual.size());
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const SearchAggregationResult& e = expected[i];
    const SearchAggregationResult& a = actual[i];
    const std::string at = path + "/" + e.name;
    if (e.name != a.name || e.kind != a.kind || e.field_type != a.field_type) {
      return at + ": name, kind or field type differ (got " + a.name + ")";
    }
    if (e.integer_value != a.integer_value) {
      return at + ": integer value expected " +
             (e.integer_value ? std::to_string(*e.integer_value) : "none") + ", got " +
             (a.integer_value ? std::to_string(*a.integer_value) : "none");
    }
    if (std::string diff = DiffOptional(e.double_value, a.double_value); !diff.empty()) {
      return at + ": double value " + diff;
    }
    if (e.sum_other_doc_count != a.sum_other_doc_count) {
      return at + ": sum_other_doc_count expected " + std::to_string(e.sum_other_doc_count) +
             ", got " + std::to_string(a.sum_other_doc_count);
    }
    for (std::size_t b = 0; b < std::min(e.buckets.size(), a.buckets.size()); ++b) {
      const SearchBucket& eb = e.buckets[b];
      const SearchBucket& ab = a.buckets[b];
      const std::string bucket_at = at + "[" + std::to_string(b) + "]";
      if (std::string diff = DiffValue(eb.key, ab.key); !diff.empty()) {
        return bucket_at + " key: " + diff;
      }
      if (eb.doc_count != ab.doc_count) {
        return bucket_at + " (key " + Describe(eb.key) + ") doc_count expected " +
               std::to_string(eb.doc_count) + ", got " + std::to_string(ab.doc_count);
      }
      if (std::string diff = DiffAggregations(eb.subs, ab.subs, bucket_at + " " + Describe(eb.key));
          !diff.empty()) {
        return diff;
      }
    }
    if (e.buckets.size() != a.buckets.size()) {
      return at + ": expected " + std::to_string(e.buckets.size()) + " buckets, got " +
             std::to_string(a.buckets.size());
    }
  }
  return "";
}

std::string DiffResults(const Result<SearchResult>& expected, const Result<SearchResult>& actual) {
  if (!expected || !actual) {
    if (!expected && !actual) {
      if (expected.error().code != actual.error().code ||
          actual.error().kind != ErrorKind::kInvalidArgument) {
        return "expected error " + expected.error().code + ", got " + actual.error().code;
      }
      return "";
    }
    return !expected ? "expected error " + expected.error().code + ", got a result"
                     : "expected a result, got error " + actual.error().code + ": " +
                           actual.error().message;
  }
  if (expected->total != actual->total) {
    return "total expected " + std::to_string(expected->total) + ", got " +
           std::to_string(actual->total);
  }
  if (std::string diff = DiffOptional(expected->max_score, actual->max_score); !diff.empty()) {
    return "max_score " + diff;
  }
  for (std::size_t i = 0; i < std::min(expected->hits.size(), actual->hits.size()); ++i) {
    const SearchHit& e = expected->hits[i];
    const SearchHit& a = actual->hits[i];
    const std::string at = "hit " + std::to_string(i) + ": ";
    if (e.doc != a.doc) {
      return at + "doc expected " + std::to_string(e.doc) + " (score " +
             (e.score ? Describe(SearchValue(*e.score)) : "none") + "), got " +
             std::to_string(a.doc) + " (score " +
             (a.score ? Describe(SearchValue(*a.score)) : "none") + ")";
    }
    if (std::string diff = DiffOptional(e.score, a.score); !diff.empty()) {
      return at + "score " + diff;
    }
    if (e.sort.size() != a.sort.size()) return at + "sort values differ in number";
    for (std::size_t k = 0; k < e.sort.size(); ++k) {
      if (std::string diff = DiffValue(e.sort[k], a.sort[k]); !diff.empty()) {
        return at + "sort value " + std::to_string(k) + " " + diff;
      }
    }
  }
  if (expected->hits.size() != actual->hits.size()) {
    return "expected " + std::to_string(expected->hits.size()) + " hits, got " +
           std::to_string(actual->hits.size());
  }
  return DiffAggregations(expected->aggregations, actual->aggregations, "aggs");
}

Docs Members(const Roaring& bitmap) {
  Docs docs;
  for (const std::uint32_t doc : bitmap) docs.push_back(doc);
  return docs;
}

// --- Random documents and requests. ----------------------------------------------------------

const std::vector<std::string>& VocabularyOf(SearchField field) {
  static const std::map<SearchField, std::vector<std::string>> kVocabulary = {
      {SearchField::kType, {"OrderSettled", "OrderRefunded", "MerchantPaidOut", "Transferred"}},
      {SearchField::kOrderId, {"", "", "o1", "o2", "o3", "o10", "o11", "o20", "o100", "O1"}},
      {SearchField::kMerchant, {"", "m:0", "m:1", "m:2", "m:10", "M:1", "\xC3\xBC:m", "m"}},
      {SearchField::kAccount,
       {"", "a", "ab", "abc", "b", "B", "user:1", "user:2", "user:10",
        "\xC3\xBC"
        "ber",
        "zeta"}},
      {SearchField::kCounterparty,
       {"", "", "payer:1", "payer:2", "external:bank:1", "external:topup", "a", "Z"}},
      {SearchField::kKind,
       {"merchant", "commission", "host_commission", "platform_share", "payout", "refund", ""}},
      {SearchField::kCategory, {"income", "other", "expenditure"}},
      {SearchField::kAsset, {"CNY", "CNY", "USD", "COIN", ""}},
      {SearchField::kRef, {"", "r1", "r2", "r3", "r12", "r123", "x-1", "x-2"}},
  };
  return kVocabulary.at(field);
}

const std::vector<std::string> kMemoWords = {"refund",
                                             "Refund",
                                             "REFUND",
                                             "order",
                                             "coffee",
                                             "caf\xC3\xA9",
                                             "Caf\xC3\xA9",
                                             "\xC3\xBC"
                                             "ber",
                                             "tip",
                                             "tips",
                                             "a1",
                                             "x",
                                             "na\xC3\xAF"
                                             "ve",
                                             "\xE6\x97\xA5\xE6\x9C\xAC",
                                             "2024",
                                             "Q4"};
const std::vector<std::string> kMemoSeparators = {" ", " ", ", ", "-", "...", "\t", "/", "_"};

template <typename T>
const T& Pick(std::mt19937_64& random, const std::vector<T>& items) {
  return items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(random)];
}

int Uniform(std::mt19937_64& random, int low, int high) {
  return std::uniform_int_distribution<int>(low, high)(random);
}

bool Chance(std::mt19937_64& random, double probability) {
  return std::bernoulli_distribution(probability)(random);
}

std::string RandomMemo(std::mt19937_64& random) {
  const int shape = Uniform(random, 0, 99);
  if (shape < 15) return "";
  if (shape < 20) return Pick(random, std::vector<std::string>{"--", " ... ", "!?", "_"});
  if (shape < 22) return std::string(300, 'w');  // One token cut to 255 bytes.
  if (shape < 24) {
    std::string accented;
    for (int i = 0; i < 150; ++i) accented += "\xC3\xA9";  // 300 bytes: cut to 254.
    return "long " + accented;
  }
  std::string memo;
  for (int i = 0, words = Uniform(random, 1, 8); i < words; ++i) {
    if (i > 0) memo += Pick(random, kMemoSeparators);
    memo += Pick(random, kMemoWords);
  }
  return memo;
}

std::int64_t RandomTimeUs(std::mt19937_64& random) {
  const int shape = Uniform(random, 0, 99);
  if (shape < 2) {
    // Around the epoch, on both sides: floor(us / 1000) must round towards minus infinity.
    static const std::vector<std::int64_t> kEpoch = {-1,
                                                     -999,
                                                     -1000,
                                                     -1001,
                                                     0,
                                                     1,
                                                     999,
                                                     1000,
                                                     -86'400'000'000,
                                                     -86'400'000'001,
                                                     -3'600'000'000'000};
    return Pick(random, kEpoch);
  }
  if (shape < 22) {
    static const std::vector<std::int64_t> kBoundaries = {
        UtcUs(2023, 12, 31), UtcUs(2024, 1, 1), UtcUs(2024, 2, 29),  UtcUs(2024, 3, 1),
        UtcUs(2024, 6, 30),  UtcUs(2024, 7, 1), UtcUs(2024, 12, 30), UtcUs(2025, 1, 1)};
    static const std::vector<std::int64_t> kOffsets = {-1'001, -1'000, -999, -1,   0,
                                                       0,      1,      999,  1'000};
    return Pick(random, kBoundaries) + Pick(random, kOffsets);
  }
  return std::uniform_int_distribution<std::int64_t>(UtcUs(2023, 6, 1), UtcUs(2025, 3, 1))(random);
}

std::int64_t RandomAmount(std::mt19937_64& random) {
  const int shape = Uniform(random, 0, 99);
  if (shape < 20) return Pick(random, std::vector<std::int64_t>{0, 1, -1, 100, -100, 5'000});
  if (shape < 28) {
    const std::int64_t large =
        std::uniform_int_distribution<std::int64_t>(1'000'000'000, 1'000'000'000'000)(random);
    return Chance(random, 0.5) ? large : -large;
  }
  return std::uniform_int_distribution<std::int64_t>(-2'000, 2'000)(random);
}

// Records "P.i" with positions increasing by 1..3 and 1..4 lines per position.
std::vector<SearchDocument> RandomDocuments(std::mt19937_64& random, std::size_t count) {
  std::vector<SearchDocument> documents;
  std::int64_t position = Uniform(random, 1, 5);
  while (documents.size() < count) {
    const int lines = Uniform(random, 1, 4);
    for (int line = 0; line < lines && documents.size() < count; ++line) {
      SearchDocument document;
      document.record_id = std::to_string(position) + "." + std::to_string(line);
      document.position = position;
      for (const SearchField field :
           {SearchField::kType, SearchField::kOrderId, SearchField::kMerchant,
            SearchField::kAccount, SearchField::kCounterparty, SearchField::kKind,
            SearchField::kCategory, SearchField::kAsset, SearchField::kRef}) {
        KeywordOf(document, field) = Pick(random, VocabularyOf(field));
      }
      document.amount = RandomAmount(random);
      document.occurred_at_us = RandomTimeUs(random);
      document.memo = RandomMemo(random);
      documents.push_back(std::move(document));
    }
    position += Uniform(random, 1, 3);
  }
  return documents;
}

class RequestGenerator {
 public:
  RequestGenerator(const std::vector<SearchDocument>& documents, const Oracle& oracle,
                   std::mt19937_64& random)
      : documents_(documents), oracle_(oracle), random_(random) {}

  // A query tree at most `depth` levels deep; half of the top levels are leaves.
  SearchQuery Query(int depth) {
    if (depth <= 0 || Chance(random_, 0.5)) return Leaf();
    return Bool(depth);
  }

  SearchQuery Bool(int depth) {
    SearchQuery query{.kind = Kind::kBool};
    for (auto* clauses : {&query.must, &query.filter, &query.should, &query.must_not}) {
      const int count = Pick(random_, std::vector<int>{0, 0, 1, 1, 2, 3});
      for (int i = 0; i < count; ++i) clauses->push_back(Query(depth - 1));
    }
    if (Chance(random_, 0.6)) {
      query.minimum_should_match =
          static_cast<std::uint32_t>(Pick(random_, std::vector<int>{0, 1, 1, 2, 2, 3}));
    }
    MaybeBoost(&query);
    return query;
  }

  SearchQuery Leaf() {
    SearchQuery query;
    const int shape = Uniform(random_, 0, 99);
    if (shape < 3) {
      query.kind = Kind::kMatchAll;
    } else if (shape < 5) {
      query.kind = Kind::kMatchNone;
    } else if (shape < 30) {
      query = TermOrTerms(shape < 17 ? Kind::kTerm : Kind::kTerms);
    } else if (shape < 55) {
      query = Range();
    } else if (shape < 75) {
      query = Match();
    } else if (shape < 87) {
      query = Prefix();
    } else {
      query.kind = Kind::kExists;
      query.field = Pick(random_, AllFields());
    }
    MaybeBoost(&query);
    return query;
  }

  std::vector<SearchSort> Sort() {
    std::vector<SearchSort> keys;
    for (int i = 0, count = Pick(random_, std::vector<int>{0, 1, 1, 2, 3}); i < count; ++i) {
      keys.push_back(SortKey());
    }
    return keys;
  }

  SearchSort SortKey() {
    SearchSort key;
    const int shape = Uniform(random_, 0, 9);
    if (shape < 2) {
      key.kind = SearchSort::Kind::kScore;
    } else if (shape < 3) {
      key.kind = SearchSort::Kind::kDoc;
    } else {
      key.kind = SearchSort::Kind::kField;
      key.field = Pick(random_, SortableFields());
    }
    key.descending = Chance(random_, 0.5);
    return key;
  }

  Aggregation RandomAggregation(bool with_subs, int* counter) {
    Aggregation aggregation;
    aggregation.name = "a" + std::to_string((*counter)++);
    const int shape = Uniform(random_, 0, 9);
    if (shape < 4) {
      aggregation.kind = Aggregation::Kind::kTerms;
      aggregation.field = Pick(random_, SortableFields());
      aggregation.size = static_cast<std::uint32_t>(Uniform(random_, 1, 15));
      aggregation.order = static_cast<Aggregation::Order>(Uniform(random_, 0, 3));
      const bool stored_keyword =
          IsKeyword(aggregation.field) && aggregation.field != SearchField::kRecordId;
      // 0 lists every indexed term; for long fields SearchIndexTest checks that alone.
      const int min_doc_count = Uniform(random_, stored_keyword ? -1 : 0, 3);
      if (min_doc_count > 0) aggregation.min_doc_count = min_doc_count;
      if (min_doc_count < 0) aggregation.min_doc_count = 0;
    } else if (shape < 7) {
      aggregation.kind = Aggregation::Kind::kDateHistogram;
      aggregation.field = SearchField::kOccurredAt;
      if (Chance(random_, 0.6)) {
        aggregation.calendar = static_cast<Aggregation::Calendar>(Uniform(random_, 1, 4));
      } else {
        aggregation.fixed_interval_ms =
            Pick(random_, std::vector<std::int64_t>{kHourMs, 6 * kHourMs, kDayMs, 7 * kDayMs,
                                                    30 * kDayMs, 365 * kDayMs});
      }
      const int min_doc_count = Uniform(random_, 0, 3);
      if (min_doc_count > 0) aggregation.min_doc_count = min_doc_count - 1;
    } else {
      aggregation.kind = static_cast<Aggregation::Kind>(Uniform(random_, 1, 5));
      if (aggregation.kind == Aggregation::Kind::kValueCount) {
        aggregation.field = Pick(random_, SortableFields());
      } else if (aggregation.kind == Aggregation::Kind::kSum ||
                 aggregation.kind == Aggregation::Kind::kAvg) {
        aggregation.field = Chance(random_, 0.7) ? SearchField::kAmount : SearchField::kPosition;
      } else {
        aggregation.field =
            Pick(random_, std::vector<SearchField>{SearchField::kAmount, SearchField::kPosition,
                                                   SearchField::kOccurredAt});
      }
    }
    const bool bucketing = aggregation.kind == Aggregation::Kind::kTerms ||
                           aggregation.kind == Aggregation::Kind::kDateHistogram;
    if (with_subs && bucketing && Chance(random_, 0.5)) {
      for (int i = 0, count = Uniform(random_, 1, 2); i < count; ++i) {
        aggregation.subs.push_back(RandomAggregation(false, counter));
      }
    }
    return aggregation;
  }

  std::vector<Aggregation> Aggregations() {
    std::vector<Aggregation> aggregations;
    int counter = 0;
    for (int i = 0, count = Pick(random_, std::vector<int>{0, 1, 1, 2}); i < count; ++i) {
      aggregations.push_back(RandomAggregation(true, &counter));
    }
    return aggregations;
  }

  static const std::vector<SearchField>& AllFields() {
    static const std::vector<SearchField> kAll = [] {
      std::vector<SearchField> fields;
      for (const FieldSpec& spec : kFieldSpecs) fields.push_back(spec.field);
      return fields;
    }();
    return kAll;
  }

  static const std::vector<SearchField>& KeywordFields() {
    static const std::vector<SearchField> kKeywords = [] {
      std::vector<SearchField> fields;
      for (const FieldSpec& spec : kFieldSpecs) {
        if (spec.type == SearchFieldType::kKeyword) fields.push_back(spec.field);
      }
      return fields;
    }();
    return kKeywords;
  }

  // Keyword, long and date fields.
  static const std::vector<SearchField>& SortableFields() {
    static const std::vector<SearchField> kSortable = [] {
      std::vector<SearchField> fields;
      for (const FieldSpec& spec : kFieldSpecs) {
        if (spec.type != SearchFieldType::kText) fields.push_back(spec.field);
      }
      return fields;
    }();
    return kSortable;
  }

 private:
  const SearchDocument& AnyDocument() { return Pick(random_, documents_); }
  std::uint32_t AnyDoc() {
    return std::uniform_int_distribution<std::uint32_t>(0, oracle_.Size() - 1)(random_);
  }

  void MaybeBoost(SearchQuery* query) {
    if (Chance(random_, 0.1)) query->boost = Pick(random_, std::vector<double>{0.5, 2.0, 3.0});
  }

  // A keyword value: mostly one a document holds (maybe absent: ""), sometimes unknown.
  std::string KeywordValue(SearchField field) {
    const int shape = Uniform(random_, 0, 9);
    if (field == SearchField::kRecordId) {
      if (shape < 8) return AnyDocument().record_id;
      return Pick(random_, std::vector<std::string>{
                               "0" + AnyDocument().record_id, AnyDocument().record_id + "0",
                               std::to_string(AnyDocument().position) + ".01", "x.y", "", ".", "1.",
                               "+" + AnyDocument().record_id, "99999999999999999999.0",
                               AnyDocument().record_id + " ", "-1.0"});
    }
    if (shape < 7) return KeywordOf(AnyDocument(), field);
    if (shape < 9) return Pick(random_, VocabularyOf(field));
    return Pick(random_, std::vector<std::string>{"zz", "M", "user:", "\xC3\xBC"});
  }

  std::int64_t NumberValue(SearchField field) {
    return oracle_.NumberOf(field, AnyDoc()) +
           Pick(random_, std::vector<std::int64_t>{0, 0, 0, 1, -1});
  }

  SearchField KeywordOrNumericField() {
    const int shape = Uniform(random_, 0, 9);
    if (shape < 6) return Pick(random_, KeywordFields());
    if (shape < 8) return Chance(random_, 0.7) ? SearchField::kAmount : SearchField::kPosition;
    return SearchField::kOccurredAt;
  }

  SearchQuery TermOrTerms(Kind kind) {
    SearchQuery query{.kind = kind, .field = KeywordOrNumericField()};
    const int values = kind == Kind::kTerm ? 1 : Uniform(random_, 1, 5);
    for (int i = 0; i < values; ++i) {
      if (IsKeyword(query.field)) {
        query.keywords.push_back(KeywordValue(query.field));
      } else {
        query.numbers.push_back(NumberValue(query.field));
      }
    }
    return query;
  }

  SearchQuery Range() {
    SearchQuery query{.kind = Kind::kRange, .field = KeywordOrNumericField()};
    const bool keyword = IsKeyword(query.field);
    auto bound = [&](std::optional<std::int64_t>* number, std::optional<std::string>* text) {
      if (!Chance(random_, 0.45)) return;
      if (!keyword) {
        *number = NumberValue(query.field);
      } else if (Chance(random_, 0.8)) {
        *text = KeywordValue(query.field);
      } else {
        const std::string value = KeywordValue(query.field);
        *text = value.substr(0, static_cast<std::size_t>(Uniform(random_, 0, 2)));
      }
    };
    bound(&query.gt, &query.gt_keyword);
    bound(&query.gte, &query.gte_keyword);
    bound(&query.lt, &query.lt_keyword);
    bound(&query.lte, &query.lte_keyword);
    return query;
  }

  SearchQuery Match() {
    SearchQuery query{.kind = Kind::kMatch, .field = SearchField::kMemo};
    const int shape = Uniform(random_, 0, 19);
    if (shape == 0) {
      query.text = Pick(random_, std::vector<std::string>{"", "--", " "});
    } else if (shape == 1) {
      query.text = AnyDocument().memo;  // Long tokens, repeated words, punctuation.
    } else {
      for (int i = 0, words = Uniform(random_, 1, 4); i < words; ++i) {
        if (i > 0) query.text += Pick(random_, kMemoSeparators);
        query.text += Chance(random_, 0.1) ? std::string("zebra") : Pick(random_, kMemoWords);
      }
    }
    query.match_all_tokens = Chance(random_, 0.4);
    return query;
  }

  SearchQuery Prefix() {
    SearchQuery query{.kind = Kind::kPrefix, .field = Pick(random_, KeywordFields())};
    const std::string value = KeywordValue(query.field);
    query.keywords.push_back(value.substr(
        0, static_cast<std::size_t>(Uniform(random_, 0, static_cast<int>(value.size())))));
    return query;
  }

  const std::vector<SearchDocument>& documents_;
  const Oracle& oracle_;
  std::mt19937_64& random_;
};

// A few thousand random documents in both the engine and the oracle; the seed is traced.
class SearchIndexRandomTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = ledger::testing::TestSeed();
    random_.seed(seed_);
    documents_ = RandomDocuments(random_, 3'000);
    for (const SearchDocument& document : documents_) index_.Add(document);
    oracle_ = std::make_unique<Oracle>(documents_);
    generator_ = std::make_unique<RequestGenerator>(documents_, *oracle_, random_);
  }

  // Stops a loop after a handful of failing iterations, to keep the output readable.
  bool TooManyFailures() {
    if (!HasFailure()) return false;
    return ++failures_ > 5;
  }

  unsigned long long seed_ = 0;
  std::mt19937_64 random_;
  std::vector<SearchDocument> documents_;
  SearchIndex index_;
  std::unique_ptr<Oracle> oracle_;
  std::unique_ptr<RequestGenerator> generator_;
  int failures_ = 0;
};

// A name for the kind of a top-level query, for the coverage check.
std::string CoverageName(const SearchQuery& query) {
  static const char* kKinds[] = {"match_all", "match_none", "term",   "terms", "range",
                                 "match",     "prefix",     "exists", "bool"};
  std::string name = kKinds[static_cast<int>(query.kind)];
  switch (query.kind) {
    case Kind::kTerm:
    case Kind::kTerms:
    case Kind::kRange:
    case Kind::kExists:
      if (query.field == SearchField::kRecordId) return name + "/record_id";
      return name + "/" +
             std::string(SpecOf(query.field).type == SearchFieldType::kKeyword ? "keyword"
                         : SpecOf(query.field).type == SearchFieldType::kLong  ? "long"
                         : SpecOf(query.field).type == SearchFieldType::kDate  ? "date"
                                                                               : "text");
    case Kind::kMatch:
      return name + (query.match_all_tokens ? "/and" : "/or");
    case Kind::kBool:
      return name + "/msm=" +
             (query.minimum_should_match ? std::to_string(*query.minimum_should_match)
                                         : std::string("default"));
    default:
      return name;
  }
}

TEST_F(SearchIndexRandomTest, CountAndMatchAgreeWithTheOracle) {
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed_));
  ASSERT_EQ(index_.DocumentCount(), documents_.size());
  // Kinds for which some query matched some but not all documents.
  std::map<std::string, int> selective;
  for (int i = 0; i < 3'000 && !TooManyFailures(); ++i) {
    const SearchQuery query = generator_->Query(3);
    const Docs expected = oracle_->MatchAll(query);
    EXPECT_EQ(index_.Count(query), expected.size()) << Describe(query);
    EXPECT_EQ(Members(index_.Match(query)), expected) << Describe(query);
    if (!expected.empty() && expected.size() < documents_.size()) ++selective[CoverageName(query)];
  }
  for (const char* kind :
       {"term/keyword",   "term/long",       "term/date",        "term/record_id", "terms/keyword",
        "terms/long",     "terms/date",      "terms/record_id",  "range/keyword",  "range/long",
        "range/date",     "range/record_id", "match/or",         "match/and",      "prefix",
        "exists/keyword", "exists/text",     "bool/msm=default", "bool/msm=0",     "bool/msm=1",
        "bool/msm=2"}) {
    EXPECT_GT(selective[kind], 0) << kind << " never selective";
  }
}

TEST_F(SearchIndexRandomTest, ExistsOnEveryFieldAndTheTrivialQueries) {
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed_));
  for (const FieldSpec& spec : kFieldSpecs) {
    const SearchQuery exists{.kind = Kind::kExists, .field = spec.field};
    const Docs expected = oracle_->MatchAll(exists);
    EXPECT_EQ(Members(index_.Match(exists)), expected) << spec.name;
    // Long, date and record_id are always present; the others are absent somewhere.
    if (IsNumeric(spec.field) || spec.field == SearchField::kRecordId) {
      EXPECT_EQ(expected.size(), documents_.size()) << spec.name;
    }
  }
  EXPECT_EQ(index_.Count({.kind = Kind::kMatchAll}), documents_.size());
  EXPECT_EQ(index_.Count({.kind = Kind::kMatchNone}), 0u);
  EXPECT_EQ(index_.Count({.kind = Kind::kBool}), documents_.size());  // An empty bool: all.
}

TEST_F(SearchIndexRandomTest, SearchesAgreeWithTheOracle) {
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed_));
  int with_hits = 0;  // Requests with some but not all matches in the window.
  for (int i = 0; i < 1'200 && !TooManyFailures(); ++i) {
    SearchRequest request;
    request.query = generator_->Query(2);
    request.sort = generator_->Sort();
    request.from = static_cast<std::uint32_t>(Pick(random_, std::vector<int>{0, 0, 0, 1, 7, 50}));
    request.size =
        static_cast<std::uint32_t>(Pick(random_, std::vector<int>{0, 1, 10, 10, 100, 3'000}));
    request.track_scores = Chance(random_, 0.3);
    if (Chance(random_, 0.4)) request.aggregations = generator_->Aggregations();
    const Result<SearchResult> expected = oracle_->Search(request);
    const Result<SearchResult> actual = index_.Search(request);
    EXPECT_EQ(DiffResults(expected, actual), "") << Describe(request);
    with_hits += expected && !expected->hits.empty() && expected->hits.size() < expected->total;
  }
  EXPECT_GT(with_hits, 100) << "too few requests with partial windows";
}

TEST_F(SearchIndexRandomTest, AggregationsAgreeWithTheOracle) {
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed_));
  int errors = 0, successes = 0;
  for (int i = 0; i < 600 && !TooManyFailures(); ++i) {
    SearchRequest request;
    request.query = Chance(random_, 0.2) ? SearchQuery{} : generator_->Query(2);
    request.size = 0;
    int counter = 0;
    for (int a = 0, count = Uniform(random_, 1, 3); a < count; ++a) {
      request.aggregations.push_back(generator_->RandomAggregation(true, &counter));
    }
    const Result<SearchResult> expected = oracle_->Search(request);
    const Result<SearchResult> actual = index_.Search(request);
    EXPECT_EQ(DiffResults(expected, actual), "") << Describe(request);
    (expected ? successes : errors) += 1;
  }
  EXPECT_GT(successes, 300);
  EXPECT_GT(errors, 0) << "no request ran into too_many_buckets";
}

// Pages through every hit with search_after, each page checked against the oracle's; with a
// unique last key the pages together are the full sorted list, each hit exactly once.
TEST_F(SearchIndexRandomTest, SearchAfterVisitsEveryHitExactlyOnce) {
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed_));
  for (int walk = 0; walk < 120 && !TooManyFailures(); ++walk) {
    SearchRequest request;
    request.query = Chance(random_, 0.2) ? SearchQuery{} : generator_->Query(2);
    request.sort = generator_->Sort();
    const bool unique = walk % 4 != 3;  // Else ties may be skipped: still checked per page.
    if (unique) {
      if (Chance(random_, 0.5)) {
        request.sort.push_back(
            {.kind = SearchSort::Kind::kDoc, .descending = Chance(random_, 0.3)});
      } else {
        request.sort.push_back({.kind = SearchSort::Kind::kField,
                                .field = SearchField::kRecordId,
                                .descending = Chance(random_, 0.5)});
      }
    } else if (request.sort.empty()) {
      request.sort.push_back(generator_->SortKey());
    }
    request.size = static_cast<std::uint32_t>(Uniform(random_, 1, 80));
    request.track_scores = Chance(random_, 0.3);
    SearchRequest everything = request;
    everything.size = oracle_->Size();
    const Result<SearchResult> full = oracle_->Search(everything);
    ASSERT_TRUE(full.has_value());
    Docs visited;
    bool walked = true;  // Every page as expected (else the pages are not compared as a whole).
    for (int page = 0; page < 4'000; ++page) {
      const Result<SearchResult> expected = oracle_->Search(request);
      const Result<SearchResult> actual = index_.Search(request);
      ASSERT_TRUE(expected.has_value());
      const std::string diff = DiffResults(expected, actual);
      EXPECT_EQ(diff, "") << "page " << page << " of " << Describe(request);
      walked = diff.empty();
      if (!walked || expected->hits.empty()) break;
      for (const SearchHit& hit : expected->hits) visited.push_back(hit.doc);
      request.search_after = actual->hits.back().sort;  // What a client sends back.
    }
    if (unique && walked) {
      Docs all;
      for (const SearchHit& hit : full->hits) all.push_back(hit.doc);
      EXPECT_EQ(visited, all) << Describe(everything);
    }
  }
}

// --- Deterministic cases, with expected values written out by hand. ---------------------------

SearchDocument Record(std::int64_t position, std::uint32_t line) {
  SearchDocument document;
  document.record_id = std::to_string(position) + "." + std::to_string(line);
  document.position = position;
  document.type = "OrderSettled";
  document.category = "other";
  document.asset = "CNY";
  return document;
}

// Documents "1.0", "2.0", ... with the given memos.
std::vector<SearchDocument> WithMemos(const std::vector<std::string>& memos) {
  std::vector<SearchDocument> documents;
  for (const std::string& memo : memos) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().memo = memo;
  }
  return documents;
}

void AddAll(const std::vector<SearchDocument>& documents, SearchIndex* index) {
  for (const SearchDocument& document : documents) index->Add(document);
}

Docs HitDocs(const SearchResult& result) {
  Docs docs;
  for (const SearchHit& hit : result.hits) docs.push_back(hit.doc);
  return docs;
}

SearchQuery Term(SearchField field, std::string value) {
  return {.kind = Kind::kTerm, .field = field, .keywords = {std::move(value)}};
}

SearchQuery Match(std::string text, bool all_tokens = false) {
  return {.kind = Kind::kMatch,
          .field = SearchField::kMemo,
          .text = std::move(text),
          .match_all_tokens = all_tokens};
}

SearchSort ByField(SearchField field, bool descending = false) {
  return {.kind = SearchSort::Kind::kField, .field = field, .descending = descending};
}

constexpr SearchSort kByDoc{.kind = SearchSort::Kind::kDoc};

TEST(SearchTokensTest, LowercasesAsciiOnlyAndKeepsNonAsciiBytesInTokens) {
  using Tokens = std::vector<std::string>;
  EXPECT_EQ(SearchTokens("Hello, WORLD! foo_bar 42x 4.5"),
            (Tokens{"hello", "world", "foo", "bar", "42x", "4", "5"}));
  EXPECT_EQ(SearchTokens("Caf\xC3\xA9 \xC3\x9C"
                         "BER na\xC3\xAF"
                         "ve-\xE6\x97\xA5\xE6\x9C\xAC"),
            (Tokens{"caf\xC3\xA9",
                    "\xC3\x9C"
                    "ber",
                    "na\xC3\xAF"
                    "ve",
                    "\xE6\x97\xA5\xE6\x9C\xAC"}));
  EXPECT_EQ(SearchTokens("refund Refund  REFUND"), (Tokens{"refund", "refund", "refund"}));
  EXPECT_TRUE(SearchTokens("").empty());
  EXPECT_TRUE(SearchTokens(" -- ... _\t!").empty());
}

TEST(SearchTokensTest, CutsLongTokensAt255BytesWithoutSplittingACharacter) {
  using Tokens = std::vector<std::string>;
  EXPECT_EQ(SearchTokens(std::string(300, 'A') + " next"), (Tokens{std::string(255, 'a'), "next"}));
  EXPECT_EQ(SearchTokens(std::string(255, 'B')), (Tokens{std::string(255, 'b')}));
  std::string accents, shifted = "a", emoji;
  for (int i = 0; i < 150; ++i) accents += "\xC3\xA9";       // 300 bytes; byte 255 continues one.
  for (int i = 0; i < 150; ++i) shifted += "\xC3\xA9";       // Byte 255 starts a character.
  for (int i = 0; i < 70; ++i) emoji += "\xF0\x9F\x98\x80";  // 4-byte characters.
  ASSERT_EQ(SearchTokens(accents).size(), 1u);
  EXPECT_EQ(SearchTokens(accents)[0], accents.substr(0, 254));
  EXPECT_EQ(SearchTokens(shifted), (Tokens{shifted.substr(0, 255)}));
  EXPECT_EQ(SearchTokens(emoji), (Tokens{emoji.substr(0, 252)}));
}

// Malformed UTF-8 (a memo is any bytes) must not produce an empty token.
TEST(SearchTokensTest, NeverYieldsAnEmptyToken) {
  for (const std::string& text :
       {std::string(300, '\x80'), std::string(256, '\xBF') + " x", std::string("\xC3"),
        std::string(254, 'a') + std::string(10, '\x80')}) {
    for (const std::string& token : SearchTokens(text)) {
      EXPECT_FALSE(token.empty()) << "from " << text.size() << " bytes";
      EXPECT_LE(token.size(), kSearchTokenBytesMax);
    }
  }
}

TEST(SearchTokensTest, AgreesWithTheOracleOnRandomText) {
  const unsigned long long seed = ledger::testing::TestSeed();
  SCOPED_TRACE("LEDGER_TEST_SEED=" + std::to_string(seed));
  std::mt19937_64 random(seed);
  const std::vector<std::string> pieces = {"a",
                                           "Z",
                                           "0",
                                           "9",
                                           " ",
                                           "-",
                                           "_",
                                           ".",
                                           "\t",
                                           "@",
                                           "\xC3\xA9",
                                           "\xC3\x9C",
                                           "\xE6\x97\xA5",
                                           "\xF0\x9F\x98\x80",
                                           "Refund",
                                           "x1"};
  for (int i = 0; i < 2'000; ++i) {
    std::string text;
    const int count = Uniform(random, 0, 30);
    for (int p = 0; p < count; ++p) {
      const std::string& piece = Pick(random, pieces);
      // Now and then a run long enough to be cut.
      const int repeat = Chance(random, 0.05) ? Uniform(random, 60, 140) : 1;
      for (int r = 0; r < repeat; ++r) text += piece;
    }
    EXPECT_EQ(SearchTokens(text), OracleTokens(text)) << text;
  }
}

// Lucene 8's BM25 on hand-computed numbers. The memo field is in 3 documents (an empty memo and
// one of punctuation only have no tokens), 8 tokens in all: avgdl = 8/3.
TEST(SearchIndexTest, Bm25ScoresAreLucene8sWithoutTheK1PlusOneFactor) {
  std::vector<SearchDocument> documents =
      WithMemos({"apple banana apple", "Banana", "", "--", "cherry APPLE pie tart"});
  documents[4].merchant = "m1";
  SearchIndex index;
  AddAll(documents, &index);
  const double idf_two = std::log(1 + (3 - 2 + 0.5) / (2 + 0.5));  // apple, banana: in 2 of 3.
  const double idf_one = std::log(1 + (3 - 1 + 0.5) / (1 + 0.5));  // pie: in 1 of 3.
  // k1 * (1 - b + b * dl / avgdl) for dl = 3, 1, 4.
  const double norm3 = 1.2 * (0.25 + 0.75 * 3 / (8.0 / 3));
  const double norm1 = 1.2 * (0.25 + 0.75 * 1 / (8.0 / 3));
  const double norm4 = 1.2 * (0.25 + 0.75 * 4 / (8.0 / 3));
  EXPECT_NEAR(norm3, 1.3125, 1e-12);
  EXPECT_NEAR(norm4, 1.65, 1e-12);

  auto scores = [&](const SearchQuery& query) {
    std::map<std::uint32_t, double> by_doc;
    SearchRequest request{.query = query, .size = 10};
    auto result = index.Search(request);
    EXPECT_TRUE(result.has_value());
    if (!result) return by_doc;
    for (const SearchHit& hit : result->hits) by_doc[hit.doc] = hit.score.value_or(-1);
    return by_doc;
  };
  auto apple = scores(Match("apple"));
  ASSERT_EQ(apple.size(), 2u);
  EXPECT_NEAR(apple[0], idf_two * 2 / (2 + norm3), 1e-12);
  EXPECT_NEAR(apple[4], idf_two * 1 / (1 + norm4), 1e-12);
  auto two_words = scores(Match("BANANA, apple"));
  ASSERT_EQ(two_words.size(), 3u);
  EXPECT_NEAR(two_words[0], idf_two * 2 / (2 + norm3) + idf_two / (1 + norm3), 1e-12);
  EXPECT_NEAR(two_words[1], idf_two / (1 + norm1), 1e-12);
  EXPECT_NEAR(two_words[4], idf_two / (1 + norm4), 1e-12);
  auto repeated = scores(Match("apple apple"));  // Each query token counts.
  EXPECT_NEAR(repeated[0], 2 * idf_two * 2 / (2 + norm3), 1e-12);
  auto both = scores(Match("pie apple", true));
  ASSERT_EQ(both.size(), 1u);
  EXPECT_NEAR(both[4], idf_one / (1 + norm4) + idf_two / (1 + norm4), 1e-12);
  auto boosted =
      scores({.kind = Kind::kMatch, .field = SearchField::kMemo, .text = "pie", .boost = 2.0});
  EXPECT_NEAR(boosted[4], 2 * idf_one / (1 + norm4), 1e-12);

  // A bool: must + matching should; filter and must_not add nothing; keywords score 1.
  SearchQuery bool_query{.kind = Kind::kBool};
  bool_query.must.push_back(Match("apple"));
  bool_query.should.push_back(Term(SearchField::kMerchant, "m1"));
  bool_query.filter.push_back(Match("apple"));
  bool_query.must_not.push_back(Match("banana pie", true));
  SearchRequest request{.query = bool_query, .size = 10};
  auto result = index.Search(request);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(HitDocs(*result), (Docs{4, 0}));  // Score order.
  EXPECT_NEAR(*result->hits[0].score, idf_two / (1 + norm4) + 1.0, 1e-12);
  EXPECT_NEAR(*result->hits[1].score, idf_two * 2 / (2 + norm3), 1e-12);
  EXPECT_NEAR(result->max_score.value_or(0), idf_two / (1 + norm4) + 1.0, 1e-12);
  auto filtered = scores({.kind = Kind::kBool, .filter = {Match("apple")}});
  EXPECT_EQ(filtered, (std::map<std::uint32_t, double>{{0, 0.0}, {4, 0.0}}));
  // match_all and term score their boost.
  auto all = scores({.kind = Kind::kMatchAll, .boost = 3.0});
  EXPECT_EQ(all.size(), 5u);
  EXPECT_EQ(all[2], 3.0);
}

// Constant scores keep index order; differing scores sort first, ties in index order.
TEST(SearchIndexTest, DefaultSortIsScoreDescendingThenIndexOrder) {
  std::vector<SearchDocument> documents;
  for (std::int64_t position = 1; position <= 6; ++position) {
    documents.push_back(Record(position, 0));
    documents.back().kind = position % 2 == 0 ? "even" : "odd";
    documents.back().ref = position >= 4 ? "late" : "early";
  }
  SearchIndex index;
  AddAll(documents, &index);
  auto odd = index.Search({.query = Term(SearchField::kKind, "odd"), .size = 10});
  ASSERT_TRUE(odd.has_value());
  EXPECT_EQ(HitDocs(*odd), (Docs{0, 2, 4}));
  for (const SearchHit& hit : odd->hits) {
    EXPECT_EQ(hit.score, 1.0);
    EXPECT_TRUE(hit.sort.empty());
  }
  EXPECT_EQ(odd->max_score, 1.0);
  SearchQuery either{.kind = Kind::kBool,
                     .should = {Term(SearchField::kKind, "even"), Term(SearchField::kRef, "late")}};
  auto scored = index.Search({.query = either, .from = 1, .size = 3});
  ASSERT_TRUE(scored.has_value());
  // Docs 3 and 5 match both clauses (score 2), docs 1 and 4 one (score 1): 3, 5, 1, 4.
  EXPECT_EQ(scored->total, 4u);
  EXPECT_EQ(HitDocs(*scored), (Docs{5, 1, 4}));
  EXPECT_EQ(scored->max_score, 2.0);
}

// With track_scores and a sort that is not by score, max_score is still the highest score.
TEST(SearchIndexTest, TrackedMaxScoreIsTheHighestScoreWhateverTheSort) {
  SearchIndex index;
  AddAll(WithMemos({"tip coffee coffee coffee", "tip"}), &index);
  // N = 2, avgdl = 5/2; idf(tip) = ln(1 + 0.5/2.5).
  const double idf = std::log(1.2);
  const double low = idf / (1 + 1.2 * (0.25 + 0.75 * 4 / 2.5));
  const double high = idf / (1 + 1.2 * (0.25 + 0.75 * 1 / 2.5));
  for (const SearchSort& key :
       {kByDoc, SearchSort{.kind = SearchSort::Kind::kDoc, .descending = true},
        ByField(SearchField::kPosition), ByField(SearchField::kPosition, true)}) {
    SCOPED_TRACE(Describe(key));
    auto result = index.Search({.query = Match("tip"), .sort = {key}, .track_scores = true});
    ASSERT_TRUE(result.has_value());
    ASSERT_EQ(result->hits.size(), 2u);
    const SearchHit& first = result->hits[0].doc == 0 ? result->hits[0] : result->hits[1];
    const SearchHit& second = result->hits[0].doc == 0 ? result->hits[1] : result->hits[0];
    EXPECT_NEAR(first.score.value_or(0), low, 1e-12);
    EXPECT_NEAR(second.score.value_or(0), high, 1e-12);
    EXPECT_NEAR(result->max_score.value_or(0), high, 1e-12);
  }
  // Without track_scores a field sort computes no score at all.
  auto untracked = index.Search({.query = Match("tip"), .sort = {kByDoc}});
  ASSERT_TRUE(untracked.has_value());
  EXPECT_EQ(untracked->max_score, std::nullopt);
  for (const SearchHit& hit : untracked->hits) EXPECT_EQ(hit.score, std::nullopt);
}

TEST(SearchIndexTest, KeywordSortPutsMissingValuesLastInBothDirections) {
  std::vector<SearchDocument> documents;
  for (const char* merchant : {"b", "", "a", "", "c", "B", "\xC3\xBC"}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().merchant = merchant;
  }
  SearchIndex index;
  AddAll(documents, &index);
  auto sorted = [&](bool descending, std::vector<SearchValue> after = {}) {
    SearchRequest request{.sort = {ByField(SearchField::kMerchant, descending), kByDoc},
                          .search_after = std::move(after)};
    auto result = index.Search(request);
    EXPECT_TRUE(result.has_value());
    return result ? *result : SearchResult{};
  };
  // Byte order: "B" < "a" < "b" < "c" < "\xC3\xBC"; missing last, in index order (the _doc key).
  auto ascending = sorted(false);
  EXPECT_EQ(HitDocs(ascending), (Docs{5, 2, 0, 4, 6, 1, 3}));
  ASSERT_EQ(ascending.hits.size(), 7u);
  EXPECT_EQ(ascending.hits[0].sort, (std::vector<SearchValue>{std::string("B"), std::int64_t{5}}));
  EXPECT_EQ(ascending.hits[5].sort, (std::vector<SearchValue>{std::monostate(), std::int64_t{1}}));
  EXPECT_EQ(HitDocs(sorted(true)), (Docs{6, 4, 0, 2, 5, 1, 3}));
  // search_after past a present value, and from one missing value to the next.
  EXPECT_EQ(HitDocs(sorted(true, {std::string("b"), std::int64_t{0}})), (Docs{2, 5, 1, 3}));
  EXPECT_EQ(HitDocs(sorted(false, {std::monostate(), std::int64_t{1}})), (Docs{3}));
  EXPECT_EQ(HitDocs(sorted(true, {std::monostate(), std::int64_t{3}})), (Docs{}));
}

TEST(SearchIndexTest, RecordIdMatchesItsCanonicalSpellingOnly) {
  SearchIndex index;
  AddAll({Record(7, 0), Record(7, 1), Record(10, 0), Record(70, 0)}, &index);
  const std::map<std::string, Docs> cases = {
      {"7.0", {0}},         {"7.1", {1}}, {"10.0", {2}}, {"70.0", {3}},
      {"7.01", {}},         {"07.1", {}}, {"7", {}},     {"7.", {}},
      {".1", {}},           {"7.2", {}},  {"7.1 ", {}},  {"+7.1", {}},
      {"-7.1", {}},         {"", {}},     {"1.0", {}},   {"99999999999999999999.0", {}},
      {"7.99999999999", {}}};
  for (const auto& [id, expected] : cases) {
    EXPECT_EQ(Members(index.Match(Term(SearchField::kRecordId, id))), expected) << id;
  }
  // Byte order: "10.0" < "7.0" < "7.1" < "70.0".
  SearchQuery range{.kind = Kind::kRange, .field = SearchField::kRecordId};
  range.gte_keyword = "10.0";
  range.lt_keyword = "7.1";
  EXPECT_EQ(Members(index.Match(range)), (Docs{0, 2}));
  SearchQuery prefix{.kind = Kind::kPrefix, .field = SearchField::kRecordId, .keywords = {"7"}};
  EXPECT_EQ(Members(index.Match(prefix)), (Docs{0, 1, 3}));
  auto sorted = index.Search({.sort = {ByField(SearchField::kRecordId)}});
  ASSERT_TRUE(sorted.has_value());
  EXPECT_EQ(HitDocs(*sorted), (Docs{2, 0, 1, 3}));
}

// occurred_at is floor(us / 1000) ms, before 1970 too.
TEST(SearchIndexTest, DatesAreMicrosecondsFlooredToMilliseconds) {
  std::vector<SearchDocument> documents;
  for (const std::int64_t us : {-1, -1000, -1001, 999, 1000, 0}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().occurred_at_us = us;
  }
  SearchIndex index;
  AddAll(documents, &index);
  auto numbers = [](std::vector<std::int64_t> values) {
    return SearchQuery{
        .kind = Kind::kTerms, .field = SearchField::kOccurredAt, .numbers = std::move(values)};
  };
  EXPECT_EQ(Members(index.Match(numbers({-1}))), (Docs{0, 1}));
  EXPECT_EQ(Members(index.Match(numbers({0}))), (Docs{3, 5}));
  EXPECT_EQ(Members(index.Match(numbers({-2, 1}))), (Docs{2, 4}));
  SearchQuery negative{.kind = Kind::kRange, .field = SearchField::kOccurredAt, .lt = 0};
  EXPECT_EQ(Members(index.Match(negative)), (Docs{0, 1, 2}));
  SearchQuery around{.kind = Kind::kRange, .field = SearchField::kOccurredAt, .gte = -1, .lte = 0};
  EXPECT_EQ(Members(index.Match(around)), (Docs{0, 1, 3, 5}));
  SearchQuery open{.kind = Kind::kRange, .field = SearchField::kOccurredAt, .gt = -2, .lt = 1};
  EXPECT_EQ(Members(index.Match(open)), (Docs{0, 1, 3, 5}));
  auto sorted = index.Search(
      {.sort = {ByField(SearchField::kOccurredAt)},
       .aggregations = {
           {.name = "min", .kind = Aggregation::Kind::kMin, .field = SearchField::kOccurredAt},
           {.name = "max", .kind = Aggregation::Kind::kMax, .field = SearchField::kOccurredAt}}});
  ASSERT_TRUE(sorted.has_value());
  EXPECT_EQ(HitDocs(*sorted), (Docs{2, 0, 1, 3, 5, 4}));
  EXPECT_EQ(sorted->hits[0].sort, (std::vector<SearchValue>{std::int64_t{-2}}));
  ASSERT_EQ(sorted->aggregations.size(), 2u);
  EXPECT_EQ(sorted->aggregations[0].integer_value, -2);
  EXPECT_EQ(sorted->aggregations[1].integer_value, 1);
}

using Buckets = std::vector<std::pair<std::int64_t, std::uint64_t>>;

// The buckets (start ms, count) of one date_histogram over every document of `index`.
Buckets Histogram(const SearchIndex& index, Aggregation aggregation) {
  aggregation.name = "h";
  aggregation.kind = Aggregation::Kind::kDateHistogram;
  aggregation.field = SearchField::kOccurredAt;
  auto result = index.Search({.size = 0, .aggregations = {aggregation}});
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  Buckets buckets;
  if (!result) return buckets;
  for (const SearchBucket& bucket : result->aggregations.at(0).buckets) {
    buckets.emplace_back(std::get<std::int64_t>(bucket.key), bucket.doc_count);
  }
  return buckets;
}

TEST(SearchIndexTest, DateHistogramCalendarWeeksStartOnMondayAndEmptyBucketsAreFilled) {
  std::vector<SearchDocument> documents;
  for (const std::int64_t us :
       {UtcUs(2023, 12, 31, 23, 59, 59) + 999'999,  // A Sunday: the week of 2023-12-25.
        UtcUs(2024, 1, 1),                          // Monday.
        UtcUs(2024, 1, 7, 12),                      // Sunday.
        UtcUs(2024, 1, 8),                          // Monday.
        UtcUs(2024, 2, 29, 23, 59, 59) + 999'999,   // Leap day, a Thursday.
        UtcUs(2024, 3, 1)}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().occurred_at_us = us;
  }
  SearchIndex index;
  AddAll(documents, &index);
  using Calendar = Aggregation::Calendar;
  EXPECT_EQ(Histogram(index, {.calendar = Calendar::kWeek}), (Buckets{{UtcMs(2023, 12, 25), 1},
                                                                      {UtcMs(2024, 1, 1), 2},
                                                                      {UtcMs(2024, 1, 8), 1},
                                                                      {UtcMs(2024, 1, 15), 0},
                                                                      {UtcMs(2024, 1, 22), 0},
                                                                      {UtcMs(2024, 1, 29), 0},
                                                                      {UtcMs(2024, 2, 5), 0},
                                                                      {UtcMs(2024, 2, 12), 0},
                                                                      {UtcMs(2024, 2, 19), 0},
                                                                      {UtcMs(2024, 2, 26), 2}}));
  EXPECT_EQ(Histogram(index, {.calendar = Calendar::kMonth}), (Buckets{{UtcMs(2023, 12, 1), 1},
                                                                       {UtcMs(2024, 1, 1), 3},
                                                                       {UtcMs(2024, 2, 1), 1},
                                                                       {UtcMs(2024, 3, 1), 1}}));
  EXPECT_EQ(Histogram(index, {.calendar = Calendar::kYear}),
            (Buckets{{UtcMs(2023, 1, 1), 1}, {UtcMs(2024, 1, 1), 5}}));
  EXPECT_EQ(Histogram(index, {.min_doc_count = 1, .calendar = Calendar::kDay}),
            (Buckets{{UtcMs(2023, 12, 31), 1},
                     {UtcMs(2024, 1, 1), 1},
                     {UtcMs(2024, 1, 7), 1},
                     {UtcMs(2024, 1, 8), 1},
                     {UtcMs(2024, 2, 29), 1},
                     {UtcMs(2024, 3, 1), 1}}));
  EXPECT_EQ(Histogram(index, {.min_doc_count = 2, .calendar = Calendar::kMonth}),
            (Buckets{{UtcMs(2024, 1, 1), 3}}));
  const Buckets days = Histogram(index, {.calendar = Calendar::kDay});
  ASSERT_EQ(days.size(), 62u);  // 2023-12-31 to 2024-03-01, every day.
  EXPECT_EQ(days.front(), (std::pair<std::int64_t, std::uint64_t>{UtcMs(2023, 12, 31), 1}));
  EXPECT_EQ(days[32], (std::pair<std::int64_t, std::uint64_t>{UtcMs(2024, 2, 1), 0}));
  EXPECT_EQ(days.back(), (std::pair<std::int64_t, std::uint64_t>{UtcMs(2024, 3, 1), 1}));
  // Fixed intervals count from the epoch: 7-day buckets start on Thursdays.
  EXPECT_EQ(Histogram(index, {.fixed_interval_ms = 7 * kDayMs}),
            (Buckets{{UtcMs(2023, 12, 28), 2},
                     {UtcMs(2024, 1, 4), 2},
                     {UtcMs(2024, 1, 11), 0},
                     {UtcMs(2024, 1, 18), 0},
                     {UtcMs(2024, 1, 25), 0},
                     {UtcMs(2024, 2, 1), 0},
                     {UtcMs(2024, 2, 8), 0},
                     {UtcMs(2024, 2, 15), 0},
                     {UtcMs(2024, 2, 22), 0},
                     {UtcMs(2024, 2, 29), 2}}));
}

TEST(SearchIndexTest, DateHistogramBeforeTheEpochAndWithSubAggregations) {
  std::vector<SearchDocument> documents;
  for (const std::int64_t us : {std::int64_t{-1}, std::int64_t{0}}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().occurred_at_us = us;
  }
  SearchIndex before_epoch;
  AddAll(documents, &before_epoch);
  using Calendar = Aggregation::Calendar;
  EXPECT_EQ(Histogram(before_epoch, {.calendar = Calendar::kDay}), (Buckets{{-kDayMs, 1}, {0, 1}}));
  EXPECT_EQ(Histogram(before_epoch, {.calendar = Calendar::kWeek}),
            (Buckets{{UtcMs(1969, 12, 29), 2}}));
  EXPECT_EQ(Histogram(before_epoch, {.calendar = Calendar::kMonth}),
            (Buckets{{UtcMs(1969, 12, 1), 1}, {0, 1}}));
  EXPECT_EQ(Histogram(before_epoch, {.calendar = Calendar::kYear}),
            (Buckets{{UtcMs(1969, 1, 1), 1}, {0, 1}}));
  EXPECT_EQ(Histogram(before_epoch, {.fixed_interval_ms = kHourMs}),
            (Buckets{{-kHourMs, 1}, {0, 1}}));

  // date_histogram -> terms, and terms -> sum.
  std::vector<SearchDocument> monthly;
  const std::vector<std::pair<std::int64_t, const char*>> rows = {
      {UtcUs(2023, 12, 31), "a"}, {UtcUs(2024, 1, 1), "a"}, {UtcUs(2024, 1, 9), "b"},
      {UtcUs(2024, 1, 31), "a"},  {UtcUs(2024, 2, 1), "b"}, {UtcUs(2024, 4, 2), ""}};
  for (const auto& [us, merchant] : rows) {
    monthly.push_back(Record(static_cast<std::int64_t>(monthly.size()) + 1, 0));
    monthly.back().occurred_at_us = us;
    monthly.back().merchant = merchant;
    monthly.back().amount = static_cast<std::int64_t>(monthly.size()) * 10;
  }
  SearchIndex index;
  AddAll(monthly, &index);
  const Aggregation by_merchant{
      .name = "m", .kind = Aggregation::Kind::kTerms, .field = SearchField::kMerchant};
  const Aggregation total{
      .name = "t", .kind = Aggregation::Kind::kSum, .field = SearchField::kAmount};
  auto result = index.Search({.size = 0,
                              .aggregations = {{.name = "month",
                                                .kind = Aggregation::Kind::kDateHistogram,
                                                .field = SearchField::kOccurredAt,
                                                .calendar = Calendar::kMonth,
                                                .subs = {by_merchant}},
                                               {.name = "merchants",
                                                .kind = Aggregation::Kind::kTerms,
                                                .field = SearchField::kMerchant,
                                                .subs = {total}}}});
  ASSERT_TRUE(result.has_value()) << result.error().message;
  ASSERT_EQ(result->aggregations.size(), 2u);
  const auto& months = result->aggregations[0].buckets;
  ASSERT_EQ(months.size(), 5u);  // 2023-12 .. 2024-04, March empty.
  auto sub_terms = [](const SearchBucket& bucket) {
    std::vector<std::pair<std::string, std::uint64_t>> terms;
    for (const SearchBucket& sub : bucket.subs.at(0).buckets) {
      terms.emplace_back(std::get<std::string>(sub.key), sub.doc_count);
    }
    return terms;
  };
  using Terms = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(sub_terms(months[0]), (Terms{{"a", 1}}));
  EXPECT_EQ(sub_terms(months[1]), (Terms{{"a", 2}, {"b", 1}}));
  EXPECT_EQ(sub_terms(months[2]), (Terms{{"b", 1}}));
  EXPECT_EQ(months[3].doc_count, 0u);
  EXPECT_EQ(sub_terms(months[3]), (Terms{}));
  EXPECT_EQ(sub_terms(months[4]), (Terms{}));  // The merchant is absent.
  const auto& merchants = result->aggregations[1].buckets;
  ASSERT_EQ(merchants.size(), 2u);
  EXPECT_EQ(merchants[0].key, SearchValue(std::string("a")));
  EXPECT_EQ(merchants[0].subs.at(0).integer_value, 10 + 20 + 40);
  EXPECT_EQ(merchants[1].subs.at(0).integer_value, 30 + 50);
}

TEST(SearchIndexTest, TermsAggregationOrdersCutsAndCountsTheRest) {
  std::vector<SearchDocument> documents;
  for (const char* merchant : {"m1", "m2", "m1", "m3", "", "m4", "m3", "m1", "m2", ""}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().merchant = merchant;
    documents.back().amount = documents.size() % 3 == 0 ? -5 : 7;
  }
  SearchIndex index;
  AddAll(documents, &index);
  using Order = Aggregation::Order;
  using Terms = std::vector<std::pair<SearchValue, std::uint64_t>>;
  auto terms = [&](Aggregation aggregation, std::uint64_t* other = nullptr) {
    aggregation.name = "t";
    aggregation.kind = Aggregation::Kind::kTerms;
    auto result = index.Search({.size = 0, .aggregations = {aggregation}});
    EXPECT_TRUE(result.has_value());
    Terms buckets;
    if (!result) return buckets;
    for (const SearchBucket& bucket : result->aggregations.at(0).buckets) {
      buckets.emplace_back(bucket.key, bucket.doc_count);
    }
    if (other != nullptr) *other = result->aggregations.at(0).sum_other_doc_count;
    return buckets;
  };
  auto key = [](const char* text) { return SearchValue(std::string(text)); };
  std::uint64_t other = 99;
  // Counts m1 3, m2 2, m3 2, m4 1; two documents have no merchant and count nowhere.
  EXPECT_EQ(terms({.field = SearchField::kMerchant, .size = 2}, &other),
            (Terms{{key("m1"), 3}, {key("m2"), 2}}));  // m2 before m3: ties by key.
  EXPECT_EQ(other, 3u);
  EXPECT_EQ(terms({.field = SearchField::kMerchant, .size = 2, .order = Order::kCountAsc}, &other),
            (Terms{{key("m4"), 1}, {key("m2"), 2}}));
  EXPECT_EQ(other, 5u);
  EXPECT_EQ(terms({.field = SearchField::kMerchant, .size = 3, .order = Order::kKeyDesc}),
            (Terms{{key("m4"), 1}, {key("m3"), 2}, {key("m2"), 2}}));
  EXPECT_EQ(terms({.field = SearchField::kMerchant, .order = Order::kKeyAsc}, &other),
            (Terms{{key("m1"), 3}, {key("m2"), 2}, {key("m3"), 2}, {key("m4"), 1}}));
  EXPECT_EQ(other, 0u);
  EXPECT_EQ(terms({.field = SearchField::kMerchant, .min_doc_count = 2}, &other),
            (Terms{{key("m1"), 3}, {key("m2"), 2}, {key("m3"), 2}}));
  EXPECT_EQ(other, 1u);  // m4's document is in no returned bucket.
  // A long field: amounts 7 (7 documents) and -5 (3).
  EXPECT_EQ(terms({.field = SearchField::kAmount, .order = Order::kKeyAsc}),
            (Terms{{SearchValue(std::int64_t{-5}), 3}, {SearchValue(std::int64_t{7}), 7}}));
}

// Elasticsearch's min_doc_count 0 lists the terms of the whole index, with zero counts, for
// every field type.
TEST(SearchIndexTest, TermsWithMinDocCountZeroListEveryIndexedValue) {
  std::vector<SearchDocument> documents;
  for (const char* merchant : {"a", "b", "c"}) {
    documents.push_back(Record(static_cast<std::int64_t>(documents.size()) + 1, 0));
    documents.back().merchant = merchant;
    documents.back().amount = static_cast<std::int64_t>(documents.size());
  }
  SearchIndex index;
  AddAll(documents, &index);
  auto buckets = [&](SearchField field) {
    auto result =
        index.Search({.query = Term(SearchField::kMerchant, "b"),
                      .size = 0,
                      .aggregations = {{.name = "t", .field = field, .min_doc_count = 0}}});
    EXPECT_TRUE(result.has_value());
    std::vector<std::pair<SearchValue, std::uint64_t>> out;
    if (!result) return out;
    for (const SearchBucket& bucket : result->aggregations.at(0).buckets) {
      out.emplace_back(bucket.key, bucket.doc_count);
    }
    return out;
  };
  EXPECT_EQ(buckets(SearchField::kMerchant),
            (std::vector<std::pair<SearchValue, std::uint64_t>>{
                {std::string("b"), 1}, {std::string("a"), 0}, {std::string("c"), 0}}));
  EXPECT_EQ(buckets(SearchField::kRecordId),
            (std::vector<std::pair<SearchValue, std::uint64_t>>{
                {std::string("2.0"), 1}, {std::string("1.0"), 0}, {std::string("3.0"), 0}}));
  EXPECT_EQ(buckets(SearchField::kAmount),
            (std::vector<std::pair<SearchValue, std::uint64_t>>{
                {std::int64_t{2}, 1}, {std::int64_t{1}, 0}, {std::int64_t{3}, 0}}));
}

TEST(SearchIndexTest, MetricsOfNoDocuments) {
  SearchIndex index;
  AddAll({Record(1, 0), Record(2, 0)}, &index);
  std::vector<Aggregation> aggregations;
  for (const Aggregation::Kind kind :
       {Aggregation::Kind::kSum, Aggregation::Kind::kAvg, Aggregation::Kind::kMin,
        Aggregation::Kind::kMax, Aggregation::Kind::kValueCount, Aggregation::Kind::kTerms,
        Aggregation::Kind::kDateHistogram}) {
    aggregations.push_back({.name = std::to_string(aggregations.size()),
                            .kind = kind,
                            .field = kind == Aggregation::Kind::kDateHistogram
                                         ? SearchField::kOccurredAt
                                         : SearchField::kAmount,
                            .calendar = Aggregation::Calendar::kDay});
  }
  auto result = index.Search({.query = {.kind = Kind::kMatchNone}, .aggregations = aggregations});
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->total, 0u);
  EXPECT_EQ(result->max_score, std::nullopt);
  const auto& got = result->aggregations;
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0].integer_value, 0);  // sum
  EXPECT_EQ(got[0].double_value, std::nullopt);
  EXPECT_EQ(got[1].double_value, std::nullopt);   // avg
  EXPECT_EQ(got[2].integer_value, std::nullopt);  // min
  EXPECT_EQ(got[3].integer_value, std::nullopt);  // max
  EXPECT_EQ(got[4].integer_value, 0);             // value_count
  EXPECT_TRUE(got[5].buckets.empty());
  EXPECT_EQ(got[5].sum_other_doc_count, 0u);
  EXPECT_TRUE(got[6].buckets.empty());
  // value_count counts present values: an absent keyword is not one.
  SearchIndex partial;
  std::vector<SearchDocument> documents = {Record(1, 0), Record(2, 0), Record(3, 0)};
  documents[1].merchant = "m";
  AddAll(documents, &partial);
  auto counted = partial.Search({.aggregations = {{.name = "merchant",
                                                   .kind = Aggregation::Kind::kValueCount,
                                                   .field = SearchField::kMerchant},
                                                  {.name = "record_id",
                                                   .kind = Aggregation::Kind::kValueCount,
                                                   .field = SearchField::kRecordId}}});
  ASSERT_TRUE(counted.has_value());
  EXPECT_EQ(counted->aggregations.at(0).integer_value, 1);
  EXPECT_EQ(counted->aggregations.at(1).integer_value, 3);
}

TEST(SearchIndexTest, TooManyBucketsCountsEveryAggregationAndSubAggregation) {
  const Aggregation per_ms{.name = "ms",
                           .kind = Aggregation::Kind::kDateHistogram,
                           .field = SearchField::kOccurredAt,
                           .fixed_interval_ms = 1};
  auto index_of = [](std::vector<std::pair<std::int64_t, const char*>> rows) {
    auto index = std::make_unique<SearchIndex>();
    std::int64_t position = 0;
    for (const auto& [ms, merchant] : rows) {
      SearchDocument document = Record(++position, 0);
      document.occurred_at_us = ms * 1000;
      document.merchant = merchant;
      index->Add(document);
    }
    return index;
  };
  auto expect_too_many = [](const Result<SearchResult>& result) {
    ASSERT_FALSE(result.has_value());
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(result.error().code, "too_many_buckets");
  };
  static_assert(kSearchBucketsMax == 65'536);
  // Exactly the limit: 0 .. 65535 ms.
  auto at_limit = index_of({{0, "a"}, {65'535, "a"}});
  auto fits = at_limit->Search({.size = 0, .aggregations = {per_ms}});
  ASSERT_TRUE(fits.has_value()) << fits.error().message;
  EXPECT_EQ(fits->aggregations.at(0).buckets.size(), kSearchBucketsMax);
  // One more bucket.
  expect_too_many(index_of({{0, "a"}, {65'536, "a"}})->Search({.aggregations = {per_ms}}));
  // Two aggregations of 40,001 buckets each.
  auto wide = index_of({{0, "a"}, {40'000, "a"}, {0, "b"}, {40'000, "b"}});
  Aggregation again = per_ms;
  again.name = "again";
  ASSERT_TRUE(wide->Search({.aggregations = {per_ms}}).has_value());
  expect_too_many(wide->Search({.aggregations = {per_ms, again}}));
  // Per-bucket sub-aggregations: 2 terms buckets of 40,001 each.
  expect_too_many(wide->Search(
      {.aggregations = {{.name = "t", .field = SearchField::kMerchant, .subs = {per_ms}}}}));
  // A filter that leaves one merchant fits.
  auto one = wide->Search(
      {.query = Term(SearchField::kMerchant, "a"),
       .aggregations = {{.name = "t", .field = SearchField::kMerchant, .subs = {per_ms}}}});
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->aggregations.at(0).buckets.at(0).subs.at(0).buckets.size(), 40'001u);
}

TEST(SearchIndexTest, SearchAfterOfTheWrongShapeIsInvalid) {
  SearchIndex index;
  std::vector<SearchDocument> documents = {Record(1, 0), Record(1, 1), Record(2, 0)};
  documents[0].merchant = "m";
  AddAll(documents, &index);
  const SearchSort by_score{.kind = SearchSort::Kind::kScore, .descending = true};
  struct Case {
    std::vector<SearchSort> sort;
    std::vector<SearchValue> after;
  };
  const std::vector<Case> invalid = {
      {{}, {std::int64_t{1}}},  // Default sort.
      {{ByField(SearchField::kAmount)}, {std::int64_t{1}, std::int64_t{2}}},
      {{ByField(SearchField::kAmount), kByDoc}, {std::int64_t{1}}},
      {{ByField(SearchField::kAmount)}, {std::string("1")}},
      {{ByField(SearchField::kAmount)}, {std::monostate()}},
      {{ByField(SearchField::kAmount)}, {1.5}},
      {{ByField(SearchField::kOccurredAt)}, {std::string("2024-01-01")}},
      {{ByField(SearchField::kMerchant)}, {std::int64_t{1}}},
      {{ByField(SearchField::kRecordId)}, {1.0}},
      {{kByDoc}, {1.5}},
      {{kByDoc}, {std::string("1")}},
      {{kByDoc}, {std::monostate()}},
      {{by_score}, {std::string("1.0")}},
      {{by_score}, {std::monostate()}},
  };
  for (const Case& c : invalid) {
    SearchRequest request{.sort = c.sort, .search_after = c.after};
    auto result = index.Search(request);
    ASSERT_FALSE(result.has_value()) << Describe(request);
    EXPECT_EQ(result.error().kind, ErrorKind::kInvalidArgument);
    EXPECT_EQ(result.error().code, "invalid_search_after") << Describe(request);
  }
  const std::vector<Case> valid = {
      {{ByField(SearchField::kMerchant)}, {std::monostate()}},
      {{ByField(SearchField::kMerchant), kByDoc}, {std::string("m"), std::int64_t{0}}},
      {{by_score}, {std::int64_t{1}}},
      {{by_score, kByDoc}, {1.0, std::int64_t{-5}}},
      {{kByDoc}, {std::int64_t{-1}}},
      {{kByDoc}, {std::int64_t{1} << 40}},
  };
  const std::vector<Docs> expected = {{}, {1, 2}, {}, {0, 1, 2}, {0, 1, 2}, {}};
  for (std::size_t i = 0; i < valid.size(); ++i) {
    SearchRequest request{.sort = valid[i].sort, .search_after = valid[i].after};
    auto result = index.Search(request);
    ASSERT_TRUE(result.has_value()) << Describe(request);
    EXPECT_EQ(HitDocs(*result), expected[i]) << Describe(request);
  }
}

// minimum_should_match above the number of should clauses matches nothing, also when there is
// no should clause at all (Elasticsearch hands it to Lucene unclamped); a bool without any
// clause is match_all whatever its minimum.
TEST(SearchIndexTest, MinimumShouldMatchAboveTheShouldClausesMatchesNothing) {
  SearchIndex index;
  std::vector<SearchDocument> documents = {Record(1, 0), Record(2, 0)};
  documents[0].kind = "a";
  documents[1].kind = "b";
  AddAll(documents, &index);
  auto bool_query = [](std::vector<SearchQuery> must, std::vector<SearchQuery> should,
                       std::optional<std::uint32_t> minimum) {
    return SearchQuery{.kind = Kind::kBool,
                       .must = std::move(must),
                       .should = std::move(should),
                       .minimum_should_match = minimum};
  };
  const SearchQuery all{.kind = Kind::kMatchAll};
  EXPECT_EQ(index.Count(bool_query({all}, {Term(SearchField::kKind, "a")}, 2)), 0u);
  EXPECT_EQ(index.Count(bool_query({}, {Term(SearchField::kKind, "a")}, 2)), 0u);
  EXPECT_EQ(index.Count(bool_query({all}, {}, 1)), 0u)
      << "{\"bool\":{\"must\":[{\"match_all\":{}}],\"minimum_should_match\":1}}";
  EXPECT_EQ(index.Count(bool_query({Term(SearchField::kKind, "a")}, {}, 2)), 0u)
      << "{\"bool\":{\"must\":[{\"term\":{\"kind\":\"a\"}}],\"minimum_should_match\":2}}";
  EXPECT_EQ(index.Count(bool_query({all}, {}, 0)), 2u);
  EXPECT_EQ(index.Count(bool_query({}, {}, 2)), 2u);
  EXPECT_EQ(index.Count(bool_query({all}, {Term(SearchField::kKind, "a")}, std::nullopt)), 2u);
  EXPECT_EQ(index.Count(bool_query({}, {Term(SearchField::kKind, "a")}, std::nullopt)), 1u);
}

}  // namespace
}  // namespace ledger::projections
