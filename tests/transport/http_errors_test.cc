// Integration: every refusal gets the right 4xx code and changes nothing.
#include <gtest/gtest.h>

#include "ledger/limits.h"
#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kDeposit =
    R"({"account":"alice","asset":"USD","amount":100,"source":"bank","reason":"r","ref":"x"})";

class ErrorsTest : public HttpTest {
 protected:
  void SetUp() override {
    HttpTest::SetUp();
    Credit("alice", 1000);  // So "nothing changed" is checked against a non-empty log.
    head_ = Head();
  }

  // Expects `response` to be `status` with error code `code`, and the log unchanged.
  void ExpectRefused(const HttpResponse& response, unsigned status, std::string_view code) {
    EXPECT_EQ(response.result_int(), status) << response.body();
    EXPECT_EQ(ErrorCode(response), code) << response.body();
    EXPECT_EQ(response[http::field::content_type], "application/json");
    EXPECT_EQ(Head(), head_) << "a refused request wrote an event";
  }

  std::uint64_t head_ = 0;
};

TEST_F(ErrorsTest, MalformedJson) {
  for (const char* body : {"{", "{\"account\":}", "not json", "{} {}", "[1,]", "\"\xff\""}) {
    ExpectRefused(Post("/v1/assets/changes", body), 400, "malformed_json");
  }
}

TEST_F(ErrorsTest, EmptyBody) {
  ExpectRefused(Post("/v1/assets/changes", ""), 400, "malformed_json");
}

TEST_F(ErrorsTest, WrongTypesAndUnknownFields) {
  const HttpResponse wrong_type = Post(
      "/v1/assets/changes",
      R"({"account":"alice","asset":"USD","amount":"100","source":"bank","reason":"r","ref":"x"})");
  ExpectRefused(wrong_type, 400, "invalid_argument");
  EXPECT_NE(wrong_type.body().find("'amount'"), std::string::npos);

  const HttpResponse unknown = Post("/v1/accounts", R"({"account":"bob","overdraft":true})");
  ExpectRefused(unknown, 400, "invalid_argument");
  EXPECT_NE(unknown.body().find("unknown field 'overdraft'"), std::string::npos);

  const HttpResponse missing = Post("/v1/payouts", R"({"payout_id":"p"})");
  ExpectRefused(missing, 400, "invalid_argument");
  EXPECT_NE(missing.body().find("missing required field"), std::string::npos);

  ExpectRefused(Post("/v1/accounts", R"({"account":"bob","account":"eve"})"), 400,
                "invalid_argument");
  std::string deep = R"({"account":"bob","metadata":)";
  for (int i = 0; i < 20; ++i) deep += R"({"a":)";
  deep += "1" + std::string(20, '}') + "}";
  ExpectRefused(Post("/v1/accounts", deep), 400, "invalid_argument");
}

TEST_F(ErrorsTest, BadAmounts) {
  const auto change = [](std::string_view amount) {
    return R"({"account":"alice","asset":"USD","amount":)" + std::string(amount) +
           R"(,"source":"bank","reason":"r","ref":"x"})";
  };
  ExpectRefused(Post("/v1/assets/changes", change("0")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/assets/changes", change("1.5")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/assets/changes", change("1.0")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/assets/changes", change("9223372036854775808")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/assets/changes", change("-9223372036854775808")), 400, "amount_overflow");
  // A debit larger than the balance is a business rule: 422.
  ExpectRefused(Post("/v1/assets/changes", change("-1001")), 422, "insufficient_funds");

  const auto transfer = [](std::string_view amount) {
    return R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":)" +
           std::string(amount) + "}]}";
  };
  ExpectRefused(Post("/v1/transfers", transfer("0")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/transfers", transfer("-5")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/transfers", transfer("1e2")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/transfers", transfer("99999999999999999999")), 400, "invalid_argument");
  ExpectRefused(Post("/v1/payouts", R"({"payout_id":"p","merchant":"alice","asset":"USD",
      "amount":-1,"bank_account":"external:bank:1"})"),
                400, "invalid_argument");
  ExpectRefused(Post("/v1/settlements", R"({"order_id":"o","merchant":"m","payer":"external:p",
      "asset":"USD","gross":0,"splits":[]})"),
                400, "invalid_argument");
}

TEST_F(ErrorsTest, OversizedBody) {
  std::string body = R"({"account":"alice","asset":"USD","amount":1,"source":"bank","reason":")";
  body += std::string(kHttpBodyBytesMax, 'x') + R"(","ref":"x"})";
  ExpectRefused(Post("/v1/assets/changes", body), 413, "body_too_large");
  // The server closes that connection; a new one works.
  client_ = server_.Connect();
  EXPECT_EQ(Get("/healthz").result_int(), 200u);
}

TEST_F(ErrorsTest, OversizedChunkedBody) {
  std::string request = "POST /v1/assets/changes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        std::string(kWriterToken) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(16 * 1024, ' ');
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  for (int i = 0; i < 5; ++i) request += size + chunk + "\r\n";
  request += "0\r\n\r\n";
  auto response = client_->SendRaw(request);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  ExpectRefused(*response, 413, "body_too_large");
}

