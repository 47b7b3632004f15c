// The Elasticsearch-compatible routes of HttpApi (docs/search.md): GET|HEAD /,
// GET|POST /{index}/_search and /{index}/_count, GET /{index}/_mapping, and the saved reports
// under /_reports. They are query routes (reader or admin role). Search, count and report runs
// wait for min_position on the search projection like every query (http_api_queries.cc); the
// body is parsed before that wait, so a bad request is refused at once. HttpApi::Handle gives
// every response on these paths Elasticsearch's shape and the X-Elastic-Product header.
#include <algorithm>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <vector>

#include "ledger/limits.h"
#include "transport/http_api.h"
#include "transport/internal/json_write.h"
#include "transport/internal/query_request.h"
#include "transport/internal/search_dsl_internal.h"
#include "transport/search_dsl.h"
#include "transport/search_json.h"
#include "transport/search_reports.h"
#include "transport/url.h"

namespace ledger::transport {
namespace {

namespace http = boost::beast::http;
using internal::Field;
using internal::IllegalArgument;
using internal::Key;
using internal::UnsignedField;

HttpResponse IndexNotFound(std::string_view index) {
  const std::string reason = "no such index [" + std::string(index) + "]";
  return JsonResponse(HttpStatus::not_found,
                      ElasticErrorJson("index_not_found_exception", reason, 404, index));
}

// A success answer, re-indented when the request asked for ?pretty.
HttpResponse Answer(bool pretty, std::string body, HttpStatus status = HttpStatus::ok) {
  if (pretty) body = PrettyJson(body);
  return JsonResponse(status, std::move(body));
}

// Content types Elasticsearch reads a JSON body from: application/json and its
// vnd.elasticsearch+json variant (any parameters, any case).
bool IsElasticContentType(const HttpRequest& request) {
  const auto header = request.find(http::field::content_type);
  if (header == request.end()) return true;
  std::string value(header->value().data(), header->value().size());
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.pop_back();
  for (char& c : value) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return value == "application/json" || value == "application/vnd.elasticsearch+json";
}

// What a request may not carry: a body where the route takes none, a body of another type,
// a pretty value other than true/false.
std::optional<HttpResponse> RefuseRequest(RouteId route, std::string_view pretty,
                                          const HttpRequest& request) {
  if (!pretty.empty() && pretty != "true" && pretty != "false") {
    return ErrorResponse(IllegalArgument("Failed to parse value [" + std::string(pretty) +
                                         "] only [true] or [false] are allowed."));
  }
  if (request.body().empty()) return std::nullopt;
  const bool takes_body =
      route == RouteId::kSearch || route == RouteId::kCount || route == RouteId::kPutReport;
  if (!takes_body) {
    const std::string_view target(request.target().data(), request.target().size());
    return ErrorResponse(IllegalArgument(
        "request [" + std::string(http::to_string(request.method())) + " " +
        std::string(SplitTarget(target).path) + "] does not support having a body"));
  }
  if (IsElasticContentType(request)) return std::nullopt;
  const auto type = request[http::field::content_type];
  return JsonResponse(
      HttpStatus::not_acceptable,
      ElasticErrorJson(
          "media_type_header_exception",
          "Content-Type header [" + std::string(type.data(), type.size()) + "] is not supported",
          406));
}

SearchUrlParams UrlParams(const std::map<std::string, std::string, std::less<>>& query) {
  SearchUrlParams params;
  const auto take = [&query](std::string_view name, std::optional<std::string>* slot) {
    if (const auto it = query.find(name); it != query.end()) *slot = it->second;
  };
  take("from", &params.from);
  take("size", &params.size);
  take("track_total_hits", &params.track_total_hits);
  return params;
}

}  // namespace

Status HttpApi::CheckElasticParams(std::string_view target,
                                   std::span<const std::string_view> allowed) {
  const Target split = SplitTarget(target);
  std::string_view rest = split.query;
  std::vector<std::string> seen;
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view part = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (part.empty()) continue;
    auto name = PercentDecode(part.substr(0, part.find('=')));
    if (!name) return std::unexpected(IllegalArgument(name.error().message));
    const std::string request = "request [" + std::string(split.path) + "]";
    if (std::find(allowed.begin(), allowed.end(), *name) == allowed.end()) {
      return std::unexpected(IllegalArgument(request + " contains unrecognized parameter: [" +
                                             name->substr(0, 64) + "]"));
    }
    if (std::find(seen.begin(), seen.end(), *name) != seen.end()) {
      return std::unexpected(
          IllegalArgument(request + " contains parameter [" + *name + "] more than once"));
    }
    seen.push_back(std::move(*name));
  }
  return Ok();
}

