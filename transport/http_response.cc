#include "transport/http_response.h"

#include <algorithm>
#include <boost/beast/http/field.hpp>

#include "ledger/limits.h"
#include "transport/json_events.h"

namespace ledger::transport {

namespace http = boost::beast::http;

HttpStatus HttpStatusFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return HttpStatus::bad_request;
    case ErrorKind::kUnauthenticated:
      return HttpStatus::unauthorized;
    case ErrorKind::kPermissionDenied:
      return HttpStatus::forbidden;
    case ErrorKind::kNotFound:
      return HttpStatus::not_found;
    case ErrorKind::kConflict:
      return HttpStatus::conflict;
    case ErrorKind::kTooLarge:
      return HttpStatus::payload_too_large;
    case ErrorKind::kRejected:
      return HttpStatus::unprocessable_entity;
    case ErrorKind::kRateLimited:
      return HttpStatus::too_many_requests;
    case ErrorKind::kOverloaded:
      return HttpStatus::service_unavailable;
    case ErrorKind::kUnavailable:
      return HttpStatus::service_unavailable;
    case ErrorKind::kInternal:
      return HttpStatus::internal_server_error;
    case ErrorKind::kCorruption:
      return HttpStatus::internal_server_error;
    case ErrorKind::kDeadlineExceeded:
      return HttpStatus::gateway_timeout;
  }
  return HttpStatus::internal_server_error;
}

HttpResponse JsonResponse(HttpStatus status, std::string body) {
  HttpResponse response{status, 11};
  response.set(http::field::content_type, "application/json");
  response.set(http::field::cache_control, "no-store");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpResponse ErrorResponse(const Error& error, int retry_after_seconds) {
  HttpResponse response = JsonResponse(HttpStatusFor(error.kind), ErrorToJson(error));
  switch (error.kind) {
    case ErrorKind::kUnauthenticated:
      response.set(http::field::www_authenticate, "Bearer realm=\"ledger\"");
      break;
    case ErrorKind::kRateLimited:
      response.set(http::field::retry_after, std::to_string(std::max(1, retry_after_seconds)));
      break;
    case ErrorKind::kOverloaded:
      response.set(http::field::retry_after, std::to_string(kOverloadRetryAfterSeconds));
      break;
    case ErrorKind::kUnavailable:
      // Disk full, a failed write, shutting down: all pass, ledgerd resumes writes by itself.
      response.set(http::field::retry_after, std::to_string(kStorageRetryAfterSeconds));
      break;
    default:
      break;
  }
  return response;
}

HttpResponse ProtocolErrorResponse(HttpStatus status, std::string_view code,
                                   std::string_view message) {
  return JsonResponse(status, ErrorToJson(MakeError(ErrorKind::kInvalidArgument, std::string(code),
                                                    std::string(message))));
}

}  // namespace ledger::transport
