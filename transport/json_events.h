// Events and errors -> JSON response bodies (rapidjson::Writer, no DOM).
//
// An event:
//   {"position", "stream", "stream_version", "type", "recorded_at", "client_id",
//    "idempotency_key", "correlation_id", "causation_id", "prev_hash", "hash",
//    "postings": [{"from", "to", "asset", "amount"}], "payload": {...}}
// Timestamps are RFC 3339 with microseconds, hashes lowercase hex, payload fields snake_case
// (transport/README.md lists them per type), metadata an object of strings.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ledger/event.h"
#include "ledger/status.h"
#include "ledger/store.h"

namespace ledger::transport {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// Writes `event` as one JSON object value.
void WriteEventJson(const Event& event, JsonWriter& writer);

// `event` as a JSON document.
[[nodiscard]] std::string EventToJson(const Event& event);

// {"error": {"code": ..., "message": ...}}
[[nodiscard]] std::string ErrorToJson(const Error& error);

// The answer to an accepted command:
// {"position": N, "type": "...", "event": {...}, "replayed": bool}
[[nodiscard]] std::string CommandResultToJson(const Event& event, bool replayed);

// A page of the global log: {"events": [...], "next_after": N, "head": H}.
[[nodiscard]] std::string EventsPageToJson(const std::vector<StoredEvent>& events,
                                           std::uint64_t next_after, std::uint64_t head);

// A page of one stream:
// {"stream": "...", "events": [...], "next_from_version": V, "head": H}.
[[nodiscard]] std::string StreamPageToJson(std::string_view stream,
                                           const std::vector<StoredEvent>& events,
                                           std::uint64_t next_from_version, std::uint64_t head);

}  // namespace ledger::transport
