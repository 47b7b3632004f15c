// The top level of a search body: query, from/size, sort, search_after, track_total_hits,
// track_scores, _source, aggs; the URL parameters; the request-wide checks.
#include "transport/search_dsl.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

#include "transport/internal/search_dsl_internal.h"
#include "transport/url.h"

namespace ledger::transport {
namespace {

using internal::IllegalArgument;
using internal::ParsingError;
using internal::View;
using internal::XContentError;
using projections::SearchField;
using projections::SearchFieldInfoOf;
using projections::SearchFieldType;
using projections::SearchSort;
using projections::SearchValue;
using rapidjson::Value;

// '*' matches any run of bytes. Greedy with one backtrack point: O(pattern x text).
bool WildcardMatch(std::string_view pattern, std::string_view text) {
  std::size_t p = 0, t = 0;
  std::size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

// size and from: a non-negative integer.
Result<std::uint64_t> Window(std::string_view name, const Value& value) {
  if (!value.IsInt64()) {
    return std::unexpected(XContentError("[" + std::string(name) + "] must be an integer"));
  }
  if (value.GetInt64() < 0) {
    return std::unexpected(IllegalArgument("[" + std::string(name) +
                                           "] parameter cannot be negative, found [" +
                                           std::to_string(value.GetInt64()) + "]"));
  }
  return static_cast<std::uint64_t>(value.GetInt64());
}

// track_total_hits: true, false or an integer (-1 is false, as in Elasticsearch).
Result<std::optional<std::uint64_t>> TrackTotalHits(std::optional<bool> flag,
                                                    std::optional<std::int64_t> number) {
  if (flag) {
    return *flag ? std::optional<std::uint64_t>(std::numeric_limits<std::uint64_t>::max())
                 : std::nullopt;
  }
  if (*number == -1) return std::optional<std::uint64_t>();
  if (*number < 0 || *number > std::numeric_limits<std::int32_t>::max()) {
    return std::unexpected(
        IllegalArgument("[track_total_hits] parameter must be positive or equals to -1, got " +
                        std::to_string(*number)));
  }
  return std::optional<std::uint64_t>(static_cast<std::uint64_t>(*number));
}

Result<std::optional<std::uint64_t>> TrackTotalHitsValue(const Value& value) {
  if (value.IsBool()) return TrackTotalHits(value.GetBool(), std::nullopt);
  if (value.IsInt64()) return TrackTotalHits(std::nullopt, value.GetInt64());
  return std::unexpected(XContentError("[track_total_hits] must be true, false or an integer"));
}

Result<std::vector<std::string>> Patterns(std::string_view name, const Value& value) {
  std::vector<std::string> patterns;
  if (value.IsString()) {
    patterns.emplace_back(View(value));
    return patterns;
  }
  if (value.IsArray()) {
    for (const Value& element : value.GetArray()) {
      if (!element.IsString()) break;
      patterns.emplace_back(View(element));
    }
    if (patterns.size() == value.Size()) return patterns;
  }
  return std::unexpected(
      XContentError("[" + std::string(name) + "] must be a string or an array of strings"));
}

Result<SearchSourceFilter> SourceFilter(const Value& value) {
  SearchSourceFilter filter;
  if (value.IsBool()) {
    filter.enabled = value.GetBool();
    return filter;
  }
  if (!value.IsObject()) {
    auto includes = Patterns("_source", value);
    if (!includes) return std::unexpected(includes.error());
    filter.includes = std::move(*includes);
    return filter;
  }
  for (const auto& member : value.GetObject()) {
    const std::string_view name = View(member.name);
    if (name != "includes" && name != "excludes")
      return std::unexpected(ParsingError("[_source] does not support [" + std::string(name) +
                                          "]: use includes and excludes"));
    auto patterns = Patterns(name, member.value);
    if (!patterns) return std::unexpected(patterns.error());
    (name == "includes" ? filter.includes : filter.excludes) = std::move(*patterns);
  }
  return filter;
}

Result<bool> SortOrder(const Value& value) {
  const std::string_view order = value.IsString() ? View(value) : std::string_view();
  if (order == "asc" || order == "desc") return order == "desc";
  return std::unexpected(
      IllegalArgument("Unknown SortOrder [" + std::string(order) + "]: use asc or desc"));
}

// One sort key: `name` with `options` ("asc", "desc", {"order": ...}) or none.
Result<SearchSort> SortKey(std::string_view name, const Value* options) {
  SearchSort sort;
  if (name == "_score") {
    sort.kind = SearchSort::Kind::kScore;
    sort.descending = true;
  } else if (name == "_doc") {
    sort.kind = SearchSort::Kind::kDoc;
  } else {
    auto field = internal::MappedField(name, "sort");
    if (!field) return std::unexpected(field.error());
    if (SearchFieldInfoOf(*field).type == SearchFieldType::kText) {
      return std::unexpected(internal::TextFieldData(name));
    }
    sort.kind = SearchSort::Kind::kField;
    sort.field = *field;
  }
  if (options == nullptr) return sort;
  const Value* order = options;
  if (options->IsObject()) {
    order = nullptr;
    for (const auto& member : options->GetObject()) {
      if (View(member.name) != "order") {
        return std::unexpected(
            XContentError("[field_sort] unknown field [" + std::string(View(member.name)) + "]"));
      }
      order = &member.value;
    }
  }
  if (order == nullptr) return sort;
  auto descending = SortOrder(*order);
  if (!descending) return std::unexpected(descending.error());
  sort.descending = *descending;
  return sort;
}

Status SortElement(const Value& element, std::vector<SearchSort>* sort) {
  if (element.IsString()) {
    auto key = SortKey(View(element), nullptr);
    if (!key) return std::unexpected(key.error());
    sort->push_back(*key);
    return Ok();
  }
  if (!element.IsObject()) {
    return std::unexpected(ParsingError("[sort] takes strings and objects, not " +
                                        std::string(internal::TokenName(element))));
  }
  for (const auto& member : element.GetObject()) {
    auto key = SortKey(View(member.name), &member.value);
    if (!key) return std::unexpected(key.error());
    sort->push_back(*key);
  }
  return Ok();
}

Result<std::vector<SearchSort>> Sort(const Value& value) {
  std::vector<SearchSort> sort;
  if (!value.IsArray()) {
    if (auto status = SortElement(value, &sort); !status) return std::unexpected(status.error());
    return sort;
  }
  for (const Value& element : value.GetArray()) {
    if (auto status = SortElement(element, &sort); !status) return std::unexpected(status.error());
  }
  return sort;
}

// One search_after value, typed by its sort key.
Result<SearchValue> SearchAfterValue(const SearchSort& key, const Value& value) {
  std::string_view expected;
  switch (key.kind) {
    case SearchSort::Kind::kScore:
      if (value.IsNumber()) return SearchValue(value.GetDouble());
      expected = "a number (_score)";
      break;
    case SearchSort::Kind::kDoc:
      if (value.IsInt64() && value.GetInt64() >= 0) return SearchValue(value.GetInt64());
      expected = "a non-negative integer (_doc)";
      break;
    case SearchSort::Kind::kField:
      switch (SearchFieldInfoOf(key.field).type) {
        case SearchFieldType::kKeyword:
          if (value.IsString()) return SearchValue(std::string(View(value)));
          if (value.IsNull()) return SearchValue();
          expected = "a string or null";
          break;
        case SearchFieldType::kDate:
        case SearchFieldType::kLong:
          if (value.IsInt64()) return SearchValue(value.GetInt64());
          expected = "an integer (dates: epoch milliseconds)";
          break;
        case SearchFieldType::kText:
          break;
      }
      break;
  }
  const std::string name = key.kind == SearchSort::Kind::kField
                               ? std::string(SearchFieldInfoOf(key.field).name)
                           : key.kind == SearchSort::Kind::kScore ? "_score"
                                                                  : "_doc";
  return std::unexpected(IllegalArgument("Failed to parse search_after value for field [" + name +
                                         "]: expected " + std::string(expected) + ", got " +
                                         std::string(internal::TokenName(value))));
}

Status SearchAfter(const Value& value, SearchCall* call) {
  if (!value.IsArray()) {
    return std::unexpected(XContentError("[search_after] must be an array"));
  }
  const auto& sort = call->request.sort;
  if (sort.empty()) {
    return std::unexpected(IllegalArgument(
        "[search_after] needs a [sort]: pass the previous page's last sort values"));
  }
  if (value.Size() != sort.size()) {
    return std::unexpected(IllegalArgument("search_after has " + std::to_string(value.Size()) +
                                           " value(s) but sort has " + std::to_string(sort.size()) +
                                           "."));
  }
  for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
    auto parsed = SearchAfterValue(sort[i], value[i]);
    if (!parsed) return std::unexpected(parsed.error());
    call->request.search_after.push_back(std::move(*parsed));
  }
  return Ok();
}

// The parts of the body that need more than one key: parsed after the loop.
struct Deferred {
  const Value* search_after = nullptr;
  const Value* aggs = nullptr;
  std::optional<std::uint64_t> from, size;
};

Status TopLevelKey(std::string_view key, const Value& value, SearchCall* call, Deferred* deferred,
                   std::size_t* clauses) {
  if (key == "query") {
    auto query = internal::ParseQueryClause(value, clauses);
    if (!query) return std::unexpected(query.error());
    call->request.query = std::move(*query);
  } else if (key == "size" || key == "from") {
    auto number = Window(key, value);
    if (!number) return std::unexpected(number.error());
    (key == "size" ? deferred->size : deferred->from) = *number;
  } else if (key == "sort") {
    auto sort = Sort(value);
    if (!sort) return std::unexpected(sort.error());
    call->request.sort = std::move(*sort);
    call->sorted = true;
  } else if (key == "search_after") {
    deferred->search_after = &value;
  } else if (key == "track_total_hits") {
    auto track = TrackTotalHitsValue(value);
    if (!track) return std::unexpected(track.error());
    call->total_hits_up_to = *track;
  } else if (key == "track_scores") {
    if (!value.IsBool()) return std::unexpected(XContentError("[track_scores] must be a boolean"));
    call->request.track_scores = value.GetBool();
  } else if (key == "_source") {
    auto source = SourceFilter(value);
    if (!source) return std::unexpected(source.error());
    call->source = std::move(*source);
  } else if (key == "aggs" || key == "aggregations") {
    if (deferred->aggs != nullptr) {
      return std::unexpected(
          ParsingError("Found two aggregation definitions: [aggs] and "
                       "[aggregations]"));
    }
    deferred->aggs = &value;
  } else {
    return std::unexpected(internal::UnknownKey(key, value));
  }
  return Ok();
}

// A URL integer parameter.
Result<std::int64_t> UrlInteger(std::string_view name, const std::string& text) {
  std::string_view digits = text;
  const bool negative = digits.starts_with('-');
  if (negative) digits.remove_prefix(1);
  std::uint64_t value = 0;
  if (!ParseUnsigned(digits, &value) || value > std::numeric_limits<std::int32_t>::max()) {
    return std::unexpected(IllegalArgument("Failed to parse int parameter [" + std::string(name) +
                                           "] with value [" + text + "]"));
  }
  return negative ? -static_cast<std::int64_t>(value) : static_cast<std::int64_t>(value);
}

Status ApplyUrlParams(const SearchUrlParams& params, SearchCall* call, Deferred* deferred) {
  for (const auto& [name, text, slot] : {std::tuple{"from", &params.from, &deferred->from},
                                         std::tuple{"size", &params.size, &deferred->size}}) {
    if (!*text) continue;
    auto value = UrlInteger(name, **text);
    if (!value) return std::unexpected(value.error());
    if (*value < 0) {
      return std::unexpected(IllegalArgument(
          "[" + std::string(name) + "] parameter cannot be negative, found [" + **text + "]"));
    }
    *slot = static_cast<std::uint64_t>(*value);
  }
  if (const auto& track = params.track_total_hits) {
    Result<std::optional<std::uint64_t>> parsed = std::optional<std::uint64_t>();
    if (*track == "true" || *track == "false" || track->empty()) {
      parsed = TrackTotalHits(*track != "false", std::nullopt);
    } else {
      auto number = UrlInteger("track_total_hits", *track);
      if (!number) return std::unexpected(number.error());
      parsed = TrackTotalHits(std::nullopt, *number);
    }
    if (!parsed) return std::unexpected(parsed.error());
    call->total_hits_up_to = *parsed;
  }
  return Ok();
}

// from + size within kSearchWindowMax (Elasticsearch's index.max_result_window).
Status CheckWindow(const Deferred& deferred, SearchCall* call) {
  const std::uint64_t from = deferred.from.value_or(0);
  const std::uint64_t size = deferred.size.value_or(10);
  if (from > kSearchWindowMax || size > kSearchWindowMax || from + size > kSearchWindowMax) {
    return std::unexpected(IllegalArgument(
        "Result window is too large, from + size must be less than or equal to: [" +
        std::to_string(kSearchWindowMax) + "] but was [" + std::to_string(from + size) +
        "]. See the scroll api for a more efficient way to request large data sets. This "
        "limit can be set by changing the [index.max_result_window] index level setting."));
  }
  call->request.from = static_cast<std::uint32_t>(from);
  call->request.size = static_cast<std::uint32_t>(size);
  return Ok();
}

}  // namespace

bool SearchSourceFilter::Keeps(std::string_view name) const {
  if (!enabled) return false;
  const auto matches = [name](const std::string& pattern) { return WildcardMatch(pattern, name); };
  if (!includes.empty() && std::none_of(includes.begin(), includes.end(), matches)) return false;
  return std::none_of(excludes.begin(), excludes.end(), matches);
}

Result<SearchCall> ParseSearchValue(projections::SearchIndexId index, const Value& value,
                                    const SearchUrlParams& params) {
  if (!value.IsObject()) {
    return std::unexpected(ParsingError("Expected [START_OBJECT] but found [" +
                                        std::string(internal::TokenName(value)) + "]"));
  }
  SearchCall call;
  call.request.index = index;
  Deferred deferred;
  std::size_t clauses = 0;
  for (const auto& member : value.GetObject()) {
    if (auto status = TopLevelKey(View(member.name), member.value, &call, &deferred, &clauses);
        !status) {
      return std::unexpected(status.error());
    }
  }
  if (auto status = ApplyUrlParams(params, &call, &deferred); !status) {
    return std::unexpected(status.error());
  }
  if (auto status = CheckWindow(deferred, &call); !status) return std::unexpected(status.error());
  if (deferred.search_after != nullptr) {
    if (call.request.from != 0) {
      return std::unexpected(
          IllegalArgument("[from] parameter must be set to 0 when [search_after] is used."));
    }
    if (auto status = SearchAfter(*deferred.search_after, &call); !status) {
      return std::unexpected(status.error());
    }
  }
  if (deferred.aggs != nullptr) {
    auto aggregations = internal::ParseAggregations(*deferred.aggs);
    if (!aggregations) return std::unexpected(aggregations.error());
    call.request.aggregations = std::move(*aggregations);
  }
  return call;
}

Result<SearchCall> ParseSearch(projections::SearchIndexId index, std::string_view body,
                               const SearchUrlParams& params) {
  auto document = ParseSearchJson(body);
  if (!document) return std::unexpected(document.error());
  return ParseSearchValue(index, *document, params);
}

Result<projections::SearchQuery> ParseCountBody(std::string_view body) {
  auto document = ParseSearchJson(body);
  if (!document) return std::unexpected(document.error());
  if (!document->IsObject()) {
    return std::unexpected(ParsingError("Expected [START_OBJECT] but found [" +
                                        std::string(internal::TokenName(*document)) + "]"));
  }
  projections::SearchQuery query;
  std::size_t clauses = 0;
  for (const auto& member : document->GetObject()) {
    if (View(member.name) != "query") {
      return std::unexpected(
          ParsingError("request does not support [" + std::string(View(member.name)) + "]"));
    }
    auto parsed = internal::ParseQueryClause(member.value, &clauses);
    if (!parsed) return std::unexpected(parsed.error());
    query = std::move(*parsed);
  }
  return query;
}

}  // namespace ledger::transport
