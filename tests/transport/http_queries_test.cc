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

TEST_F(QueriesTest, WalletGroupsCashCouponsAndOtherAssets) {
  ASSERT_EQ(Post("/v1/campaigns",
                 R"({"campaign_id":"welcome","kind":"coupon","asset":"COUPON","unit_amount":1,)"
                 R"("budget":10,"per_user_limit":2,"valid_from":"2020-01-01T00:00:00Z",)"
                 R"("valid_until":"2099-01-01T00:00:00Z","funding_account":"external:marketing"})")
                .result_int(),
            201u);
  for (const char* grant : {"g1", "g2"}) {
    ASSERT_EQ(Post("/v1/campaigns/welcome/grants",
                   std::string(R"({"grant_id":")") + grant + R"(","user":"user:7"})")
                  .result_int(),
              201u);
  }
  ASSERT_EQ(Post("/v1/assets/changes", R"({"account":"user:7","asset":"CNY","amount":1200,)"
                                       R"("source":"card","reason":"top-up","ref":"r1"})")
                .result_int(),
            201u);
  const HttpResponse coins =
      Post("/v1/assets/changes", R"({"account":"user:7","asset":"COIN","amount":30,)"
                                 R"("source":"game","reason":"reward","ref":"r2"})");
  ASSERT_EQ(coins.result_int(), 201u);
  const std::uint64_t position = Json(coins)["position"].GetUint64();

  const HttpResponse response = GetAfter("/v1/wallets/user:7", position);
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const auto json = Json(response);
  EXPECT_STREQ(json["served_by"].GetString(), "wallets");
  EXPECT_GE(json["position"].GetUint64(), position);
  ASSERT_EQ(json["cash"].Size(), 1u);
  EXPECT_STREQ(json["cash"][0]["asset"].GetString(), "CNY");
  EXPECT_EQ(json["cash"][0]["balance"].GetInt64(), 1200);
  EXPECT_EQ(json["cash"][0]["last_change"]["position"].GetUint64(), position - 1);
  ASSERT_EQ(json["coupons"].Size(), 1u);
  EXPECT_STREQ(json["coupons"][0]["campaign_id"].GetString(), "welcome");
  EXPECT_EQ(json["coupons"][0]["count"].GetInt64(), 2);
  EXPECT_STREQ(json["coupons"][0]["valid_until"].GetString(), "2099-01-01T00:00:00.000000Z");
  ASSERT_EQ(json["other"].Size(), 1u);
  EXPECT_STREQ(json["other"][0]["asset"].GetString(), "COIN");
  EXPECT_EQ(json["other"][0]["balance"].GetInt64(), 30);
}

TEST_F(QueriesTest, WalletOfAUserWithoutAssetsIsServedByTheHoldersBitmap) {
  const std::uint64_t position = Credit("user:1", 5);
  // The bitmap answers only when it has reached min_position itself (it runs beside the wallet
  // projection, not in step with it): wait for it first.
  ASSERT_EQ(GetAfter("/v1/holders/user:2", position).result_int(), 200u);
  const HttpResponse response = GetAfter("/v1/wallets/user:2", position);
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const auto json = Json(response);
  EXPECT_STREQ(json["served_by"].GetString(), "holders_bitmap");
  EXPECT_GE(json["position"].GetUint64(), position);
  EXPECT_EQ(json["cash"].Size() + json["coupons"].Size() + json["other"].Size(), 0u);
  // A holder, and an account outside the bitmap's domain, are read from the wallet store.
  EXPECT_STREQ(Json(GetAfter("/v1/wallets/user:1", position))["served_by"].GetString(), "wallets");
  EXPECT_STREQ(Json(GetAfter("/v1/wallets/merchant:1", position))["served_by"].GetString(),
               "wallets");
}

TEST_F(QueriesTest, HoldersAnswerWhoHoldsAnything) {
  Credit("user:1", 5);
  const std::uint64_t position = Credit("user:3", 5);
  auto holder = Json(GetAfter("/v1/holders/user:1", position));
  EXPECT_TRUE(holder["has_assets"].GetBool());
  EXPECT_GE(holder["position"].GetUint64(), position);
  EXPECT_FALSE(Json(GetAfter("/v1/holders/user:2", position))["has_assets"].GetBool());
  const HttpResponse not_user = Get("/v1/holders/merchant:1");
  EXPECT_EQ(not_user.result_int(), 400u);
  EXPECT_EQ(ErrorCode(not_user), "not_a_user_account");

  const HttpResponse check = Send("POST", "/v1/holders/_check",
                                  R"({"accounts":["user:1","user:2","user:3","user:1"]})",
                                  kReaderToken);
  ASSERT_EQ(check.result_int(), 200u) << check.body();
  const auto json = Json(check);
  EXPECT_GE(json["position"].GetUint64(), position);
  ASSERT_EQ(json["accounts"].Size(), 4u);
  const bool expected[] = {true, false, true, true};
  for (rapidjson::SizeType i = 0; i < 4; ++i) {
    EXPECT_EQ(json["accounts"][i]["has_assets"].GetBool(), expected[i]) << i;
  }
}

TEST_F(QueriesTest, HoldersCheckValidatesItsBody) {
  auto check = [&](std::string_view body) {
    return Send("POST", "/v1/holders/_check", body, kReaderToken);
  };
  EXPECT_EQ(check("{").result_int(), 400u);
  EXPECT_EQ(check(R"({"accounts":[]})").result_int(), 400u);
  EXPECT_EQ(check(R"({"accounts":"user:1"})").result_int(), 400u);
  EXPECT_EQ(check(R"({"accounts":[1]})").result_int(), 400u);
  EXPECT_EQ(check(R"({"accounts":["user:1"],"extra":1})").result_int(), 400u);
  const HttpResponse bad_account = check(R"({"accounts":["user:1","shop:9"]})");
  EXPECT_EQ(ErrorCode(bad_account), "not_a_user_account");
  EXPECT_NE(bad_account.body().find("accounts[1]"), std::string::npos);
  EXPECT_EQ(Send("POST", "/v1/holders/_check", R"({"accounts":["user:1"]})", kWriterToken)
                .result_int(),
            403u);
  // The limit: 10,000 accounts answer (the body is larger than a command's limit), 10,001 not.
  std::string body = R"({"accounts":[)";
  for (std::size_t i = 0; i < kHoldersCheckAccountsMax; ++i) {
    body += (i == 0 ? "\"user:" : ",\"user:") + std::to_string(i) + "\"";
  }
  const HttpResponse full = check(body + "]}");
  ASSERT_EQ(full.result_int(), 200u) << full.body().substr(0, 200);
  EXPECT_EQ(Json(full)["accounts"].Size(), kHoldersCheckAccountsMax);
  const HttpResponse over = check(body + R"(,"user:1"]})");
  EXPECT_EQ(over.result_int(), 400u);
}

TEST_F(QueriesTest, EntriesPagesNewestFirstWithBalanceAfter) {
  for (int i = 1; i <= 5; ++i) Credit("alice", i * 100);
  const HttpResponse moved = Post(
      "/v1/transfers", R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":50}]})");
  ASSERT_EQ(moved.result_int(), 201u) << moved.body();
  const std::uint64_t position = Json(moved)["position"].GetUint64();

  std::vector<std::int64_t> amounts;
  std::vector<std::int64_t> balances;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    std::string target = "/v1/accounts/alice/entries?limit=4";
    if (!cursor.empty()) target += "&cursor=" + cursor;
    const HttpResponse response = GetAfter(target, position);
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    const auto json = Json(response);
    for (const auto& entry : json["entries"].GetArray()) {
      amounts.push_back(entry["amount"].GetInt64());
      balances.push_back(entry["balance_after"].GetInt64());
    }
    if (page == 0) {
      EXPECT_STREQ(json["entries"][0]["type"].GetString(), "Transferred");
      EXPECT_STREQ(json["entries"][0]["counterparty"].GetString(), "bob");
      EXPECT_EQ(json["entries"][0]["position"].GetUint64(), position);
    }
    if (json["next_cursor"].IsNull()) break;
    cursor = json["next_cursor"].GetString();
  }
  EXPECT_EQ(amounts, (std::vector<std::int64_t>{-50, 500, 400, 300, 200, 100}));
  EXPECT_EQ(balances, (std::vector<std::int64_t>{1450, 1500, 1000, 600, 300, 100}));
  EXPECT_EQ(ErrorCode(Get("/v1/accounts/alice/entries?cursor=zz")), "invalid_cursor");
  EXPECT_EQ(Get("/v1/accounts/alice/entries?limit=0").result_int(), 400u);
  EXPECT_EQ(Get("/v1/accounts/alice/entries?limit=1001").result_int(), 400u);
  const auto filtered = Json(GetAfter("/v1/accounts/alice/entries?asset=EUR", position));
  EXPECT_EQ(filtered["entries"].Size(), 0u);
}

