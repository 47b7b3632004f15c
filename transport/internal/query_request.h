// One query request of HttpApi after routing and parameter parsing, kept alive while it waits
// for min_position. Internal to transport/ (http_api_queries.cc, http_api_search.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ledger/limits.h"
#include "transport/http_api.h"
#include "transport/search_dsl.h"

namespace ledger::transport {

struct HttpApi::QueryRequest {
  RouteId route = RouteId::kProjections;
  Params params;
  std::map<std::string, std::string, std::less<>> query;  // Without min_position, timeout_ms.
  std::string body;
  std::uint64_t min_position = 0;
  std::int64_t timeout_ms = kQueryWaitDefaultMs;
  // The parsed search of /{index}/_search and /{index}/_count (parsed before any wait).
  std::shared_ptr<const SearchCall> search;

  [[nodiscard]] std::string_view Param(std::string_view name) const {
    const auto it = query.find(name);
    return it == query.end() ? std::string_view() : std::string_view(it->second);
  }
  [[nodiscard]] bool Has(std::string_view name) const { return query.contains(name); }
  // ?pretty (or ?pretty=true) on an Elasticsearch-compatible route.
  [[nodiscard]] bool Pretty() const { return Has("pretty") && Param("pretty") != "false"; }
};

}  // namespace ledger::transport
