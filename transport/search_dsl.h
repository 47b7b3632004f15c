// The Elasticsearch query DSL -> projections::SearchRequest: the body of POST /{index}/_search
// (and _count, and a saved report's search) plus the search's URL parameters. docs/search.md
// lists exactly what is supported; everything else is refused, never ignored.
//
// Errors are kInvalidArgument (400) with `code` holding the Elasticsearch error type
// ("parsing_exception", "illegal_argument_exception", "x_content_parse_exception",
// "query_shard_exception", "too_many_clauses") and `message` its reason, naming the offending
// key, clause, option or value; kTooLarge for a body over kSearchBodyBytesMax. The HTTP layer
// renders them in Elasticsearch's error shape (search_json.h).
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/limits.h"
#include "ledger/status.h"
#include "projections/search_query.h"

namespace ledger::transport {

// Which fields of a hit's document go into its "_source" (filtering happens when rendering).
struct SearchSourceFilter {
  bool enabled = true;                // _source: false leaves "_source" out of every hit.
  std::vector<std::string> includes;  // Patterns with '*' wildcards; empty: every field.
  std::vector<std::string> excludes;  // Patterns; applied after includes.

  // True if field `name` is rendered.
  [[nodiscard]] bool Keeps(std::string_view name) const;
};

// A parsed search: what the engine runs plus what only the response needs.
struct SearchCall {
  projections::SearchRequest request;
  // hits.total counts up to this many (track_total_hits: true is UINT64_MAX, an integer is
  // itself); nullopt: track_total_hits false, hits.total is left out.
  std::optional<std::uint64_t> total_hits_up_to = kSearchTrackTotalHitsDefault;
  SearchSourceFilter source;
  bool sorted = false;  // The request named a sort: every hit carries its "sort" values.
};

// The search parameters that may come in the URL (they override the body's, as in
// Elasticsearch). Unset: not in the URL.
struct SearchUrlParams {
  std::optional<std::string> from;
  std::optional<std::string> size;
  std::optional<std::string> track_total_hits;
};

// Parses a search body (may be empty: match_all, from 0, size 10) for `index`, applies `params`
// and checks the request as a whole (result window, search_after against sort).
[[nodiscard]] Result<SearchCall> ParseSearch(projections::SearchIndexId index,
                                             std::string_view body,
                                             const SearchUrlParams& params = {});

// The same for an already parsed body (a saved report's "search" object); `value` must be an
// object.
[[nodiscard]] Result<SearchCall> ParseSearchValue(projections::SearchIndexId index,
                                                  const rapidjson::Value& value,
                                                  const SearchUrlParams& params = {});

// The query of a _count body: empty or {"query": {...}} (any other key is refused).
[[nodiscard]] Result<projections::SearchQuery> ParseCountBody(std::string_view body);

// Parses a JSON body for the search routes: at most kSearchBodyBytesMax bytes (kTooLarge),
// one valid UTF-8 document nested at most kSearchJsonDepthMax deep, no repeated key in an
// object. Iterative: a deep body cannot exhaust the stack.
[[nodiscard]] Result<rapidjson::Document> ParseSearchJson(std::string_view body);

}  // namespace ledger::transport
