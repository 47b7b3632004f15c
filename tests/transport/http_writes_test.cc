// Integration: every write endpoint's happy path, idempotency, and business errors over HTTP.
#include <gtest/gtest.h>

#include "commands/decide.h"
#include "tests/transport/http_fixture.h"
#include "transport/rfc3339.h"

namespace ledger::transport::testing {
namespace {

using WritesTest = HttpTest;

constexpr std::string_view kSettlement = R"({
  "order_id": "order-1", "merchant": "merchant-1", "payer": "external:psp", "asset": "USD",
  "gross": 10000,
  "splits": [{"to": "host-1", "kind": "host_commission", "bps": 1000},
             {"to": "platform", "kind": "platform_share", "bps": 500},
             {"to": "tech", "kind": "technical_service_fee", "bps": 60}],
  "occurred_at": "2026-11-21T10:00:00Z"})";

constexpr std::string_view kCampaign = R"({
  "campaign_id": "welcome", "kind": "coupon", "asset": "USD", "unit_amount": 500,
  "budget": 2, "per_user_limit": 1, "valid_from": "2020-01-01T00:00:00Z",
  "valid_until": "2099-01-01T00:00:00Z", "funding_account": "external:marketing"})";

TEST_F(WritesTest, OpenAccount) {
  const HttpResponse response =
      Post("/v1/accounts", R"({"account":"alice","metadata":{"tier":"gold"}})");
  ASSERT_EQ(response.result_int(), 201u) << response.body();
  EXPECT_EQ(response[boost::beast::http::field::content_type], "application/json");
  const auto json = Json(response);
  EXPECT_EQ(json["position"].GetUint64(), 1u);
  EXPECT_STREQ(json["type"].GetString(), "AccountOpened");
  EXPECT_FALSE(json["replayed"].GetBool());
  const auto& event = json["event"];
  EXPECT_EQ(event["position"].GetUint64(), 1u);
  EXPECT_STREQ(event["stream"].GetString(), "account/alice");
  EXPECT_EQ(event["stream_version"].GetUint64(), 1u);
  EXPECT_STREQ(event["client_id"].GetString(), "shop");
  EXPECT_EQ(std::string(event["prev_hash"].GetString()), std::string(64, '0'));
  EXPECT_EQ(std::string(event["hash"].GetString()).size(), 64u);
  EXPECT_TRUE(ParseRfc3339(event["recorded_at"].GetString()).has_value());
  EXPECT_STREQ(event["payload"]["account"].GetString(), "alice");
  EXPECT_STREQ(event["payload"]["metadata"]["tier"].GetString(), "gold");
  EXPECT_EQ(Head(), 1u);
}

TEST_F(WritesTest, ChangeAssetCarriesRequestIds) {
  const HttpResponse response = Post(
      "/v1/assets/changes",
      R"({"account":"alice","asset":"USD","amount":2500,"source":"bank","reason":"deposit",
          "ref":"dep-1"})",
      kWriterToken,
      {{"Idempotency-Key", "dep-1"}, {"X-Correlation-Id", "corr-7"}, {"X-Causation-Id", "c-1"}});
  ASSERT_EQ(response.result_int(), 201u) << response.body();
  const auto json = Json(response);
  const auto& event = json["event"];
  EXPECT_STREQ(event["type"].GetString(), "AssetChanged");
  commands::Command keyed{{.client_id = "shop", .idempotency_key = "dep-1"},
                          commands::ChangeAsset{}};
  EXPECT_EQ(event["idempotency_key"].GetString(), commands::IdempotencyKey(keyed));
  EXPECT_STREQ(event["correlation_id"].GetString(), "corr-7");
  EXPECT_STREQ(event["causation_id"].GetString(), "c-1");
  EXPECT_EQ(event["payload"]["amount"].GetInt64(), 2500);
  EXPECT_STREQ(event["payload"]["counterparty"].GetString(), "external:bank");
  ASSERT_EQ(event["postings"].Size(), 1u);
  EXPECT_STREQ(event["postings"][0]["from"].GetString(), "external:bank");
  EXPECT_STREQ(event["postings"][0]["to"].GetString(), "alice");

  // A debit: negative amount.
  const HttpResponse debit = Post("/v1/assets/changes",
                                  R"({"account":"alice","asset":"USD","amount":-500,
                                      "source":"atm","reason":"cash","ref":"w-1"})");
  ASSERT_EQ(debit.result_int(), 201u) << debit.body();
  EXPECT_STREQ(Json(debit)["event"]["postings"][0]["from"].GetString(), "alice");
}