TEST_F(QueriesTest, MerchantStatementOfTheSettlementExample) {
  const HttpResponse settled = Post("/v1/settlements", R"({
    "order_id": "order-1", "merchant": "merchant-1", "payer": "external:psp", "asset": "USD",
    "gross": 10000,
    "splits": [{"to": "host-1", "kind": "host_commission", "bps": 1000},
               {"to": "platform", "kind": "platform_share", "bps": 500},
               {"to": "tech", "kind": "technical_service_fee", "bps": 60}]})");
  ASSERT_EQ(settled.result_int(), 201u) << settled.body();
  const HttpResponse paid = Post("/v1/payouts", R"({"payout_id":"p-1","merchant":"merchant-1",
      "asset":"USD","amount":4000,"bank_account":"external:bank"})");
  ASSERT_EQ(paid.result_int(), 201u) << paid.body();
  const std::uint64_t position = Json(paid)["position"].GetUint64();

  for (const char* period : {"day", "month", "year"}) {
    const HttpResponse response = GetAfter(std::string("/v1/merchants/merchant-1/statements?") +
                                               "period=" + period + "&from=2000&to=2099-12-31",
                                           position);
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    const auto json = Json(response);
    ASSERT_EQ(json["statements"].Size(), 1u) << response.body();
    const auto& row = json["statements"][0];
    EXPECT_STREQ(row["asset"].GetString(), "USD");
    EXPECT_EQ(row["opening"].GetInt64(), 0);
    EXPECT_EQ(row["income"].GetInt64(), 10000);
    EXPECT_EQ(row["other_items"].GetInt64(), -1560);
    EXPECT_EQ(row["other_items_by_kind"]["host_commission"].GetInt64(), -1000);
    EXPECT_EQ(row["other_items_by_kind"]["platform_share"].GetInt64(), -500);
    EXPECT_EQ(row["other_items_by_kind"]["technical_service_fee"].GetInt64(), -60);
    EXPECT_EQ(row["expenditure"].GetInt64(), 4000);
    EXPECT_EQ(row["closing"].GetInt64(), 4440);
    EXPECT_EQ(row["orders"].GetUint64(), 1u);
  }
  const std::string base = "/v1/merchants/merchant-1/statements?";
  EXPECT_EQ(Get(base + "period=week&from=2026&to=2026").result_int(), 400u);
  EXPECT_EQ(Get(base + "period=day&from=2026-02-30&to=2026-03-01").result_int(), 400u);
  EXPECT_EQ(Get(base + "period=day&from=2026").result_int(), 400u);
  EXPECT_EQ(ErrorCode(Get(base + "from=2026-12-01&to=2026-11-01")), "invalid_range");
}

}  // namespace
}  // namespace ledger::transport::testing
