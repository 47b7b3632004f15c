// Search results -> Elasticsearch 7.x response bodies (rapidjson::Writer, no DOM), and the
// Elasticsearch error shape for every response of the search routes. docs/search.md shows each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"
#include "projections/search_query.h"
#include "transport/http_response.h"
#include "transport/search_dsl.h"

namespace ledger::transport {

// The header every response of the search routes carries (the official clients check it).
inline constexpr std::string_view kElasticProductHeader = "X-Elastic-Product";
inline constexpr std::string_view kElasticProduct = "Elasticsearch";

// {"took", "timed_out", "_shards", "hits": {"total"?, "max_score", "hits": [...]},
//  "aggregations"?, "position"}: hits' _source filtered by call.source, "sort" values when
// call.sorted, hits.total per call.total_hits_up_to. `index` names the hits' "_index".
[[nodiscard]] std::string SearchResponseJson(const projections::SearchResult& result,
                                             const SearchCall& call, std::int64_t took_ms);

// {"count", "_shards", "position"}.
[[nodiscard]] std::string CountResponseJson(std::uint64_t count, std::uint64_t position);

// {"<index>": {"mappings": {"properties": {"<field>": {"type": "<type>"}, ...}}}}.
[[nodiscard]] std::string MappingJson(projections::SearchIndexId index);

// The answer to GET /: name, cluster, version 7.17.0 (build_flavor "default"), tagline.
[[nodiscard]] std::string InfoJson();

// {"error": {"root_cause": [{"type", "reason"}], "type", "reason"}, "status"}; with a non-empty
// `index` also the index_not_found fields ("index", "resource.id", ...).
[[nodiscard]] std::string ElasticErrorJson(std::string_view type, std::string_view reason,
                                           unsigned status, std::string_view index = {});

// The Elasticsearch error response for `error`: status from HttpStatusFor, `code` as the type
// (our generic codes mapped: invalid_argument -> illegal_argument_exception, unauthenticated and
// forbidden -> security_exception), `message` as the reason.
[[nodiscard]] HttpResponse ElasticErrorResponse(const Error& error);

// Gives a response of a search route its Elasticsearch form: an error in our shape
// ({"error": {"code", "message"}, "position"?}) is rewritten in Elasticsearch's (keeping its
// status, headers and "position"), and X-Elastic-Product is set on every response.
[[nodiscard]] HttpResponse ToElasticResponse(HttpResponse response);

// `json` re-indented (2 spaces), for ?pretty. `json` must be valid.
[[nodiscard]] std::string PrettyJson(std::string_view json);

// Milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (key_as_string, value_as_string).
[[nodiscard]] std::string FormatEpochMs(std::int64_t ms);

}  // namespace ledger::transport
