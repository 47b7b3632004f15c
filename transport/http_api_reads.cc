// The read endpoints of HttpApi: health, metrics and the event log.
#include <boost/beast/http/field.hpp>

#include "ledger/limits.h"
#include "transport/http_api.h"
#include "transport/internal/routes.h"
#include "transport/json_events.h"
#include "transport/url.h"

namespace ledger::transport {
namespace {

namespace http = boost::beast::http;

struct PageQuery {
  std::uint64_t start = 0;  // after= or from_version=.
  std::size_t limit = kEventsPageDefault;
};

Error BadQuery(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// Parses "<start_name>=N&limit=M"; limit must be 1..kEventsPageMax.
Result<PageQuery> ParsePageQuery(std::string_view query, std::string_view start_name,
                                 std::uint64_t start_default) {
  auto params = ParseQuery(query, {start_name, "limit"});
  if (!params) return std::unexpected(params.error());
  PageQuery page{start_default, kEventsPageDefault};
  for (const auto& [name, value] : *params) {
    std::uint64_t number = 0;
    if (!ParseUnsigned(value, &number)) {
      return std::unexpected(
          BadQuery("query parameter '" + name + "' must be an unsigned integer"));
    }
    if (name == "limit" && (number < 1 || number > kEventsPageMax)) {
      return std::unexpected(
          BadQuery("limit must be between 1 and " + std::to_string(kEventsPageMax)));
    }
    if (name == "limit") {
      page.limit = static_cast<std::size_t>(number);
    } else {
      page.start = number;
    }
  }
  return page;
}

}  // namespace

HttpResponse HttpApi::HandleRead(const Route& route, const Params& params, std::string_view query) {
  switch (route.id) {
    case RouteId::kHealthz:
      return Healthz();
    case RouteId::kMetrics:
      return MetricsText();
    case RouteId::kEvents:
      return Events(query);
    case RouteId::kEvent:
      return EventAt(params.at(0));
    case RouteId::kStreamEvents:
      return StreamEvents(params.at(0), query);
    default:
      break;
  }
  LEDGER_ASSERT(false && "HandleRead called for a write route");
  return {};
}

HttpResponse HttpApi::Healthz() const {
  return JsonResponse(HttpStatus::ok,
                      "{\"status\":\"ok\",\"head\":" + std::to_string(store_.HeadPosition()) + "}");
}

HttpResponse HttpApi::MetricsText() const {
  HttpResponse response{HttpStatus::ok, 11};
  response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  response.body() = metrics_.RenderPrometheus();
  response.prepare_payload();
  return response;
}

HttpResponse HttpApi::Events(std::string_view query) const {
  auto page = ParsePageQuery(query, "after", 0);
  if (!page) return ErrorResponse(page.error());
  std::vector<StoredEvent> events;
  if (page->start < store_.HeadPosition()) {
    auto read = store_.ReadFrom(page->start + 1, page->limit);
    if (!read) return ErrorResponse(read.error());
    events = std::move(*read);
  }
  const std::uint64_t next_after =
      events.empty() ? page->start : events.back().event.envelope.position;
  return JsonResponse(HttpStatus::ok, EventsPageToJson(events, next_after, store_.HeadPosition()));
}

HttpResponse HttpApi::EventAt(std::string_view position_text) const {
  std::uint64_t position = 0;
  if (!ParseUnsigned(position_text, &position)) {
    return ErrorResponse(BadQuery("event position must be an unsigned integer"));
  }
  if (position == 0 || position > store_.HeadPosition()) {
    return ErrorResponse(MakeError(ErrorKind::kNotFound, "not_found",
                                   "no event at position " + std::to_string(position)));
  }
  auto stored = store_.Read(position);
  if (!stored) return ErrorResponse(stored.error());
  return JsonResponse(HttpStatus::ok, EventToJson(stored->event));
}

HttpResponse HttpApi::StreamEvents(const std::string& stream, std::string_view query) const {
  auto page = ParsePageQuery(query, "from_version", 1);
  if (!page) return ErrorResponse(page.error());
  auto read = store_.ReadStream(stream, page->start, page->limit);
  if (!read) return ErrorResponse(read.error());
  const std::uint64_t next_from_version = read->empty()
                                              ? std::max<std::uint64_t>(page->start, 1)
                                              : read->back().event.envelope.stream_version + 1;
  return JsonResponse(HttpStatus::ok,
                      StreamPageToJson(stream, *read, next_from_version, store_.HeadPosition()));
}

}  // namespace ledger::transport
