// Pieces of the query DSL parser (transport/search_dsl.h) shared by its files: error builders,
// field lookup, dates, and the query and aggregation parsers. Internal to transport/.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"
#include "projections/search_query.h"

namespace ledger::transport::internal {

// Elasticsearch error types as our Error: kInvalidArgument, code = the type, message = reason.
[[nodiscard]] Error ParsingError(std::string reason);
[[nodiscard]] Error IllegalArgument(std::string reason);
[[nodiscard]] Error XContentError(std::string reason);
[[nodiscard]] Error QueryShardError(std::string reason);

// Elasticsearch's name of the JSON token that starts `value`: START_OBJECT, START_ARRAY,
// VALUE_STRING, VALUE_NUMBER, VALUE_BOOLEAN, VALUE_NULL.
[[nodiscard]] std::string_view TokenName(const rapidjson::Value& value);
// A JSON string's bytes.
[[nodiscard]] std::string_view View(const rapidjson::Value& string);
// "Unknown key for a <TOKEN> in [<key>]." (Elasticsearch's answer to a key it does not know).
[[nodiscard]] Error UnknownKey(std::string_view key, const rapidjson::Value& value);

// The field `name` refers to in a query: nullopt for a name no index maps (the leaf then
// matches nothing). "_id" is record_id; other metadata fields ("_index", "_source", ...) are
// refused rather than silently matching nothing.
[[nodiscard]] Result<std::optional<projections::SearchField>> QueryField(std::string_view name);
// The field a sort or an aggregation names ("_id" is record_id); `what` is used in the error
// for a name no index maps.
[[nodiscard]] Result<projections::SearchField> MappedField(std::string_view name,
                                                           std::string_view what);
// Elasticsearch's refusal to sort or aggregate on a text field.
[[nodiscard]] Error TextFieldData(std::string_view name);

// A date value as Elasticsearch reads it for a range bound: `down` with missing components as
// their minimum, `up` with them as their maximum (time 23:59:59.999999999; Elasticsearch uses
// `up` for gt and lte). Milliseconds since the epoch, UTC; equal for an epoch-ms integer and for
// a string with a fraction.
struct DateBounds {
  std::int64_t down_ms = 0;
  std::int64_t up_ms = 0;
};
// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.fraction 1-9 digits]][Z|+hh:mm|-hh:mm]" (no zone:
// UTC). kInvalidArgument (parse_exception style reason) otherwise.
[[nodiscard]] Result<DateBounds> ParseDate(std::string_view text);

// A query object ({"<clause>": {...}}). `clauses` counts leaf and bool clauses across the whole
// request (at most kSearchClausesMax).
[[nodiscard]] Result<projections::SearchQuery> ParseQueryClause(const rapidjson::Value& value,
                                                                std::size_t* clauses);

// The "aggs" object of a search: name -> definition.
[[nodiscard]] Result<std::vector<projections::SearchAggregation>> ParseAggregations(
    const rapidjson::Value& aggs);

}  // namespace ledger::transport::internal
