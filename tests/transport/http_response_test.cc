#include "transport/http_response.h"

#include <gtest/gtest.h>

#include "ledger/limits.h"

namespace ledger::transport {
namespace {

namespace http = boost::beast::http;

TEST(HttpResponseTest, MapsEveryErrorKind) {
  const std::pair<ErrorKind, unsigned> cases[] = {
      {ErrorKind::kInvalidArgument, 400},  {ErrorKind::kUnauthenticated, 401},
      {ErrorKind::kPermissionDenied, 403}, {ErrorKind::kNotFound, 404},
      {ErrorKind::kConflict, 409},         {ErrorKind::kTooLarge, 413},
      {ErrorKind::kRejected, 422},         {ErrorKind::kRateLimited, 429},
      {ErrorKind::kOverloaded, 503},       {ErrorKind::kUnavailable, 503},
      {ErrorKind::kInternal, 500},         {ErrorKind::kCorruption, 500}, {ErrorKind::kDeadlineExceeded, 504},
  };
  for (const auto& [kind, status] : cases) {
    EXPECT_EQ(static_cast<unsigned>(HttpStatusFor(kind)), status);
    const HttpResponse response = ErrorResponse(MakeError(kind, "some_code", "why"));
    EXPECT_EQ(response.result_int(), status);
    EXPECT_EQ(response.body(), R"({"error":{"code":"some_code","message":"why"}})");
    EXPECT_EQ(response[http::field::content_type], "application/json");
    EXPECT_EQ(response[http::field::content_length], std::to_string(response.body().size()));
  }
}

TEST(HttpResponseTest, AddsChallengeAndRetryHeaders) {
  const HttpResponse unauthenticated =
      ErrorResponse(MakeError(ErrorKind::kUnauthenticated, "unauthenticated", ""));
  EXPECT_EQ(unauthenticated[http::field::www_authenticate], "Bearer realm=\"ledger\"");

  const HttpResponse overloaded =
      ErrorResponse(MakeError(ErrorKind::kOverloaded, "overloaded", ""));
  EXPECT_EQ(overloaded[http::field::retry_after], std::to_string(kOverloadRetryAfterSeconds));

  const HttpResponse limited =
      ErrorResponse(MakeError(ErrorKind::kRateLimited, "rate_limited", ""), 7);
  EXPECT_EQ(limited[http::field::retry_after], "7");
  const HttpResponse limited_zero =
      ErrorResponse(MakeError(ErrorKind::kRateLimited, "rate_limited", ""));
  EXPECT_EQ(limited_zero[http::field::retry_after], "1");

  // Storage failures (disk full) pass: ledgerd resumes writes by itself.
  const HttpResponse unavailable =
      ErrorResponse(MakeError(ErrorKind::kUnavailable, "disk_full", ""));
  EXPECT_EQ(unavailable.result_int(), 503u);
  EXPECT_EQ(unavailable[http::field::retry_after], "1");
  EXPECT_EQ(unavailable.find(http::field::www_authenticate), unavailable.end());
}

TEST(HttpResponseTest, ProtocolErrorsUseTheGivenStatus) {
  const HttpResponse response =
      ProtocolErrorResponse(HttpStatus::method_not_allowed, "method_not_allowed", "use POST");
  EXPECT_EQ(response.result_int(), 405u);
  EXPECT_EQ(response.body(), R"({"error":{"code":"method_not_allowed","message":"use POST"}})");
}

}  // namespace
}  // namespace ledger::transport
