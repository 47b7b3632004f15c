// The write endpoints of HttpApi: authorization, rate limits, headers, decoding, and the
// hand-off to the sequencer.
#include <boost/asio/post.hpp>
#include <boost/beast/http/field.hpp>

#include "ledger/limits.h"
#include "transport/http_api.h"
#include "transport/internal/routes.h"
#include "transport/json_commands.h"
#include "transport/json_events.h"
#include "transport/request_ids.h"

namespace ledger::transport {
namespace {

namespace http = boost::beast::http;

// The value of header `name`, or nullopt when the request has none.
std::optional<std::string_view> Header(const HttpRequest& request, std::string_view name) {
  const auto header = request.find(boost::beast::string_view(name.data(), name.size()));
  if (header == request.end()) return std::nullopt;
  return std::string_view(header->value().data(), header->value().size());
}

Result<commands::CommandContext> ContextFromHeaders(const HttpRequest& request,
                                                    const Client& client) {
  return MakeCommandContext(client,
                            {.idempotency_key = Header(request, "Idempotency-Key"),
                             .correlation_id = Header(request, "X-Correlation-Id"),
                             .causation_id = Header(request, "X-Causation-Id")},
                            {.idempotency_key = "header Idempotency-Key",
                             .correlation_id = "header X-Correlation-Id",
                             .causation_id = "header X-Causation-Id"});
}

// True when Content-Type is absent (accepted leniently) or application/json (any parameters).
bool IsJsonContentType(const HttpRequest& request) {
  const auto header = request.find(http::field::content_type);
  if (header == request.end()) return true;
  std::string_view value(header->value().data(), header->value().size());
  value = value.substr(0, value.find(';'));
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  constexpr std::string_view kJson = "application/json";
  if (value.size() != kJson.size()) return false;
  for (std::size_t i = 0; i < kJson.size(); ++i) {
    const char c = value[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kJson[i]) return false;
  }
  return true;
}

template <typename T>
Result<commands::CommandBody> Widen(Result<T> decoded) {
  if (!decoded) return std::unexpected(std::move(decoded.error()));
  return commands::CommandBody(std::move(*decoded));
}

Result<commands::CommandBody> DecodeCommand(RouteId route, const std::vector<std::string>& params,
                                            std::string_view body) {
  switch (route) {
    case RouteId::kChangeAsset:
      return Widen(DecodeChangeAsset(body));
    case RouteId::kTransfer:
      return Widen(DecodeTransfer(body));
    case RouteId::kSettleOrder:
      return Widen(DecodeSettleOrder(body));
    case RouteId::kRefundOrder:
      return Widen(DecodeRefundOrder(body, params.at(0)));
    case RouteId::kPayOut:
      return Widen(DecodePayOut(body));
    case RouteId::kOpenAccount:
      return Widen(DecodeOpenAccount(body));
    case RouteId::kCreateCampaign:
      return Widen(DecodeCreateCampaign(body));
    case RouteId::kGrantVoucher:
      return Widen(DecodeGrantVoucher(body, params.at(0)));
    case RouteId::kRedeemVoucher:
      return Widen(DecodeRedeemVoucher(body, params.at(0)));
    default:
      break;
  }
  LEDGER_ASSERT(false && "DecodeCommand called for a read route");
  return Fail(ErrorKind::kInternal, "internal", "not a command route");
}

}  // namespace

void HttpApi::HandleCommand(const Route& route, const Params& params, const HttpRequest& request,
                            const Client& client, const boost::asio::any_io_executor& executor,
                            Respond& respond) {
  const auto fail = [&](const Error& error, int retry_after_seconds = 0) {
    CountCommand(route.command, error.code, client.client_id);
    respond(ErrorResponse(error, retry_after_seconds));
  };
  if (!options_.serve_commands) {
    return fail(MakeError(ErrorKind::kPermissionDenied, "wrong_role",
                          "this ledgerd runs --role " + options_.role +
                              " and takes no commands: send them to the writer"));
  }
  if (!client.CanWrite()) {
    return fail(MakeError(ErrorKind::kPermissionDenied, "forbidden",
                          "client '" + client.client_id + "' may not write"));
  }
  if (client.limiter != nullptr) {
    if (const int wait_seconds = client.limiter->TryAcquire(now_()); wait_seconds > 0) {
      return fail(MakeError(ErrorKind::kRateLimited, "rate_limited",
                            "rate limit of client '" + client.client_id + "' exceeded"),
                  wait_seconds);
    }
  }
  if (!IsJsonContentType(request)) {
    CountCommand(route.command, "unsupported_media_type", client.client_id);
    return respond(ProtocolErrorResponse(HttpStatus::unsupported_media_type,
                                         "unsupported_media_type",
                                         "Content-Type must be application/json"));
  }
  auto context = ContextFromHeaders(request, client);
  if (!context) return fail(context.error());
  auto body = DecodeCommand(route.id, params, request.body());
  if (!body) return fail(body.error());
  Submit(route, commands::Command{std::move(*context), std::move(*body)}, executor, respond);
}

void HttpApi::Submit(const Route& route, commands::Command command,
                     const boost::asio::any_io_executor& executor, Respond& respond) {
  auto shared_respond = std::make_shared<Respond>(std::move(respond));
  const std::string client_id = command.context.client_id;
  const std::string_view type = route.command;
  auto done = [this, executor, shared_respond, type,
               client_id](Result<commands::CommandOutcome> outcome) {
    // On the sequencer's thread: hand the outcome over and return at once.
    boost::asio::post(
        executor, [this, shared_respond, type, client_id, outcome = std::move(outcome)]() {
          if (!outcome) {
            CountCommand(type, outcome.error().code, client_id);
            return (*shared_respond)(ErrorResponse(outcome.error()));
          }
          CountCommand(type, outcome->replayed ? "replayed" : "ok", client_id);
          (*shared_respond)(JsonResponse(outcome->replayed ? HttpStatus::ok : HttpStatus::created,
                                         CommandResultToJson(outcome->event, outcome->replayed)));
        });
  };
  if (auto status = sequencer_.Submit(std::move(command), std::move(done)); !status) {
    CountCommand(type, status.error().code, client_id);
    (*shared_respond)(ErrorResponse(status.error()));
  }
}

}  // namespace ledger::transport
