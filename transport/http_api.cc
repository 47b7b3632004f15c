#include "transport/http_api.h"

#include <boost/beast/http/field.hpp>
#include <utility>

#include "ledger/limits.h"
#include "transport/internal/routes.h"
#include "transport/search_json.h"
#include "transport/search_reports.h"
#include "transport/url.h"

namespace ledger::transport {
namespace {

namespace http = boost::beast::http;

std::int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Error Unauthenticated() {
  return MakeError(ErrorKind::kUnauthenticated, "unauthenticated",
                   "missing or unknown bearer token (Authorization: Bearer <token>)");
}

// The authenticated client of `request`, or nullptr.
const Client* Authenticate(const Authenticator& auth, const HttpRequest& request) {
  const auto header = request.find(http::field::authorization);
  if (header == request.end()) return nullptr;
  const auto token =
      Authenticator::BearerToken(std::string_view(header->value().data(), header->value().size()));
  return token ? auth.Authenticate(*token) : nullptr;
}

std::string_view LabelFor(const internal::RouteMatch& match) {
  return match.route != nullptr ? match.route->pattern : "unmatched";
}

}  // namespace

HttpApi::HttpApi(Store& store, commands::Sequencer& sequencer,
                 projections::ReadModels& read_models, Metrics& metrics,
                 const Authenticator& auth, MonotonicClock now, HttpApiOptions options)
    : store_(store),
      sequencer_(sequencer),
      read_models_(read_models),
      metrics_(metrics),
      auth_(auth),
      now_(now ? std::move(now) : MonotonicClock(SteadyNowUs)),
      options_(std::move(options)),
      reports_(std::make_unique<SearchReports>(read_models.db(), read_models.ReportsFamily(),
                                               read_models.search())) {}

HttpApi::~HttpApi() = default;

std::size_t HttpApi::BodyBytesMax(std::string_view target, http::verb method) {
  const auto match = internal::MatchRoute(SplitTarget(target).path, method);
  if (match && match->route != nullptr && match->route->id == RouteId::kHoldersCheck) {
    return kHttpHoldersCheckBodyBytesMax;
  }
  if (match && match->route != nullptr && match->route->elastic) return kSearchBodyBytesMax;
  return kHttpBodyBytesMax;
}

HttpResponse HttpApi::ShapeProtocolResponse(std::string_view target, HttpResponse response) {
  if (!internal::IsElasticPath(SplitTarget(target).path)) return response;
  return ToElasticResponse(std::move(response));
}

std::string_view HttpApi::RouteLabel(std::string_view target) {
  const auto match = internal::MatchRoute(SplitTarget(target).path, http::verb::get);
  if (match && match->route != nullptr) return match->route->pattern;
  const auto post = internal::MatchRoute(SplitTarget(target).path, http::verb::post);
  return post ? LabelFor(*post) : "unmatched";
}

void HttpApi::Handle(const HttpRequest& request, const boost::asio::any_io_executor& executor,
                     Respond respond) {
  const std::string_view target(request.target().data(), request.target().size());
  const Target split = SplitTarget(target);
  auto match = internal::MatchRoute(split.path, request.method());
  const std::string route_label(match ? LabelFor(*match) : "unmatched");
  // Every response on an Elasticsearch-compatible path, errors included, in its shape.
  Respond counted = [this, route_label, elastic = internal::IsElasticPath(split.path),
                     start = std::chrono::steady_clock::now(),
                     respond = std::move(respond)](HttpResponse response) {
    CountRequest(route_label, response.result_int(), start);
    respond(elastic ? ToElasticResponse(std::move(response)) : std::move(response));
  };
  if (target.size() > kHttpTargetBytesMax) {
    return counted(ProtocolErrorResponse(
        HttpStatus::uri_too_long, "uri_too_long",
        "request target longer than " + std::to_string(kHttpTargetBytesMax) + " bytes"));
  }
  if (target.empty() || target.front() != '/') {
    return counted(ProtocolErrorResponse(HttpStatus::bad_request, "bad_request",
                                         "request target must start with '/'"));
  }
  if (!match) return counted(ErrorResponse(match.error()));
  if (match->route == nullptr && !match->allow.empty()) {
    HttpResponse response = ProtocolErrorResponse(
        HttpStatus::method_not_allowed, "method_not_allowed",
        "use " + std::string(match->allow) + " for " + std::string(split.path));
    response.set(http::field::allow, std::string(match->allow));
    return counted(std::move(response));
  }
  if (match->route == nullptr) {
    return counted(ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found",
                                           "no such endpoint: " + std::string(split.path))));
  }
  Dispatch(*match->route, match->params, request, executor, counted);
}

void HttpApi::Dispatch(const Route& route, const Params& params, const HttpRequest& request,
                       const boost::asio::any_io_executor& executor, Respond& respond) {
  const std::string_view target(request.target().data(), request.target().size());
  const std::string_view query = SplitTarget(target).query;
  if (!route.needs_auth) return respond(HandleRead(route, params, query));
  const Client* client = Authenticate(auth_, request);
  if (client == nullptr) return respond(ErrorResponse(Unauthenticated()));
  if (!route.command.empty()) {
    return HandleCommand(route, params, request, *client, executor, respond);
  }
  if (route.query) return HandleQuery(route, params, request, *client, executor, respond);
  if (!client->CanRead()) {
    return respond(ErrorResponse(
        MakeError(ErrorKind::kPermissionDenied, "forbidden", "this client may not read")));
  }
  respond(HandleRead(route, params, query));
}

void HttpApi::CountRequest(std::string_view route, unsigned status,
                           std::chrono::steady_clock::time_point start) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_
      .GetHistogram("ledger_http_request_duration_seconds",
                    "Time from a complete HTTP request to its response, by route.",
                    LatencyBucketsSeconds(), {{"route", std::string(route)}})
      .Observe(seconds);
  metrics_
      .GetCounter("ledger_http_requests_total", "HTTP requests by route and status.",
                  {{"route", std::string(route)}, {"status", std::to_string(status)}})
      .Add();
}

void HttpApi::CountCommand(std::string_view type, std::string_view outcome,
                           const std::string& client_id) {
  metrics_
      .GetCounter(
          "ledger_commands_total",
          "Commands received over HTTP by type, outcome (ok, replayed or the error "
          "code) and client.",
          {{"type", std::string(type)}, {"outcome", std::string(outcome)}, {"client", client_id}})
      .Add();
}

}  // namespace ledger::transport
