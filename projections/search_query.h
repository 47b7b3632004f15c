// The search projection's vocabulary, shared by the engine (projections/search_index.h) and the
// Elasticsearch-compatible HTTP layer (transport/search_*.h): the two indexes and their fields,
// the documents, a typed search request (the query DSL after parsing and type checking) and its
// result. No JSON here: transport/ parses the DSL into these types and renders the results.
//
// Units: amount and position are integers as in the log (minor units; log positions). Dates
// (occurred_at) are milliseconds since the Unix epoch, UTC, as Elasticsearch's `date` type keeps
// them: a range, a sort value, a histogram key are all in ms. The document's _source keeps the
// event's full microsecond time as an RFC 3339 string.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ledger::projections {

// --- Indexes and fields. ---

enum class SearchIndexId : std::uint8_t { kSettlements, kEntries };
inline constexpr std::size_t kSearchIndexCount = 2;
// "settlements" | "entries".
[[nodiscard]] std::string_view SearchIndexName(SearchIndexId index);
[[nodiscard]] std::optional<SearchIndexId> SearchIndexFromName(std::string_view name);

enum class SearchFieldType : std::uint8_t { kKeyword, kLong, kDate, kText };
// The Elasticsearch mapping type: "keyword", "long", "date", "text".
[[nodiscard]] std::string_view SearchFieldTypeName(SearchFieldType type);

// Both indexes have the same fields (docs/search.md says what each holds per event).
enum class SearchField : std::uint8_t {
  kRecordId,      // keyword, unique: "<position>.<line or posting index>"; also the _id.
  kType,          // keyword: the event type, e.g. "OrderSettled".
  kOrderId,       // keyword
  kMerchant,      // keyword
  kAccount,       // keyword
  kCounterparty,  // keyword
  kKind,          // keyword
  kCategory,      // keyword: "income" | "other" | "expenditure"
  kAsset,         // keyword
  kRef,           // keyword
  kAmount,        // long, signed minor units
  kPosition,      // long
  kOccurredAt,    // date
  kMemo,          // text
};
inline constexpr std::size_t kSearchFieldCount = 14;

struct SearchFieldInfo {
  SearchField field;
  std::string_view name;
  SearchFieldType type;
};
// Every field, in SearchField order.
[[nodiscard]] std::span<const SearchFieldInfo> SearchFields();
[[nodiscard]] const SearchFieldInfo& SearchFieldInfoOf(SearchField field);
// nullopt for a name no index maps.
[[nodiscard]] std::optional<SearchField> SearchFieldFromName(std::string_view name);

// One document. Strings may be empty: an empty keyword or text field is absent (exists does
// not match it, _source leaves it out).
struct SearchDocument {
  std::string record_id, type, order_id, merchant, account, counterparty, kind, category, asset,
      ref, memo;
  std::int64_t amount = 0;
  std::int64_t position = 0;
  std::int64_t occurred_at_us = 0;  // Full precision; the index keeps occurred_at_us / 1000.
  bool operator==(const SearchDocument&) const = default;
};

// The value of keyword or text field `field` in `document` (asserts it is one).
[[nodiscard]] const std::string& SearchDocumentText(const SearchDocument& document,
                                                    SearchField field);

// The lower-cased tokens of `text` for `match` and the memo field: maximal runs of ASCII letters
// and digits and of non-ASCII bytes (so UTF-8 words stay whole), ASCII lower-cased, each cut to
// kSearchTokenBytesMax bytes.
[[nodiscard]] std::vector<std::string> SearchTokens(std::string_view text);

// --- The request. ---

// A sort or search_after value: null (missing), an integer (long; date in ms; _doc), a double
// (_score) or a string (keyword).
using SearchValue = std::variant<std::monostate, std::int64_t, double, std::string>;

struct SearchQuery {
  enum class Kind : std::uint8_t {
    kMatchAll,
    kMatchNone,  // e.g. a leaf on a field no index maps (Elasticsearch matches nothing too).
    kTerm,       // field = any of `keywords` (keyword field) or `numbers` (long/date): one value.
    kTerms,      // same, any number of values (at most kSearchTermsMax).
    kRange,      // numbers: long or date (ms) bounds; keyword: string bounds, byte order.
    kMatch,      // text field: BM25 over `text`'s tokens; never on other fields (parser
                 // turns a match on a keyword/long/date field into kTerm).
    kPrefix,     // keyword field starting with keywords[0].
    kExists,     // the field is present (non-empty; long and date fields always are).
    kBool,
  };
  Kind kind = Kind::kMatchAll;
  SearchField field = SearchField::kRecordId;
  std::vector<std::string> keywords;
  std::vector<std::int64_t> numbers;
  // kRange bounds on a long/date field; each may be absent.
  std::optional<std::int64_t> gt, gte, lt, lte;
  // kRange bounds on a keyword field.
  std::optional<std::string> gt_keyword, gte_keyword, lt_keyword, lte_keyword;
  // kMatch.
  std::string text;
  bool match_all_tokens = false;  // "operator": "and"
  // kBool.
  std::vector<SearchQuery> must, filter, should, must_not;
  // Already resolved from integers/percentages against should.size(); nullopt: Elasticsearch's
  // default (1 if there are should clauses and no must or filter clauses, else 0).
  std::optional<std::uint32_t> minimum_should_match;
  double boost = 1.0;
};

