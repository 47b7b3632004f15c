// HTTP message types and response builders, and the one place that maps error kinds to HTTP
// statuses. Response bodies are JSON: {"error": {"code", "message"}} for every error.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger::transport {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;
using HttpStatus = boost::beast::http::status;

// kInvalidArgument 400, kUnauthenticated 401, kPermissionDenied 403, kNotFound 404,
// kConflict 409, kTooLarge 413, kRejected 422, kRateLimited 429, kOverloaded and kUnavailable
// 503, kInternal and kCorruption 500, kDeadlineExceeded 504.
[[nodiscard]] HttpStatus HttpStatusFor(ErrorKind kind);

// A response with `body` as application/json (version and keep-alive are the connection's).
[[nodiscard]] HttpResponse JsonResponse(HttpStatus status, std::string body);

// The error response for `error`: status from HttpStatusFor, plus "WWW-Authenticate: Bearer"
// on 401, "Retry-After: <retry_after_seconds>" on 429 (at least 1) and
// "Retry-After: kOverloadRetryAfterSeconds" on kOverloaded.
[[nodiscard]] HttpResponse ErrorResponse(const Error& error, int retry_after_seconds = 0);

// An error response with an explicit HTTP status, for protocol errors that have no ErrorKind
// (405, 414, 415, 431).
[[nodiscard]] HttpResponse ProtocolErrorResponse(HttpStatus status, std::string_view code,
                                                 std::string_view message);

}  // namespace ledger::transport
