// SearchIndex's aggregations: terms, date_histogram (with one level of sub-aggregations) and the
// metrics sum, avg, min, max, value_count. Exact: one shard, every document counted.
#include <algorithm>
#include <chrono>
#include <limits>
#include <map>

#include "ledger/limits.h"
#include "projections/internal/search_index_impl.h"

namespace ledger::projections {
namespace {

using Aggregation = SearchAggregation;
using internal::KeywordColumn;

constexpr std::int64_t kDayMs = 86'400'000;

Error TooManyBuckets() {
  return MakeError(ErrorKind::kInvalidArgument, "too_many_buckets",
                   "the aggregations would build more than " + std::to_string(kSearchBucketsMax) +
                       " buckets (search.max_buckets); narrow the query or the interval");
}

Status CountBuckets(std::size_t more, std::size_t* buckets) {
  *buckets += more;
  if (*buckets > kSearchBucketsMax) return std::unexpected(TooManyBuckets());
  return Ok();
}

std::int64_t FloorDiv(std::int64_t value, std::int64_t divisor) {
  const std::int64_t quotient = value / divisor;
  return quotient - ((value % divisor != 0) && ((value < 0) != (divisor < 0)) ? 1 : 0);
}

std::int64_t MsOf(std::chrono::sys_days day) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(day.time_since_epoch()).count();
}

// The start (ms) of the calendar or fixed bucket holding `ms`, and the start of the next one.
std::int64_t BucketStart(const Aggregation& aggregation, std::int64_t ms) {
  using namespace std::chrono;
  if (aggregation.calendar == Aggregation::Calendar::kNone) {
    return FloorDiv(ms, aggregation.fixed_interval_ms) * aggregation.fixed_interval_ms;
  }
  const sys_days day{days(FloorDiv(ms, kDayMs))};
  const year_month_day date(day);
  switch (aggregation.calendar) {
    case Aggregation::Calendar::kDay:
      return MsOf(day);
    case Aggregation::Calendar::kWeek:
      return MsOf(day - (weekday(day) - Monday));
    case Aggregation::Calendar::kMonth:
      return MsOf(sys_days(date.year() / date.month() / 1));
    case Aggregation::Calendar::kYear:
      return MsOf(sys_days(date.year() / January / 1));
    case Aggregation::Calendar::kNone:
      break;
  }
  LEDGER_ASSERT(false);
  return 0;
}

std::int64_t NextBucketStart(const Aggregation& aggregation, std::int64_t start) {
  using namespace std::chrono;
  const sys_days day{days(FloorDiv(start, kDayMs))};
  const year_month_day date(day);
  switch (aggregation.calendar) {
    case Aggregation::Calendar::kNone:
      return start + aggregation.fixed_interval_ms;
    case Aggregation::Calendar::kDay:
      return start + kDayMs;
    case Aggregation::Calendar::kWeek:
      return start + 7 * kDayMs;
    case Aggregation::Calendar::kMonth:
      return MsOf(sys_days((date.year() / date.month() + months(1)) / 1));
    case Aggregation::Calendar::kYear:
      return MsOf(sys_days((date.year() + years(1)) / January / 1));
  }
  LEDGER_ASSERT(false);
  return 0;
}

bool IsKeyword(SearchField field) {
  return SearchFieldInfoOf(field).type == SearchFieldType::kKeyword;
}

// Compares bucket keys of one field (all strings or all integers).
bool KeyLess(const SearchValue& a, const SearchValue& b) {
  if (const auto* text = std::get_if<std::string>(&a)) return *text < std::get<std::string>(b);
  return std::get<std::int64_t>(a) < std::get<std::int64_t>(b);
}

// Sorts `buckets` by the terms aggregation's order; ties by key ascending.
void OrderBuckets(Aggregation::Order order, std::vector<SearchBucket>* buckets) {
  std::sort(buckets->begin(), buckets->end(),
            [order](const SearchBucket& a, const SearchBucket& b) {
              switch (order) {
                case Aggregation::Order::kCountDesc:
                  if (a.doc_count != b.doc_count) return a.doc_count > b.doc_count;
                  break;
                case Aggregation::Order::kCountAsc:
                  if (a.doc_count != b.doc_count) return a.doc_count < b.doc_count;
                  break;
                case Aggregation::Order::kKeyDesc:
                  return KeyLess(b.key, a.key);
                case Aggregation::Order::kKeyAsc:
                  break;
              }
              return KeyLess(a.key, b.key);
            });
}

}  // namespace