struct SearchSort {
  enum class Kind : std::uint8_t { kField, kScore, kDoc };
  Kind kind = Kind::kScore;
  SearchField field = SearchField::kRecordId;  // kField: a keyword, long or date field.
  bool descending = false;  // Defaults the parser applies: _score desc, others asc.
};

struct SearchAggregation {
  enum class Kind : std::uint8_t {
    kTerms,          // keyword, long or date field
    kSum,            // long
    kAvg,            // long
    kMin,            // long or date
    kMax,            // long or date
    kValueCount,     // any field but text
    kDateHistogram,  // date field
  };
  enum class Order : std::uint8_t { kCountDesc, kCountAsc, kKeyAsc, kKeyDesc };
  enum class Calendar : std::uint8_t { kNone, kDay, kWeek, kMonth, kYear };

  std::string name;
  Kind kind = Kind::kTerms;
  SearchField field = SearchField::kMerchant;
  // kTerms: at most kSearchBucketsMax. Order ties break by key ascending.
  std::uint32_t size = 10;
  Order order = Order::kCountDesc;
  // Buckets with fewer documents are left out; nullopt: 1 for terms, 0 for date_histogram
  // (which then fills empty buckets between the first and last non-empty one).
  std::optional<std::uint64_t> min_doc_count;
  // kDateHistogram: exactly one of calendar (UTC; weeks start on Monday) and fixed_interval_ms.
  Calendar calendar = Calendar::kNone;
  std::int64_t fixed_interval_ms = 0;
  // Sub-aggregations, computed per bucket (kTerms, kDateHistogram only); one level: these have
  // none of their own.
  std::vector<SearchAggregation> subs;
};

struct SearchRequest {
  SearchIndexId index = SearchIndexId::kSettlements;
  SearchQuery query;  // match_all by default
  std::uint32_t from = 0;
  std::uint32_t size = 10;       // from + size <= kSearchWindowMax
  std::vector<SearchSort> sort;  // Empty: _score desc, then index order.
  // One value per sort key (the sort of the previous page's last hit); empty: none. With
  // search_after, from must be 0.
  std::vector<SearchValue> search_after;
  std::vector<SearchAggregation> aggregations;
  // Whether to compute scores when not sorting by _score (track_scores).
  bool track_scores = false;
};

// --- The result. ---

struct SearchHit {
  std::uint32_t doc = 0;          // Internal document number (index order = log order).
  std::optional<double> score;    // nullopt when not computed (Elasticsearch prints null).
  std::vector<SearchValue> sort;  // One per sort key; empty when the request had no sort.
  SearchDocument source;
};

struct SearchAggregationResult;

struct SearchBucket {
  SearchValue key;  // string (keyword), integer (long; date bucket start in ms)
  std::uint64_t doc_count = 0;
  std::vector<SearchAggregationResult> subs;  // In request order.
};

struct SearchAggregationResult {
  std::string name;
  SearchAggregation::Kind kind = SearchAggregation::Kind::kTerms;
  SearchFieldType field_type = SearchFieldType::kKeyword;
  // Metrics: sum/min/max/value_count as exact integers (min/max of a date: ms); avg as a
  // double; nullopt when no document had a value (sum and value_count are then 0).
  std::optional<std::int64_t> integer_value;
  std::optional<double> double_value;
  // Buckets (terms, date_histogram), in response order.
  std::vector<SearchBucket> buckets;
  std::uint64_t sum_other_doc_count = 0;  // terms: documents in buckets not returned.
};

struct SearchResult {
  std::uint64_t position = 0;  // The projection checkpoint the answer reflects.
  std::uint64_t total = 0;     // Every document the query matches (search_after ignored).
  std::optional<double> max_score;
  std::vector<SearchHit> hits;
  std::vector<SearchAggregationResult> aggregations;
};

}  // namespace ledger::projections