TEST_F(WritesTest, Transfer) {
  Credit("alice", 1000);
  const HttpResponse response =
      Post("/v1/transfers",
           R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":300},
                      {"from":"alice","to":"carol","asset":"USD","amount":200}],
          "ref":"split-bill","metadata":{"note":"dinner"},"expected_versions":{"alice":1}})");
  ASSERT_EQ(response.result_int(), 201u) << response.body();
  const auto json = Json(response);
  EXPECT_STREQ(json["type"].GetString(), "Transferred");
  EXPECT_EQ(json["event"]["postings"].Size(), 2u);
  EXPECT_STREQ(json["event"]["payload"]["metadata"]["note"].GetString(), "dinner");

  const HttpResponse stale =
      Post("/v1/transfers", R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":1}],
                           "expected_versions":{"alice":1}})");
  EXPECT_EQ(stale.result_int(), 409u) << stale.body();
  EXPECT_EQ(ErrorCode(stale), "version_conflict");

  const HttpResponse too_much = Post(
      "/v1/transfers", R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":501}]})");
  EXPECT_EQ(too_much.result_int(), 422u) << too_much.body();
  EXPECT_EQ(ErrorCode(too_much), "insufficient_funds");
}

TEST_F(WritesTest, SettlementSplitsTheGross) {
  const HttpResponse response = Post("/v1/settlements", kSettlement);
  ASSERT_EQ(response.result_int(), 201u) << response.body();
  const auto json = Json(response);
  EXPECT_STREQ(json["type"].GetString(), "OrderSettled");
  const auto& payload = json["event"]["payload"];
  EXPECT_EQ(payload["gross"].GetInt64(), 10000);
  EXPECT_STREQ(payload["occurred_at"].GetString(), "2026-11-21T10:00:00.000000Z");
  const auto& lines = payload["lines"];
  ASSERT_EQ(lines.Size(), 4u);
  const std::pair<const char*, std::int64_t> expected[] = {{"host_commission", 1000},
                                                           {"platform_share", 500},
                                                           {"technical_service_fee", 60},
                                                           {"merchant", 8440}};
  for (rapidjson::SizeType i = 0; i < 4; ++i) {
    EXPECT_STREQ(lines[i]["kind"].GetString(), expected[i].first);
    EXPECT_EQ(lines[i]["amount"].GetInt64(), expected[i].second) << expected[i].first;
  }
  EXPECT_STREQ(lines[3]["to"].GetString(), "merchant-1");
  EXPECT_EQ(lines[0]["bps"].GetInt(), 1000);
}

TEST_F(WritesTest, RefundAndPayout) {
  ASSERT_EQ(Post("/v1/settlements", kSettlement).result_int(), 201u);
  const HttpResponse refund =
      Post("/v1/settlements/order-1/refunds", R"({"refund_id":"r-1","amount":5000})");
  ASSERT_EQ(refund.result_int(), 201u) << refund.body();
  const auto refund_json = Json(refund);
  EXPECT_STREQ(refund_json["type"].GetString(), "OrderRefunded");
  EXPECT_STREQ(refund_json["event"]["payload"]["order_id"].GetString(), "order-1");
  EXPECT_EQ(refund_json["event"]["payload"]["refunded_total"].GetInt64(), 5000);

  const HttpResponse missing =
      Post("/v1/settlements/no-such-order/refunds", R"({"refund_id":"r-1","amount":1})");
  EXPECT_EQ(missing.result_int(), 404u);
  EXPECT_EQ(ErrorCode(missing), "order_not_found");

  // The merchant kept 8440 - 4220 = 4220.
  const HttpResponse payout = Post("/v1/payouts", R"({"payout_id":"p-1","merchant":"merchant-1",
      "asset":"USD","amount":4220,"bank_account":"external:bank:DE0001"})");
  ASSERT_EQ(payout.result_int(), 201u) << payout.body();
  EXPECT_STREQ(Json(payout)["type"].GetString(), "MerchantPaidOut");
  const HttpResponse overdraw = Post("/v1/payouts", R"({"payout_id":"p-2","merchant":"merchant-1",
      "asset":"USD","amount":1,"bank_account":"external:bank:DE0001"})");
  EXPECT_EQ(overdraw.result_int(), 422u) << overdraw.body();
}

TEST_F(WritesTest, CampaignGrantAndRedemption) {
  const HttpResponse created = Post("/v1/campaigns", kCampaign);
  ASSERT_EQ(created.result_int(), 201u) << created.body();
  const auto created_json = Json(created);
  EXPECT_STREQ(created_json["type"].GetString(), "CampaignCreated");
  EXPECT_STREQ(created_json["event"]["payload"]["owner_client"].GetString(), "shop");
  EXPECT_STREQ(created_json["event"]["payload"]["valid_from"].GetString(),
               "2020-01-01T00:00:00.000000Z");

  const HttpResponse grant =
      Post("/v1/campaigns/welcome/grants", R"({"grant_id":"g-1","user":"alice"})");
  ASSERT_EQ(grant.result_int(), 201u) << grant.body();
  EXPECT_EQ(Json(grant)["event"]["payload"]["amount"].GetInt64(), 500);

  const HttpResponse not_owner =
      Post("/v1/campaigns/welcome/grants", R"({"grant_id":"g-2","user":"bob"})", kOtherWriterToken);
  EXPECT_EQ(not_owner.result_int(), 403u);
  EXPECT_EQ(ErrorCode(not_owner), "not_campaign_owner");

  const HttpResponse twice =
      Post("/v1/campaigns/welcome/grants", R"({"grant_id":"g-3","user":"alice"})");
  EXPECT_EQ(twice.result_int(), 422u);
  EXPECT_EQ(ErrorCode(twice), "per_user_limit_reached");

  const HttpResponse redeemed = Post("/v1/campaigns/welcome/redemptions",
                                     R"({"redemption_id":"x-1","user":"alice","order_id":"o-9"})");
  ASSERT_EQ(redeemed.result_int(), 201u) << redeemed.body();
  EXPECT_STREQ(Json(redeemed)["type"].GetString(), "VoucherRedeemed");

  const HttpResponse unknown =
      Post("/v1/campaigns/nope/grants", R"({"grant_id":"g-1","user":"alice"})");
  EXPECT_EQ(unknown.result_int(), 404u);
}