Result<std::vector<SearchAggregationResult>> SearchIndex::Impl::Aggregate(
    const std::vector<SearchAggregation>& aggregations, const Roaring& documents) const {
  std::vector<SearchAggregationResult> results;
  std::size_t buckets = 0;
  for (const SearchAggregation& aggregation : aggregations) {
    auto result = AggregateOne(aggregation, documents, &buckets);
    if (!result) return std::unexpected(result.error());
    results.push_back(std::move(*result));
  }
  return results;
}

Result<SearchAggregationResult> SearchIndex::Impl::AggregateOne(
    const SearchAggregation& aggregation, const Roaring& documents, std::size_t* buckets) const {
  Result<SearchAggregationResult> result;
  switch (aggregation.kind) {
    case Aggregation::Kind::kTerms:
      result = Terms(aggregation, documents, buckets);
      break;
    case Aggregation::Kind::kDateHistogram:
      result = DateHistogram(aggregation, documents, buckets);
      break;
    default:
      result = Metric(aggregation, documents);
      break;
  }
  if (!result) return result;
  result->name = aggregation.name;
  result->kind = aggregation.kind;
  result->field_type = SearchFieldInfoOf(aggregation.field).type;
  // Sub-aggregations over each bucket's documents.
  if (aggregation.subs.empty()) return result;
  const bool by_postings = aggregation.kind == Aggregation::Kind::kTerms &&
                           IsKeyword(aggregation.field) &&
                           aggregation.field != SearchField::kRecordId;
  std::map<SearchValue, std::vector<std::uint32_t>> groups;  // Without postings: one pass.
  if (!by_postings) {
    for (const SearchBucket& bucket : result->buckets) groups[bucket.key];
    std::string scratch;
    for (const std::uint32_t doc : documents) {
      SearchValue key;
      if (aggregation.kind == Aggregation::Kind::kDateHistogram) {
        key = BucketStart(aggregation, occurred_at_ms[doc]);
      } else if (IsKeyword(aggregation.field)) {
        key = std::string(KeywordOf(aggregation.field, doc, &scratch));
      } else {
        key = NumberOf(aggregation.field, doc);
      }
      if (auto it = groups.find(key); it != groups.end()) it->second.push_back(doc);
    }
  }
  for (SearchBucket& bucket : result->buckets) {
    Roaring bucket_documents;
    if (by_postings) {
      const KeywordColumn& column = keywords[static_cast<std::size_t>(aggregation.field)];
      bucket_documents =
          documents & column.postings[column.OrdinalOf(std::get<std::string>(bucket.key))];
    } else {
      const std::vector<std::uint32_t>& docs = groups[bucket.key];
      bucket_documents = Roaring(docs.size(), docs.data());
    }
    for (const SearchAggregation& sub : aggregation.subs) {
      auto sub_result = AggregateOne(sub, bucket_documents, buckets);
      if (!sub_result) return std::unexpected(sub_result.error());
      bucket.subs.push_back(std::move(*sub_result));
    }
  }
  return result;
}

Result<SearchAggregationResult> SearchIndex::Impl::Terms(const SearchAggregation& aggregation,
                                                         const Roaring& documents,
                                                         std::size_t* buckets) const {
  SearchAggregationResult result;
  std::vector<SearchBucket> all;
  std::uint64_t counted = 0;
  const std::uint64_t min_doc_count = aggregation.min_doc_count.value_or(1);
  if (IsKeyword(aggregation.field) && aggregation.field != SearchField::kRecordId) {
    const KeywordColumn& column = keywords[static_cast<std::size_t>(aggregation.field)];
    std::vector<std::uint64_t> counts(column.terms.size());
    for (const std::uint32_t doc : documents) ++counts[column.column[doc]];
    for (std::uint32_t ordinal = 1; ordinal < counts.size(); ++ordinal) {
      counted += counts[ordinal];
      if (counts[ordinal] >= std::max<std::uint64_t>(min_doc_count, 1) || (min_doc_count == 0)) {
        all.push_back({.key = column.terms[ordinal], .doc_count = counts[ordinal]});
      }
    }
  } else {
    std::map<SearchValue, std::uint64_t> counts;
    std::string scratch;
    for (const std::uint32_t doc : documents) {
      if (IsKeyword(aggregation.field)) {
        ++counts[std::string(KeywordOf(aggregation.field, doc, &scratch))];
      } else {
        ++counts[NumberOf(aggregation.field, doc)];
      }
    }
    if (min_doc_count == 0) {  // Every indexed value, as for the stored keyword fields.
      for (std::uint32_t doc = 0; doc < count; ++doc) {
        if (IsKeyword(aggregation.field)) {
          counts.try_emplace(std::string(KeywordOf(aggregation.field, doc, &scratch)), 0);
        } else {
          counts.try_emplace(NumberOf(aggregation.field, doc), 0);
        }
      }
    }
    for (const auto& [key, doc_count] : counts) {
      counted += doc_count;
      if (doc_count >= min_doc_count) all.push_back({.key = key, .doc_count = doc_count});
    }
  }
  OrderBuckets(aggregation.order, &all);
  if (all.size() > aggregation.size) all.resize(aggregation.size);
  if (auto counted_ok = CountBuckets(all.size(), buckets); !counted_ok)
    return std::unexpected(counted_ok.error());
  std::uint64_t shown = 0;
  for (const SearchBucket& bucket : all) shown += bucket.doc_count;
  result.sum_other_doc_count = counted - shown;
  result.buckets = std::move(all);
  return result;
}

