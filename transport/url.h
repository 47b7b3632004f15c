// Request-target helpers: percent-decoding, path segments and query parameters.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/status.h"

namespace ledger::transport {

// Decodes %XX escapes (either case). A '%' not followed by two hex digits is kInvalidArgument.
// '+' is kept as is (paths and our numeric query values never use form encoding).
[[nodiscard]] Result<std::string> PercentDecode(std::string_view text);

// An origin-form target split at the first '?'; `path` keeps its escapes.
struct Target {
  std::string_view path;
  std::string_view query;
};
[[nodiscard]] Target SplitTarget(std::string_view target);

// "/v1/events/7" -> {"v1", "events", "7"} (still escaped). An empty path or "/" gives {}.
[[nodiscard]] std::vector<std::string_view> SplitPath(std::string_view path);

// "a=1&b=2" -> {{"a","1"},{"b","2"}}, names and values percent-decoded. A parameter may appear
// only once and only if it is in `allowed`; anything else is kInvalidArgument naming it.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query, std::span<const std::string_view> allowed);
[[nodiscard]] inline Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    std::string_view query, std::initializer_list<std::string_view> allowed) {
  return ParseQuery(query, std::span<const std::string_view>(allowed.begin(), allowed.size()));
}

// A decimal unsigned integer without sign, spaces or leading '+' ("007" is fine), within uint64.
[[nodiscard]] bool ParseUnsigned(std::string_view text, std::uint64_t* value);

}  // namespace ledger::transport