TEST_F(WritesTest, RepeatedCommandIsReplayedWithoutWriting) {
  const HttpResponse first = Post("/v1/settlements", kSettlement);
  ASSERT_EQ(first.result_int(), 201u);
  const std::uint64_t head = Head();
  const HttpResponse again = Post("/v1/settlements", kSettlement);
  ASSERT_EQ(again.result_int(), 200u) << again.body();
  const auto json = Json(again);
  EXPECT_TRUE(json["replayed"].GetBool());
  EXPECT_EQ(json["position"].GetUint64(), Json(first)["position"].GetUint64());
  EXPECT_EQ(json["event"]["hash"], Json(first)["event"]["hash"]);
  EXPECT_EQ(Head(), head);
}

TEST_F(WritesTest, IdempotencyKeyReplaysAndDetectsConflicts) {
  const std::string body = R"({"account":"alice","asset":"USD","amount":100,"source":"bank",
                               "reason":"deposit","ref":"r"})";
  const HttpClient::Headers key = {{"Idempotency-Key", "k-1"}};
  const HttpResponse first = Post("/v1/assets/changes", body, kWriterToken, key);
  ASSERT_EQ(first.result_int(), 201u);
  const HttpResponse again = Post("/v1/assets/changes", body, kWriterToken, key);
  ASSERT_EQ(again.result_int(), 200u);
  EXPECT_TRUE(Json(again)["replayed"].GetBool());
  EXPECT_EQ(Json(again)["position"].GetUint64(), 1u);
  EXPECT_EQ(Head(), 1u);

  std::string other = body;
  other.replace(other.find("100"), 3, "101");
  const HttpResponse conflict = Post("/v1/assets/changes", other, kWriterToken, key);
  EXPECT_EQ(conflict.result_int(), 409u) << conflict.body();
  EXPECT_EQ(ErrorCode(conflict), "idempotency_conflict");
  EXPECT_EQ(Head(), 1u);

  // Keys are per client: the same key from another client is a new command.
  EXPECT_EQ(Post("/v1/assets/changes", body, kOtherWriterToken, key).result_int(), 201u);
  // Without a key nothing is deduplicated.
  EXPECT_EQ(Post("/v1/assets/changes", body).result_int(), 201u);
  EXPECT_EQ(Head(), 3u);
}

TEST_F(WritesTest, AdminMayWrite) {
  const HttpResponse response = Post("/v1/accounts", R"({"account":"ops-acct"})", kAdminToken);
  ASSERT_EQ(response.result_int(), 201u);
  EXPECT_STREQ(Json(response)["event"]["client_id"].GetString(), "ops");
}

TEST_F(WritesTest, PathIdsArePercentDecoded) {
  ASSERT_EQ(Post("/v1/settlements", R"({"order_id":"shop:order/7","merchant":"m","payer":
      "external:psp","asset":"USD","gross":100,"splits":[]})")
                .result_int(),
            201u);
  const HttpResponse refund =
      Post("/v1/settlements/shop%3Aorder%2F7/refunds", R"({"refund_id":"r","amount":10})");
  ASSERT_EQ(refund.result_int(), 201u) << refund.body();
  EXPECT_STREQ(Json(refund)["event"]["payload"]["order_id"].GetString(), "shop:order/7");
}

TEST_F(WritesTest, KeepAliveServesManyRequestsOnOneConnection) {
  for (int i = 1; i <= 50; ++i) {
    EXPECT_EQ(Credit("alice", i), static_cast<std::uint64_t>(i));
  }
}

TEST_F(WritesTest, CountsCommandsByTypeOutcomeAndClient) {
  Credit("alice", 1);
  ASSERT_EQ(Post("/v1/transfers", R"({"postings":[]})").result_int(), 400u);
  const std::string metrics = Get("/metrics").body();
  EXPECT_NE(
      metrics.find(R"(ledger_commands_total{type="ChangeAsset",outcome="ok",client="shop"} 1)"),
      std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(
          R"(ledger_commands_total{type="Transfer",outcome="invalid_argument",client="shop"} 1)"),
      std::string::npos)
      << metrics;
  EXPECT_NE(
      metrics.find(R"(ledger_http_requests_total{route="/v1/assets/changes",status="201"} 1)"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("ledger_http_request_duration_seconds_bucket"), std::string::npos);
  EXPECT_NE(metrics.find("ledger_http_connections_open 1"), std::string::npos) << metrics;
}

}  // namespace
}  // namespace ledger::transport::testing
