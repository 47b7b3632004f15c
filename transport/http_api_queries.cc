// The query endpoints of HttpApi: read models only, never the write path. Every query accepts
// min_position (and timeout_ms): it waits, without blocking an io thread, until the projection
// it reads has applied that position, else answers 504 with the position reached.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>

#include "ledger/limits.h"
#include "transport/http_api.h"
#include "transport/internal/json_write.h"
#include "transport/internal/routes.h"
#include "transport/url.h"

namespace ledger::transport {

using projections::ProjectionId;
using projections::ProjectionRunner;

struct HttpApi::QueryRequest {
  RouteId route = RouteId::kProjections;
  Params params;
  std::map<std::string, std::string, std::less<>> query;  // Without min_position, timeout_ms.
  std::string body;
  std::uint64_t min_position = 0;
  std::int64_t timeout_ms = kQueryWaitDefaultMs;

  [[nodiscard]] std::string_view Param(std::string_view name) const {
    const auto it = query.find(name);
    return it == query.end() ? std::string_view() : std::string_view(it->second);
  }
  [[nodiscard]] bool Has(std::string_view name) const { return query.contains(name); }
};

namespace {

namespace http = boost::beast::http;
using internal::BoolField;
using internal::Field;
using internal::Key;
using internal::Str;
using internal::TimeField;
using internal::UnsignedField;

constexpr std::string_view kMinPosition = "min_position";
constexpr std::string_view kTimeoutMs = "timeout_ms";

Error BadQuery(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// The query parameters each query route accepts (min_position and timeout_ms for all but
// /v1/projections).
std::span<const std::string_view> AllowedParams(RouteId route) {
  static constexpr std::string_view kWaitOnly[] = {kMinPosition, kTimeoutMs};
  static constexpr std::string_view kEntries[] = {"asset", "cursor", "limit", kMinPosition,
                                                  kTimeoutMs};
  static constexpr std::string_view kStatements[] = {"period", "from",       "to",
                                                     "asset",  kMinPosition, kTimeoutMs};
  switch (route) {
    case RouteId::kProjections:
      return {};
    case RouteId::kAccountEntries:
      return kEntries;
    case RouteId::kStatements:
      return kStatements;
    default:
      return kWaitOnly;
  }
}

// The projection a query route reads (and waits for).
ProjectionId ProjectionOf(RouteId route) {
  switch (route) {
    case RouteId::kAccount:
      return ProjectionId::kAccounts;
    default:
      break;
  }
  LEDGER_ASSERT(false && "not a query route with a projection");
  return ProjectionId::kAccounts;
}

// Takes min_position and timeout_ms out of `query`.
Status ParseWait(std::map<std::string, std::string, std::less<>>* query,
                 std::uint64_t* min_position, std::int64_t* timeout_ms) {
  if (auto it = query->find(kMinPosition); it != query->end()) {
    if (!ParseUnsigned(it->second, min_position)) {
      return std::unexpected(BadQuery("min_position must be an unsigned integer"));
    }
    query->erase(it);
  }
  if (auto it = query->find(kTimeoutMs); it != query->end()) {
    std::uint64_t timeout = 0;
    if (!ParseUnsigned(it->second, &timeout) ||
        timeout > static_cast<std::uint64_t>(kQueryWaitMaxMs)) {
      return std::unexpected(BadQuery("timeout_ms must be an integer from 0 to " +
                                      std::to_string(kQueryWaitMaxMs)));
    }
    *timeout_ms = static_cast<std::int64_t>(timeout);
    query->erase(it);
  }
  return Ok();
}

std::string Finish(rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

// 504: the projection did not reach min_position in time; says where it is.
HttpResponse NotReachedResponse(std::string_view projection, std::uint64_t reached,
                                std::uint64_t min_position, std::int64_t timeout_ms) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, "error");
  writer.StartObject();
  Field(writer, "code", "position_not_reached");
  Field(writer, "message", "projection " + std::string(projection) + " reached position " +
                               std::to_string(reached) + ", not " +
                               std::to_string(min_position) + ", within " +
                               std::to_string(timeout_ms) + " ms");
  writer.EndObject();
  UnsignedField(writer, "position", reached);
  writer.EndObject();
  return JsonResponse(HttpStatus::gateway_timeout, Finish(buffer));
}

}  // namespace

void HttpApi::HandleQuery(const Route& route, const Params& params, const HttpRequest& request,
                          const Client& client, const boost::asio::any_io_executor& executor,
                          Respond& respond) {
  if (!client.CanQuery()) {
    return respond(ErrorResponse(MakeError(ErrorKind::kPermissionDenied, "forbidden",
                                           "queries need the reader or admin role")));
  }
  const std::string_view target(request.target().data(), request.target().size());
  auto parsed = ParseQuery(SplitTarget(target).query, AllowedParams(route.id));
  if (!parsed) return respond(ErrorResponse(parsed.error()));
  auto query = std::make_shared<QueryRequest>();
  query->route = route.id;
  query->params = params;
  for (auto& [name, value] : *parsed) query->query.emplace(std::move(name), std::move(value));
  if (auto wait = ParseWait(&query->query, &query->min_position, &query->timeout_ms); !wait) {
    return respond(ErrorResponse(wait.error()));
  }
  query->body = request.body();
  if (route.id == RouteId::kProjections) return respond(Projections());
  AwaitPosition(std::move(query), executor, respond);
}

void HttpApi::AwaitPosition(std::shared_ptr<const QueryRequest> query,
                            const boost::asio::any_io_executor& executor, Respond& respond) {
  ProjectionRunner& runner = read_models_.Runner(ProjectionOf(query->route));
  if (query->min_position == 0 || runner.Checkpoint() >= query->min_position ||
      query->timeout_ms == 0) {
    return respond(AnswerQuery(*query));
  }
  // The connection's executor is a strand: the timer and the wake-up never run at once.
  struct Wait {
    explicit Wait(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    bool done = false;
    std::uint64_t waiter_id = 0;
    Respond respond;
  };
  auto wait = std::make_shared<Wait>(executor);
  wait->respond = std::move(respond);
  auto finish = [this, wait, query] {
    if (wait->done) return;
    wait->done = true;
    wait->timer.cancel();
    wait->respond(AnswerQuery(*query));
  };
  auto waiter = runner.WhenReached(query->min_position, [executor, finish](std::uint64_t) {
    boost::asio::post(executor, finish);
  });
  if (!waiter) return wait->respond(ErrorResponse(waiter.error()));
  if (!waiter->has_value()) return finish();  // Reached (or failed) in the meantime.
  wait->waiter_id = **waiter;
  wait->timer.expires_after(std::chrono::milliseconds(query->timeout_ms));
  wait->timer.async_wait([this, wait, query, &runner](const boost::system::error_code& error) {
    if (error || wait->done) return;
    wait->done = true;
    runner.CancelWait(wait->waiter_id);
    wait->respond(AnswerQuery(*query));
  });
}

HttpResponse HttpApi::AnswerQuery(const QueryRequest& query) const {
  const ProjectionId id = ProjectionOf(query.route);
  const ProjectionRunner& runner = read_models_.Runner(id);
  const std::uint64_t reached = runner.Checkpoint();
  if (reached < query.min_position) {
    if (auto failure = runner.Failure()) {
      return ErrorResponse(MakeError(ErrorKind::kUnavailable, "projection_failed",
                                     "projection " + std::string(read_models_.Name(id)) +
                                         " stopped at position " + std::to_string(reached) +
                                         ": " + failure->message));
    }
    return NotReachedResponse(read_models_.Name(id), reached, query.min_position,
                              query.timeout_ms);
  }
  return RunQuery(query);
}

HttpResponse HttpApi::RunQuery(const QueryRequest& query) const {
  switch (query.route) {
    case RouteId::kAccount:
      return Account(query);
    default:
      break;
  }
  LEDGER_ASSERT(false && "RunQuery called for a route that is not a query");
  return {};
}

HttpResponse HttpApi::Projections() const {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  UnsignedField(writer, "head", store_.HeadPosition());
  Key(writer, "projections");
  writer.StartArray();
  for (const projections::ProjectionStatus& status : read_models_.Statuses()) {
    writer.StartObject();
    Field(writer, "name", status.name);
    UnsignedField(writer, "position", status.position);
    UnsignedField(writer, "lag", status.head > status.position ? status.head - status.position : 0);
    Field(writer, "state", status.failure ? "failed" : "running");
    if (status.failure) Field(writer, "error", status.failure->message);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, Finish(buffer));
}

HttpResponse HttpApi::Account(const QueryRequest& query) const {
  const std::string& account = query.params.at(0);
  auto view = projections::AccountsProjection::Read(
      read_models_.db(), read_models_.Family(ProjectionId::kAccounts), account);
  if (!view) return ErrorResponse(view.error());
  const std::uint64_t position = view->position;
  if (!view->account) {
    return ErrorResponse(MakeError(ErrorKind::kNotFound, "account_not_found",
                                   "account " + account + " has no events up to position " +
                                       std::to_string(position)));
  }
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "account", account);
  UnsignedField(writer, "version", view->account->version);
  UnsignedField(writer, "last_position", view->account->last_position);
  Key(writer, "balances");
  writer.StartArray();
  for (const auto& [asset, balance] : view->account->balances) {
    writer.StartObject();
    Field(writer, "asset", asset);
    Field(writer, "balance", balance);
    writer.EndObject();
  }
  writer.EndArray();
  UnsignedField(writer, "position", position);
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, Finish(buffer));
}

}  // namespace ledger::transport