void HttpApi::HandleElastic(std::shared_ptr<QueryRequest> query, const HttpRequest& request,
                            const boost::asio::any_io_executor& executor, Respond& respond) {
  if (auto refused = RefuseRequest(query->route, query->Param("pretty"), request)) {
    return respond(std::move(*refused));
  }
  switch (query->route) {
    case RouteId::kElasticInfo:
      return respond(Answer(query->Pretty(), InfoJson()));
    case RouteId::kElasticInfoHead:
      return respond(JsonResponse(HttpStatus::ok, ""));
    case RouteId::kMapping: {
      const auto index = projections::SearchIndexFromName(query->params.at(0));
      if (!index) return respond(IndexNotFound(query->params.at(0)));
      return respond(Answer(query->Pretty(), MappingJson(*index)));
    }
    case RouteId::kReports:
      return respond(ListReports(*query));
    case RouteId::kPutReport:
      return respond(PutReport(*query, request));
    case RouteId::kDeleteReport:
      return respond(DeleteReport(*query));
    case RouteId::kReport:
      if (auto name = CheckReportName(query->params.at(0)); !name) {
        return respond(ErrorResponse(name.error()));
      }
      break;
    default:
      if (auto refused = PrepareSearch(*query)) return respond(std::move(*refused));
      break;
  }
  AwaitPosition(std::move(query), executor, respond);
}

std::optional<HttpResponse> HttpApi::PrepareSearch(QueryRequest& query) const {
  const auto index = projections::SearchIndexFromName(query.params.at(0));
  if (!index) return IndexNotFound(query.params.at(0));
  auto call = std::make_shared<SearchCall>();
  if (query.route == RouteId::kCount) {
    auto parsed = ParseCountBody(query.body);
    if (!parsed) return ErrorResponse(parsed.error());
    call->request.index = *index;
    call->request.query = std::move(*parsed);
  } else {
    auto parsed = ParseSearch(*index, query.body, UrlParams(query.query));
    if (!parsed) return ErrorResponse(parsed.error());
    *call = std::move(*parsed);
  }
  query.search = std::move(call);
  query.body.clear();
  return std::nullopt;
}

HttpResponse HttpApi::Search(const QueryRequest& query) const {
  const auto start = std::chrono::steady_clock::now();
  auto result = read_models_.search().Search(query.search->request);
  if (!result) return ErrorResponse(result.error());
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return Answer(query.Pretty(), SearchResponseJson(*result, *query.search, took.count()));
}

HttpResponse HttpApi::Count(const QueryRequest& query) const {
  const projections::SearchRequest& request = query.search->request;
  auto counted = read_models_.search().Count(request.index, request.query);
  if (!counted) return ErrorResponse(counted.error());
  return Answer(query.Pretty(), CountResponseJson(counted->first, counted->second));
}

HttpResponse HttpApi::RunReport(const QueryRequest& query) const {
  const std::string& name = query.params.at(0);
  auto answer = reports_->Run(name, query.min_position);
  if (!answer) return ErrorResponse(answer.error());
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "report", name);
  UnsignedField(writer, "position", answer->position);
  internal::TimeField(writer, "computed_at", answer->computed_at_us);
  internal::BoolField(writer, "cached", answer->cached);
  Key(writer, "result");
  writer.RawValue(answer->result_json.data(), answer->result_json.size(), rapidjson::kObjectType);
  writer.EndObject();
  return Answer(query.Pretty(), internal::BufferText(buffer));
}

HttpResponse HttpApi::ListReports(const QueryRequest& query) const {
  auto definitions = reports_->List();
  if (!definitions) return ErrorResponse(definitions.error());
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, "reports");
  writer.StartArray();
  for (const SearchReportDefinition& definition : *definitions) {
    const std::string json = SearchReports::DefinitionJson(definition);
    writer.StartObject();
    Field(writer, "name", definition.name);
    Key(writer, "definition");
    writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return Answer(query.Pretty(), internal::BufferText(buffer));
}

HttpResponse HttpApi::PutReport(const QueryRequest& query, const HttpRequest& request) {
  const std::string& name = query.params.at(0);
  auto created = reports_->Put(name, request.body());
  if (!created) return ErrorResponse(created.error());
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  internal::BoolField(writer, "acknowledged", true);
  Field(writer, "report", name);
  internal::BoolField(writer, "created", *created);
  writer.EndObject();
  return Answer(query.Pretty(), internal::BufferText(buffer),
                *created ? HttpStatus::created : HttpStatus::ok);
}

HttpResponse HttpApi::DeleteReport(const QueryRequest& query) {
  const std::string& name = query.params.at(0);
  if (auto checked = CheckReportName(name); !checked) return ErrorResponse(checked.error());
  if (auto deleted = reports_->Delete(name); !deleted) return ErrorResponse(deleted.error());
  return JsonResponse(HttpStatus::ok, R"({"acknowledged":true})");
}

}  // namespace ledger::transport
