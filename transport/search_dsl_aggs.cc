// The aggregations part of the DSL parser: terms, date_histogram, sum, avg, min, max and
// value_count, with one level of sub-aggregations under a bucket aggregation.
#include <algorithm>
#include <utility>

#include "ledger/limits.h"
#include "transport/internal/search_dsl_internal.h"
#include "transport/url.h"

namespace ledger::transport::internal {
namespace {

using projections::SearchAggregation;
using projections::SearchField;
using projections::SearchFieldInfoOf;
using projections::SearchFieldType;
using rapidjson::Value;
using AggKind = SearchAggregation::Kind;

struct KindName {
  std::string_view name;
  AggKind kind;
};
constexpr KindName kKinds[] = {
    {"terms", AggKind::kTerms},
    {"date_histogram", AggKind::kDateHistogram},
    {"sum", AggKind::kSum},
    {"avg", AggKind::kAvg},
    {"min", AggKind::kMin},
    {"max", AggKind::kMax},
    {"value_count", AggKind::kValueCount},
};

std::optional<AggKind> KindFromName(std::string_view name) {
  for (const KindName& entry : kKinds) {
    if (entry.name == name) return entry.kind;
  }
  return std::nullopt;
}

std::string_view NameOfKind(AggKind kind) {
  for (const KindName& entry : kKinds) {
    if (entry.kind == kind) return entry.name;
  }
  return "";
}

bool IsBucketKind(AggKind kind) {
  return kind == AggKind::kTerms || kind == AggKind::kDateHistogram;
}

std::string In(std::string_view aggregation) { return " in [" + std::string(aggregation) + "]"; }

// Whether `kind` may run on a field of `type` (text never: no field data).
bool Supports(AggKind kind, SearchFieldType type) {
  switch (kind) {
    case AggKind::kTerms:
    case AggKind::kValueCount:
      return true;
    case AggKind::kSum:
    case AggKind::kAvg:
      return type == SearchFieldType::kLong;
    case AggKind::kMin:
    case AggKind::kMax:
      return type == SearchFieldType::kLong || type == SearchFieldType::kDate;
    case AggKind::kDateHistogram:
      return type == SearchFieldType::kDate;
  }
  return false;
}

// A non-negative integer option, at most `max`.
Result<std::uint64_t> Count(std::string_view option, std::string_view name, const Value& value,
                            std::uint64_t max) {
  if (!value.IsInt64()) {
    return std::unexpected(
        XContentError("[" + std::string(option) + "] must be an integer" + In(name)));
  }
  if (value.GetInt64() < 0 || static_cast<std::uint64_t>(value.GetInt64()) > max) {
    return std::unexpected(IllegalArgument("[" + std::string(option) + "] must be between 0 and " +
                                           std::to_string(max) + ". Found [" +
                                           std::to_string(value.GetInt64()) + "]" + In(name)));
  }
  return static_cast<std::uint64_t>(value.GetInt64());
}

Status TermsOrder(const Value& value, SearchAggregation* aggregation) {
  const Value* order = &value;
  if (order->IsArray() && order->Size() == 1) order = &(*order)[0];
  const std::string where = In(aggregation->name);
  if (!order->IsObject() || order->MemberCount() != 1 || !order->MemberBegin()->value.IsString()) {
    return std::unexpected(ParsingError(
        "[order] must be {\"_count\"|\"_key\": \"asc\"|\"desc\"} (one key, no sub-aggregation "
        "or compound order)" +
        where));
  }
  const std::string_view key = View(order->MemberBegin()->name);
  const std::string_view direction = View(order->MemberBegin()->value);
  if ((key != "_count" && key != "_key") || (direction != "asc" && direction != "desc")) {
    return std::unexpected(
        ParsingError("[order] by [" + std::string(key) + "] [" + std::string(direction) +
                     "] is not supported: use _count or _key, asc or desc" + where));
  }
  const bool ascending = direction == "asc";
  if (key == "_count") {
    aggregation->order =
        ascending ? SearchAggregation::Order::kCountAsc : SearchAggregation::Order::kCountDesc;
  } else {
    aggregation->order =
        ascending ? SearchAggregation::Order::kKeyAsc : SearchAggregation::Order::kKeyDesc;
  }
  return Ok();
}

// calendar_interval: day, week, month, year (and minute, hour as fixed intervals: the same in
// UTC).
Status CalendarInterval(const Value& value, SearchAggregation* aggregation) {
  using Calendar = SearchAggregation::Calendar;
  const std::string_view text = value.IsString() ? View(value) : std::string_view();
  if (text == "day" || text == "1d") {
    aggregation->calendar = Calendar::kDay;
  } else if (text == "week" || text == "1w") {
    aggregation->calendar = Calendar::kWeek;
  } else if (text == "month" || text == "1M") {
    aggregation->calendar = Calendar::kMonth;
  } else if (text == "year" || text == "1y") {
    aggregation->calendar = Calendar::kYear;
  } else if (text == "minute" || text == "1m") {
    aggregation->fixed_interval_ms = 60'000;
  } else if (text == "hour" || text == "1h") {
    aggregation->fixed_interval_ms = 3'600'000;
  } else {
    return std::unexpected(IllegalArgument(
        "The supplied interval [" + std::string(text) +
        "] could not be parsed as a calendar interval (supported: minute, hour, day, week, "
        "month, year)" +
        In(aggregation->name)));
  }
  return Ok();
}

// fixed_interval: a positive integer and a unit of ms, s, m, h, d.
Status FixedInterval(const Value& value, SearchAggregation* aggregation) {
  struct Unit {
    std::string_view suffix;
    std::int64_t ms;
  };
  constexpr Unit kUnits[] = {
      {"ms", 1}, {"s", 1'000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
  const std::string_view text = value.IsString() ? View(value) : std::string_view();
  for (const Unit& unit : kUnits) {
    if (!text.ends_with(unit.suffix)) continue;
    std::uint64_t count = 0;
    const std::string_view digits = text.substr(0, text.size() - unit.suffix.size());
    if (!ParseUnsigned(digits, &count) || count > 1'000'000'000) break;
    if (count == 0) {
      return std::unexpected(
          IllegalArgument("Zero or negative time interval not supported" + In(aggregation->name)));
    }
    aggregation->fixed_interval_ms = static_cast<std::int64_t>(count) * unit.ms;
    return Ok();
  }
  return std::unexpected(IllegalArgument(
      "failed to parse setting [date_histogram.fixedInterval] with value [" + std::string(text) +
      "] as a time value: unit is missing or unrecognized (ms, s, m, h, d)" +
      In(aggregation->name)));
}

class AggregationParser {
 public:
  Result<std::vector<SearchAggregation>> Level(const Value& aggs, bool top);

 private:
  Result<SearchAggregation> One(std::string_view name, const Value& definition, bool top);
  Status Body(const Value& body, SearchAggregation* aggregation);
  Status Option(std::string_view option, const Value& value, SearchAggregation* aggregation);
  Status Field(const Value& value, SearchAggregation* aggregation);

  std::size_t count_ = 0;
};

Result<std::vector<SearchAggregation>> AggregationParser::Level(const Value& aggs, bool top) {
  if (!aggs.IsObject()) {
    return std::unexpected(ParsingError("Expected [START_OBJECT] under [aggs], but got a [" +
                                        std::string(TokenName(aggs)) + "]"));
  }
  std::vector<SearchAggregation> level;
  for (const auto& member : aggs.GetObject()) {
    auto aggregation = One(View(member.name), member.value, top);
    if (!aggregation) return std::unexpected(aggregation.error());
    level.push_back(std::move(*aggregation));
  }
  return level;
}

Result<SearchAggregation> AggregationParser::One(std::string_view name, const Value& definition,
                                                 bool top) {
  if (name.empty() || name.find_first_of("[]>") != std::string_view::npos) {
    return std::unexpected(ParsingError("Invalid aggregation name [" + std::string(name) +
                                        "]. Aggregation names can contain any character except "
                                        "'[', ']', and '>'"));
  }
  if (++count_ > kSearchAggregationsMax) {
    return std::unexpected(IllegalArgument("too many aggregations: more than " +
                                           std::to_string(kSearchAggregationsMax) +
                                           " in one search, sub-aggregations included"));
  }
  if (!definition.IsObject()) {
    return std::unexpected(ParsingError("Aggregation definition for [" + std::string(name) +
                                        "] starts with a [" + std::string(TokenName(definition)) +
                                        "], expected a [START_OBJECT]."));
  }
  SearchAggregation aggregation;
  aggregation.name = std::string(name);
  const Value* body = nullptr;
  const Value* subs = nullptr;
  for (const auto& member : definition.GetObject()) {
    const std::string_view key = View(member.name);
    if (key == "aggs" || key == "aggregations") {
      if (subs != nullptr) {
        return std::unexpected(ParsingError("Found two sub aggregation definitions under [" +
                                            std::string(name) + "]"));
      }
      subs = &member.value;
      continue;
    }
    const auto kind = KindFromName(key);
    if (!kind) {
      return std::unexpected(
          ParsingError("Unknown aggregation type [" + std::string(key) + "]" + In(name) +
                       " (supported: terms, date_histogram, sum, avg, min, max, value_count)"));
    }
    if (body != nullptr) {
      return std::unexpected(ParsingError(
          "Found two aggregation type definitions in [" + std::string(name) + "]: [" +
          std::string(NameOfKind(aggregation.kind)) + "] and [" + std::string(key) + "]"));
    }
    aggregation.kind = *kind;
    body = &member.value;
  }
  if (body == nullptr) {
    return std::unexpected(
        ParsingError("Missing definition for aggregation [" + std::string(name) + "]"));
  }
  if (auto status = Body(*body, &aggregation); !status) return std::unexpected(status.error());
  if (subs == nullptr) return aggregation;
  if (!IsBucketKind(aggregation.kind)) {
    return std::unexpected(IllegalArgument("Aggregator [" + std::string(name) + "] of type [" +
                                           std::string(NameOfKind(aggregation.kind)) +
                                           "] cannot accept sub-aggregations"));
  }
  if (!top) {
    return std::unexpected(IllegalArgument(
        "[" + std::string(name) +
        "] is a sub-aggregation and may not have sub-aggregations of its own: one level of "
        "nesting is supported"));
  }
  auto nested = Level(*subs, false);
  if (!nested) return std::unexpected(nested.error());
  aggregation.subs = std::move(*nested);
  return aggregation;
}

Status AggregationParser::Body(const Value& body, SearchAggregation* aggregation) {
  const std::string_view type = NameOfKind(aggregation->kind);
  if (!body.IsObject()) {
    return std::unexpected(
        ParsingError("[" + std::string(type) + "] must be an object" + In(aggregation->name)));
  }
  bool has_field = false;
  for (const auto& member : body.GetObject()) {
    const std::string_view option = View(member.name);
    has_field = has_field || option == "field";
    if (auto status = Option(option, member.value, aggregation); !status) return status;
  }
  if (!has_field) {
    return std::unexpected(
        IllegalArgument("Required one of fields [field, script], but none were "
                        "specified" +
                        In(aggregation->name)));
  }
  if (aggregation->kind == AggKind::kDateHistogram && aggregation->fixed_interval_ms == 0 &&
      aggregation->calendar == SearchAggregation::Calendar::kNone) {
    return std::unexpected(IllegalArgument(
        "Invalid interval specified, must be non-null and non-empty: set calendar_interval or "
        "fixed_interval" +
        In(aggregation->name)));
  }
  return Ok();
}

Status AggregationParser::Option(std::string_view option, const Value& value,
                                 SearchAggregation* aggregation) {
  const AggKind kind = aggregation->kind;
  const std::string& name = aggregation->name;
  if (option == "field") return Field(value, aggregation);
  if (kind == AggKind::kTerms && option == "size") {
    auto size = Count(option, name, value, kSearchBucketsMax);
    if (!size) return std::unexpected(size.error());
    if (*size == 0) {
      return std::unexpected(
          IllegalArgument("[size] must be greater than 0. Found [0]" + In(name)));
    }
    aggregation->size = static_cast<std::uint32_t>(*size);
    return Ok();
  }
  if (kind == AggKind::kTerms && option == "order") return TermsOrder(value, aggregation);
  if (IsBucketKind(kind) && option == "min_doc_count") {
    auto minimum = Count(option, name, value, UINT32_MAX);
    if (!minimum) return std::unexpected(minimum.error());
    aggregation->min_doc_count = *minimum;
    return Ok();
  }
  const bool fixed = option == "fixed_interval";
  if (kind == AggKind::kDateHistogram && (fixed || option == "calendar_interval")) {
    if (aggregation->fixed_interval_ms != 0 ||
        aggregation->calendar != SearchAggregation::Calendar::kNone) {
      return std::unexpected(IllegalArgument(
          "Cannot use [fixed_interval] with [calendar_interval] configuration option." + In(name)));
    }
    return fixed ? FixedInterval(value, aggregation) : CalendarInterval(value, aggregation);
  }
  return std::unexpected(ParsingError("[" + std::string(NameOfKind(kind)) +
                                      "] aggregation does not support [" + std::string(option) +
                                      "]" + In(name)));
}

Status AggregationParser::Field(const Value& value, SearchAggregation* aggregation) {
  if (!value.IsString()) {
    return std::unexpected(XContentError("[field] must be a string" + In(aggregation->name)));
  }
  auto field = MappedField(View(value), "aggregation [" + aggregation->name + "]");
  if (!field) return std::unexpected(field.error());
  const SearchFieldType type = SearchFieldInfoOf(*field).type;
  if (type == SearchFieldType::kText) return std::unexpected(TextFieldData(View(value)));
  if (!Supports(aggregation->kind, type)) {
    return std::unexpected(IllegalArgument("Field [" + std::string(View(value)) + "] of type [" +
                                           std::string(projections::SearchFieldTypeName(type)) +
                                           "] is not supported for aggregation [" +
                                           std::string(NameOfKind(aggregation->kind)) + "]"));
  }
  aggregation->field = *field;
  return Ok();
}

}  // namespace

Result<std::vector<SearchAggregation>> ParseAggregations(const Value& aggs) {
  return AggregationParser().Level(aggs, true);
}

}  // namespace ledger::transport::internal
