// The route table of the HTTP API and path matching. Internal to transport/.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"
#include "transport/http_api.h"

namespace ledger::transport {

struct Route {
  RouteId id;
  // Segments are literals or "{name}" (one segment) or "{name*}" (one or more segments, joined
  // with '/' after decoding, so "account/alice" may be sent as account%2Falice or account/alice).
  std::string_view pattern;
  boost::beast::http::verb method;
  std::string_view command;  // The command type for metrics; empty for reads.
  bool needs_auth = true;
  bool query = false;  // Served by a read model (needs the reader or admin role).
  // An Elasticsearch-compatible route (http_api_search.cc): its responses, errors included,
  // take Elasticsearch's shape and carry X-Elastic-Product.
  bool elastic = false;
};

namespace internal {

// Every route, in matching order.
[[nodiscard]] std::span<const Route> Routes();

struct RouteMatch {
  const Route* route = nullptr;     // Null if nothing matched path and method.
  std::vector<std::string> params;  // Percent-decoded, in pattern order.
  std::string allow;  // The allowed methods ("GET, POST") when only the method was wrong.
};

// Matches an escaped `path` (no query). kInvalidArgument if a parameter has a bad %-escape.
[[nodiscard]] Result<RouteMatch> MatchRoute(std::string_view path, boost::beast::http::verb method);

// True if an Elasticsearch-compatible route's pattern matches the escaped `path`, whatever the
// method (so a 405 or a protocol error on that path also answers in Elasticsearch's shape).
[[nodiscard]] bool IsElasticPath(std::string_view path);

}  // namespace internal
}  // namespace ledger::transport
