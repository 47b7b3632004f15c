// RFC 3339 timestamps <-> microseconds since the Unix epoch (UTC), as used in the JSON API.
#pragma once

#include <string>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::transport {

// Parses "2026-11-21T10:00:00Z", "2026-11-21T10:00:00.123456+02:00" etc.: a full date and time,
// optional fractional seconds of 1..6 digits, and "Z" or a +hh:mm / -hh:mm offset ('T' and 'Z'
// may be lower case). Years 0000..9999; no leap seconds. Returns microseconds UTC, or
// kInvalidArgument ("invalid_argument") naming what is wrong.
[[nodiscard]] Result<TimestampUs> ParseRfc3339(std::string_view text);

// Formats `timestamp_us` as "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always six fraction digits, UTC).
// ParseRfc3339(FormatRfc3339(t)) == t for every t in years 0000..9999.
[[nodiscard]] std::string FormatRfc3339(TimestampUs timestamp_us);

}  // namespace ledger::transport
