// Integration: the query endpoints of the read models, over real HTTP, and read-your-writes
// (min_position / timeout_ms).
#include <gtest/gtest.h>

#include <future>

#include "ledger/limits.h"
#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

class QueriesTest : public HttpTest {
 protected:
  // GET with min_position = the given write's position, so the answer includes it.
  HttpResponse GetAfter(std::string_view path, std::uint64_t position,
                        std::string_view token = kReaderToken) {
    const char separator = path.find('?') == std::string_view::npos ? '?' : '&';
    return Get(std::string(path) + separator + "min_position=" + std::to_string(position), token);
  }

  // Sends a GET on a new connection, asynchronously.
  std::future<Result<HttpResponse>> GetAsync(std::string target) {
    return std::async(std::launch::async, [this, target = std::move(target)] {
      return server_.Connect()->Send("GET", target, {}, kReaderToken);
    });
  }
};

TEST_F(QueriesTest, AccountBalancesVersionAndPosition) {
  Credit("alice", 500);
  const std::uint64_t position = Credit("alice", 250);
  const HttpResponse response = GetAfter("/v1/accounts/alice", position);
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const auto json = Json(response);
  EXPECT_STREQ(json["account"].GetString(), "alice");
  EXPECT_EQ(json["version"].GetUint64(), 2u);
  EXPECT_EQ(json["last_position"].GetUint64(), position);
  EXPECT_GE(json["position"].GetUint64(), position);
  ASSERT_EQ(json["balances"].Size(), 1u);
  EXPECT_STREQ(json["balances"][0]["asset"].GetString(), "USD");
  EXPECT_EQ(json["balances"][0]["balance"].GetInt64(), 750);
}

TEST_F(QueriesTest, UnknownAccountIs404WithThePositionItReflects) {
  const std::uint64_t position = Credit("alice", 1);
  const HttpResponse response = GetAfter("/v1/accounts/nobody", position);
  EXPECT_EQ(response.result_int(), 404u);
  EXPECT_EQ(ErrorCode(response), "account_not_found");
  EXPECT_NE(response.body().find("up to position"), std::string::npos) << response.body();
}

TEST_F(QueriesTest, QueriesNeedTheReaderOrAdminRole) {
  EXPECT_EQ(Get("/v1/accounts/alice", kWriterToken).result_int(), 403u);
  EXPECT_EQ(ErrorCode(Get("/v1/projections", kWriterToken)), "forbidden");
  EXPECT_EQ(Get("/v1/accounts/alice", "").result_int(), 401u);
  EXPECT_EQ(Get("/v1/projections", kAdminToken).result_int(), 200u);
}

TEST_F(QueriesTest, ProjectionsReportPositionAndLag) {
  const std::uint64_t position = Credit("alice", 1);
  ASSERT_EQ(GetAfter("/v1/accounts/alice", position).result_int(), 200u);
  const HttpResponse response = Get("/v1/projections");
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const auto json = Json(response);
  EXPECT_EQ(json["head"].GetUint64(), position);
  bool found = false;
  for (const auto& projection : json["projections"].GetArray()) {
    EXPECT_STREQ(projection["state"].GetString(), "running");
    if (std::string_view(projection["name"].GetString()) != "accounts") continue;
    found = true;
    EXPECT_EQ(projection["position"].GetUint64(), position);
    EXPECT_EQ(projection["lag"].GetUint64(), 0u);
  }
  EXPECT_TRUE(found) << response.body();
  // /metrics has the same figures.
  const std::string metrics = Get("/metrics").body();
  EXPECT_NE(metrics.find("ledger_projection_position{projection=\"accounts\"} " +
                         std::to_string(position)),
            std::string::npos);
  EXPECT_NE(metrics.find("ledger_projection_lag{projection=\"accounts\"}"), std::string::npos);
}

TEST_F(QueriesTest, MinPositionBeyondTheHeadTimesOutWith504AndThePositionReached) {
  const std::uint64_t position = Credit("alice", 1);
  ASSERT_EQ(GetAfter("/v1/accounts/alice", position).result_int(), 200u);
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse response =
      Get("/v1/accounts/alice?min_position=" + std::to_string(position + 100) + "&timeout_ms=300");
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(response.result_int(), 504u) << response.body();
  EXPECT_EQ(ErrorCode(response), "position_not_reached");
  EXPECT_EQ(Json(response)["position"].GetUint64(), position);
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  // timeout_ms=0 answers at once.
  EXPECT_EQ(
      Get("/v1/accounts/alice?timeout_ms=0&min_position=" + std::to_string(position + 1))
          .result_int(),
      504u);
}

TEST_F(QueriesTest, MinPositionWaitsForALaterWriteWithoutHoldingIoThreads) {
  const std::uint64_t position = Credit("alice", 1);
  // More waiting queries than the server has io threads (2): a blocking wait would starve the
  // write below, and the waits would end in 504.
  std::vector<std::future<Result<HttpResponse>>> waiting;
  for (int i = 0; i < 4; ++i) {
    waiting.push_back(GetAsync("/v1/accounts/alice?timeout_ms=10000&min_position=" +
                               std::to_string(position + 1)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  for (auto& query : waiting) {
    EXPECT_EQ(query.wait_for(std::chrono::seconds(0)), std::future_status::timeout);
  }
  const std::uint64_t later = Credit("alice", 2);
  ASSERT_EQ(later, position + 1);
  for (auto& query : waiting) {
    auto response = query.get();
    ASSERT_TRUE(response.has_value());
    ASSERT_EQ(response->result_int(), 200u) << response->body();
    const auto json = Json(*response);
    EXPECT_GE(json["position"].GetUint64(), later);
    EXPECT_EQ(json["balances"][0]["balance"].GetInt64(), 3);
  }
}

TEST_F(QueriesTest, BadWaitParametersAre400) {
  EXPECT_EQ(Get("/v1/accounts/alice?min_position=-1").result_int(), 400u);
  EXPECT_EQ(Get("/v1/accounts/alice?min_position=x").result_int(), 400u);
  EXPECT_EQ(Get("/v1/accounts/alice?timeout_ms=60001").result_int(), 400u);
  EXPECT_EQ(Get("/v1/accounts/alice?unknown=1").result_int(), 400u);
  EXPECT_EQ(Get("/v1/projections?min_position=1").result_int(), 400u);
}

}  // namespace
}  // namespace ledger::transport::testing