Result<SearchAggregationResult> SearchIndex::Impl::DateHistogram(
    const SearchAggregation& aggregation, const Roaring& documents, std::size_t* buckets) const {
  LEDGER_ASSERT(aggregation.calendar != Aggregation::Calendar::kNone ||
                aggregation.fixed_interval_ms > 0);
  std::map<std::int64_t, std::uint64_t> counts;
  for (const std::uint32_t doc : documents) {
    ++counts[BucketStart(aggregation, NumberOf(aggregation.field, doc))];
  }
  SearchAggregationResult result;
  const std::uint64_t min_doc_count = aggregation.min_doc_count.value_or(0);
  if (counts.empty()) return result;
  if (min_doc_count > 0) {
    for (const auto& [start, doc_count] : counts) {
      if (doc_count < min_doc_count) continue;
      if (auto counted_ok = CountBuckets(1, buckets); !counted_ok)
        return std::unexpected(counted_ok.error());
      result.buckets.push_back({.key = start, .doc_count = doc_count});
    }
    return result;
  }
  // Every bucket from the first to the last non-empty one, empty ones included.
  const std::int64_t last = counts.rbegin()->first;
  for (std::int64_t start = counts.begin()->first; start <= last;
       start = NextBucketStart(aggregation, start)) {
    if (auto counted_ok = CountBuckets(1, buckets); !counted_ok)
      return std::unexpected(counted_ok.error());
    const auto it = counts.find(start);
    result.buckets.push_back({.key = start, .doc_count = it == counts.end() ? 0 : it->second});
  }
  return result;
}

SearchAggregationResult SearchIndex::Impl::Metric(const SearchAggregation& aggregation,
                                                  const Roaring& documents) const {
  SearchAggregationResult result;
  if (aggregation.kind == Aggregation::Kind::kValueCount) {
    std::uint64_t values = documents.cardinality();
    if (IsKeyword(aggregation.field) && aggregation.field != SearchField::kRecordId) {
      values =
          documents.and_cardinality(keywords[static_cast<std::size_t>(aggregation.field)].present);
    } else if (aggregation.field == SearchField::kMemo) {
      values = documents.and_cardinality(memo.present);
    }
    result.integer_value = static_cast<std::int64_t>(values);
    return result;
  }
  const std::vector<std::int64_t>& column = NumberColumn(aggregation.field);
  __int128 sum = 0;
  std::int64_t low = std::numeric_limits<std::int64_t>::max();
  std::int64_t high = std::numeric_limits<std::int64_t>::min();
  for (const std::uint32_t doc : documents) {
    sum += column[doc];
    low = std::min(low, column[doc]);
    high = std::max(high, column[doc]);
  }
  const std::uint64_t values = documents.cardinality();
  const bool fits = sum >= std::numeric_limits<std::int64_t>::min() &&
                    sum <= std::numeric_limits<std::int64_t>::max();
  switch (aggregation.kind) {
    case Aggregation::Kind::kSum:
      // Exact while it fits in 64 bits (always, for real ledgers); a double beyond.
      if (fits) {
        result.integer_value = static_cast<std::int64_t>(sum);
      } else {
        result.double_value = static_cast<double>(sum);
      }
      break;
    case Aggregation::Kind::kAvg:
      if (values > 0) {
        result.double_value =
            static_cast<double>(static_cast<long double>(sum) / static_cast<long double>(values));
      }
      break;
    case Aggregation::Kind::kMin:
      if (values > 0) result.integer_value = low;
      break;
    case Aggregation::Kind::kMax:
      if (values > 0) result.integer_value = high;
      break;
    default:
      LEDGER_ASSERT(false && "not a metric aggregation");
  }
  return result;
}

}  // namespace ledger::projections
