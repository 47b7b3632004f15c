// Reading request bodies with RapidJSON: a strict parser (one document, valid UTF-8, bounded
// depth, no duplicate keys) and a typed field reader that names the offending field in errors.
// Internal to transport/: other folders decode through json_commands.h.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::transport::internal {

// Parses `body` as exactly one JSON document (trailing non-space bytes are an error), validates
// UTF-8, and rejects nesting deeper than kJsonDepthMax and objects with a repeated key.
// Errors: kInvalidArgument with code "malformed_json" (syntax, encoding) or "invalid_argument".
[[nodiscard]] Result<rapidjson::Document> ParseJsonDocument(std::string_view body);

// Typed access to one JSON object's fields. The first problem found (not an object, an unknown
// key, a missing field, a wrong type) is recorded in the shared `error` slot as kInvalidArgument
// "invalid_argument" with the field's full name (`prefix` + name, e.g. "postings[2].amount");
// later calls return defaults and keep that first error. A JSON null counts as absent.
class JsonFields {
 public:
  // `value` must outlive this reader. Every key of the object must be in `allowed`.
  JsonFields(const rapidjson::Value& value, std::string prefix,
             std::initializer_list<std::string_view> allowed, std::optional<Error>& error);

  [[nodiscard]] std::string String(std::string_view name);
  [[nodiscard]] std::optional<std::string> OptionalString(std::string_view name);
  // Money: a JSON integer within int64 ("must be an integer in minor units within int64").
  [[nodiscard]] std::int64_t Amount(std::string_view name);
  [[nodiscard]] std::optional<std::int64_t> OptionalAmount(std::string_view name);
  // Counts and basis points: a JSON integer within int64.
  [[nodiscard]] std::int64_t Int64(std::string_view name);
  [[nodiscard]] std::optional<std::int64_t> OptionalInt64(std::string_view name);
  // Versions: a non-negative JSON integer within uint64.
  [[nodiscard]] std::optional<std::uint64_t> OptionalUint64(std::string_view name);
  [[nodiscard]] bool OptionalBool(std::string_view name, bool absent_value);
  // An RFC 3339 string, as microseconds UTC.
  [[nodiscard]] TimestampUs Timestamp(std::string_view name);
  [[nodiscard]] std::optional<TimestampUs> OptionalTimestamp(std::string_view name);
  // An object of string -> string, in the order given; empty if absent.
  [[nodiscard]] Metadata OptionalMetadata(std::string_view name);
  // A required array, or nullptr (with the error recorded).
  [[nodiscard]] const rapidjson::Value* Array(std::string_view name);
  // An optional object, or nullptr if absent (or on error).
  [[nodiscard]] const rapidjson::Value* OptionalObject(std::string_view name);

  // The full name of field `name` as used in error messages.
  [[nodiscard]] std::string FieldName(std::string_view name) const;
  // Records `message` as the error unless one is recorded already.
  void Fail(std::string message);
  [[nodiscard]] bool ok() const { return !error_.has_value(); }

 private:
  // The member `name`, or nullptr if absent or null (recording an error when `required`).
  const rapidjson::Value* Find(std::string_view name, bool required);
  std::optional<std::int64_t> ReadInt64(std::string_view name, bool required,
                                        std::string_view requirement);

  const rapidjson::Value& value_;
  std::string prefix_;
  std::optional<Error>& error_;
};

}  // namespace ledger::transport::internal