TEST_F(ErrorsTest, MissingOrWrongToken) {
  for (std::string_view token : {std::string_view(), std::string_view("wrong-token-0123456789")}) {
    const HttpResponse response = Post("/v1/assets/changes", kDeposit, token);
    ExpectRefused(response, 401, "unauthenticated");
    EXPECT_EQ(response[http::field::www_authenticate].substr(0, 6), "Bearer");
  }
  const HttpResponse basic =
      Post("/v1/assets/changes", kDeposit, {}, {{"Authorization", "Basic d3JpdGVyOnNlY3JldA=="}});
  ExpectRefused(basic, 401, "unauthenticated");
  ExpectRefused(Get("/v1/events", ""), 401, "unauthenticated");
  ExpectRefused(Get("/metrics", ""), 401, "unauthenticated");
}

TEST_F(ErrorsTest, ReaderCannotWrite) {
  ExpectRefused(Post("/v1/assets/changes", kDeposit, kReaderToken), 403, "forbidden");
  ExpectRefused(Post("/v1/accounts", R"({"account":"x"})", kReaderToken), 403, "forbidden");
}

TEST_F(ErrorsTest, RateLimit) {
  // The limited client may send a burst of 3, then waits ~1000 s for the next token.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Post("/v1/assets/changes", kDeposit, kLimitedToken).result_int(), 201u);
  }
  head_ = Head();
  const HttpResponse limited = Post("/v1/assets/changes", kDeposit, kLimitedToken);
  ExpectRefused(limited, 429, "rate_limited");
  const std::string retry_after(limited[http::field::retry_after]);
  ASSERT_FALSE(retry_after.empty());
  EXPECT_GE(std::stoi(retry_after), 1);
  // Other clients are not affected.
  EXPECT_EQ(Post("/v1/assets/changes", kDeposit).result_int(), 201u);
}

TEST_F(ErrorsTest, UnsupportedContentType) {
  ExpectRefused(
      Post("/v1/assets/changes", kDeposit, kWriterToken, {{"Content-Type", "text/plain"}}), 415,
      "unsupported_media_type");
  // application/json with parameters, in any case, is fine.
  EXPECT_EQ(Post("/v1/assets/changes", kDeposit, kWriterToken,
                 {{"Content-Type", "Application/JSON; charset=utf-8"}})
                .result_int(),
            201u);
}

TEST_F(ErrorsTest, BadRequestHeaders) {
  ExpectRefused(Post("/v1/assets/changes", kDeposit, kWriterToken,
                     {{"Idempotency-Key", std::string(kIdempotencyKeyBytesMax + 1, 'k')}}),
                400, "invalid_argument");
  ExpectRefused(Post("/v1/assets/changes", kDeposit, kWriterToken,
                     {{"X-Correlation-Id", std::string(kCorrelationIdBytesMax + 1, 'c')}}),
                400, "invalid_argument");
  ExpectRefused(
      Post("/v1/assets/changes", kDeposit, kWriterToken, {{"Idempotency-Key", "caf\xc3\xa9"}}), 400,
      "invalid_argument");
}

TEST_F(ErrorsTest, UnknownRouteAndWrongMethod) {
  ExpectRefused(Post("/v1/nothing", kDeposit), 404, "not_found");
  ExpectRefused(Get("/v1/ledgers/alice"), 404, "not_found");
  const HttpResponse wrong = Send("GET", "/v1/transfers");
  ExpectRefused(wrong, 405, "method_not_allowed");
  EXPECT_EQ(wrong[http::field::allow], "POST");
  const HttpResponse delete_events = Send("DELETE", "/v1/events");
  ExpectRefused(delete_events, 405, "method_not_allowed");
  EXPECT_EQ(delete_events[http::field::allow], "GET");
}

TEST_F(ErrorsTest, TargetAndHeaderLimits) {
  ExpectRefused(Get("/v1/events?after=" + std::string(kHttpTargetBytesMax, '0')), 414,
                "uri_too_long");
  auto huge = client_->Send("GET", "/healthz", {}, {},
                            {{"X-Padding", std::string(kHttpHeaderBytesMax, 'p')}});
  ASSERT_TRUE(huge.has_value()) << huge.error().message;
  ExpectRefused(*huge, 431, "headers_too_large");
}

TEST_F(ErrorsTest, MalformedHttp) {
  auto response = client_->SendRaw("GARBAGE\r\n\r\n");
  ASSERT_TRUE(response.has_value()) << response.error().message;
  ExpectRefused(*response, 400, "bad_request");
  EXPECT_TRUE(client_->ServerClosed());
}

TEST_F(ErrorsTest, BusinessRejectionsWriteNothing) {
  ExpectRefused(Post("/v1/accounts", R"({"account":"bad id!"})"), 400, "invalid_argument");
  ASSERT_EQ(Post("/v1/accounts", R"({"account":"bob"})").result_int(), 201u);
  head_ = Head();
  ExpectRefused(Post("/v1/accounts", R"({"account":"bob"})", kOtherWriterToken), 409,
                "idempotency_conflict");
  ExpectRefused(Post("/v1/transfers",
                     R"({"postings":[{"from":"bob","to":"alice","asset":"USD","amount":1}]})"),
                422, "insufficient_funds");
}

}  // namespace
}  // namespace ledger::transport::testing
