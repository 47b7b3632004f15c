// Small rapidjson::Writer helpers shared by the JSON encoders of transport/. Internal.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/event.h"
#include "transport/json_events.h"
#include "transport/rfc3339.h"

namespace ledger::transport::internal {

// The JSON text a writer left in `buffer`.
inline std::string BufferText(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

inline void Key(JsonWriter& writer, std::string_view key) {
  writer.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

inline void Str(JsonWriter& writer, std::string_view value) {
  writer.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

inline void Field(JsonWriter& writer, std::string_view key, std::string_view value) {
  Key(writer, key);
  Str(writer, value);
}

inline void Field(JsonWriter& writer, std::string_view key, std::int64_t value) {
  Key(writer, key);
  writer.Int64(value);
}

inline void UnsignedField(JsonWriter& writer, std::string_view key, std::uint64_t value) {
  Key(writer, key);
  writer.Uint64(value);
}

inline void BoolField(JsonWriter& writer, std::string_view key, bool value) {
  Key(writer, key);
  writer.Bool(value);
}

inline void TimeField(JsonWriter& writer, std::string_view key, TimestampUs value) {
  Field(writer, key, FormatRfc3339(value));
}

}  // namespace ledger::transport::internal
