#include "transport/json_events.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "transport/rfc3339.h"

namespace ledger::transport {
namespace {

rapidjson::Document Parse(const std::string& json) {
  rapidjson::Document document;
  document.Parse(json.c_str());
  EXPECT_FALSE(document.HasParseError()) << json;
  return document;
}

Event MakeEvent(Payload payload) {
  Event event;
  event.envelope.position = 42;
  event.envelope.stream = "order/o1";
  event.envelope.stream_version = 3;
  event.envelope.type = PayloadType(payload);
  event.envelope.recorded_at_us = ParseRfc3339("2026-11-21T10:00:00.123456Z").value();
  event.envelope.client_id = "shop";
  event.envelope.idempotency_key = "order/o1";
  event.envelope.correlation_id = "corr";
  event.envelope.causation_id = "cause";
  event.envelope.prev_hash.fill(0xab);
  event.envelope.hash.fill(0x01);
  event.postings = {Posting{"payer", "merchant", "USD", 10000}};
  event.payload = std::move(payload);
  return event;
}

TEST(JsonEventsTest, WritesTheEnvelope) {
  const rapidjson::Document json = Parse(EventToJson(MakeEvent(Transferred{"t", {}})));
  EXPECT_EQ(json["position"].GetUint64(), 42u);
  EXPECT_STREQ(json["stream"].GetString(), "order/o1");
  EXPECT_EQ(json["stream_version"].GetUint64(), 3u);
  EXPECT_STREQ(json["type"].GetString(), "Transferred");
  EXPECT_STREQ(json["recorded_at"].GetString(), "2026-11-21T10:00:00.123456Z");
  EXPECT_STREQ(json["client_id"].GetString(), "shop");
  EXPECT_STREQ(json["idempotency_key"].GetString(), "order/o1");
  EXPECT_STREQ(json["correlation_id"].GetString(), "corr");
  EXPECT_STREQ(json["causation_id"].GetString(), "cause");
  std::string ab, zero_one;
  for (int i = 0; i < 32; ++i) {
    ab += "ab";
    zero_one += "01";
  }
  EXPECT_EQ(std::string(json["prev_hash"].GetString()), ab);
  EXPECT_EQ(std::string(json["hash"].GetString()), zero_one);
  ASSERT_EQ(json["postings"].Size(), 1u);
  EXPECT_STREQ(json["postings"][0]["from"].GetString(), "payer");
  EXPECT_STREQ(json["postings"][0]["to"].GetString(), "merchant");
  EXPECT_STREQ(json["postings"][0]["asset"].GetString(), "USD");
  EXPECT_EQ(json["postings"][0]["amount"].GetInt64(), 10000);
}

TEST(JsonEventsTest, WritesEveryPayloadType) {
  const std::vector<std::pair<Payload, std::vector<std::string>>> cases = {
      {AccountOpened{"alice", true, false, {{"k", "v"}}},
       {"account", "allow_negative", "frozen", "metadata"}},
      {AssetChanged{"alice", "USD", -5, "external:bank", "bank", "fee", "r"},
       {"account", "asset", "amount", "counterparty", "source", "reason", "ref"}},
      {Transferred{"t", {{"a", "b"}}}, {"ref", "metadata"}},
      {OrderSettled{"o", "m", "p", "USD", 100, {{"h", "host_commission", 10, 1000}}, 7},
       {"order_id", "merchant", "payer", "asset", "gross", "lines", "occurred_at"}},
      {OrderRefunded{"o", "r", "m", "p", "USD", 10, 10, {}},
       {"order_id", "refund_id", "merchant", "payer", "asset", "amount", "refunded_total",
        "lines"}},
      {MerchantPaidOut{"po", "m", "USD", 5, "external:bank:1"},
       {"payout_id", "merchant", "asset", "amount", "bank_account"}},
      {CampaignCreated{"c", CampaignKind::kBalance, "USD", 5, 10, 1, 0, 1, "fund", "shop"},
       {"campaign_id", "kind", "asset", "unit_amount", "budget", "per_user_limit", "valid_from",
        "valid_until", "funding_account", "owner_client"}},
      {VoucherGranted{"c", "g", "u", "USD", 5},
       {"campaign_id", "grant_id", "user", "asset", "amount"}},
      {VoucherRedeemed{"c", "r", "u", "o", "USD", 5},
       {"campaign_id", "redemption_id", "user", "order_id", "asset", "amount"}},
  };
  for (const auto& [payload, fields] : cases) {
    const Event event = MakeEvent(payload);
    const rapidjson::Document json = Parse(EventToJson(event));
    const std::string type(EventTypeName(event.envelope.type));
    EXPECT_EQ(json["type"].GetString(), type);
    ASSERT_TRUE(json["payload"].IsObject()) << type;
    EXPECT_EQ(json["payload"].MemberCount(), fields.size()) << type;
    for (const std::string& field : fields) {
      EXPECT_TRUE(json["payload"].HasMember(field.c_str())) << type << "." << field;
    }
  }
}

TEST(JsonEventsTest, PayloadValuesUseJsonTypes) {
  const rapidjson::Document settled = Parse(EventToJson(
      MakeEvent(OrderSettled{"o",
                             "m",
                             "p",
                             "USD",
                             10000,
                             {{"h", "host_commission", 1000, 1000}, {"m", "merchant", 9000, -1}},
                             ParseRfc3339("2026-11-21T10:00:00Z").value()})));
  const auto& payload = settled["payload"];
  EXPECT_EQ(payload["gross"].GetInt64(), 10000);
  EXPECT_STREQ(payload["occurred_at"].GetString(), "2026-11-21T10:00:00.000000Z");
  ASSERT_EQ(payload["lines"].Size(), 2u);
  EXPECT_EQ(payload["lines"][0]["bps"].GetInt64(), 1000);
  EXPECT_FALSE(payload["lines"][1].HasMember("bps"));  // Not a bps split.
  EXPECT_STREQ(payload["lines"][1]["kind"].GetString(), "merchant");

  const rapidjson::Document opened =
      Parse(EventToJson(MakeEvent(AccountOpened{"a", false, true, {{"z", "1"}, {"a", "2"}}})));
  EXPECT_TRUE(opened["payload"]["frozen"].GetBool());
  EXPECT_STREQ(opened["payload"]["metadata"]["z"].GetString(), "1");
  EXPECT_STREQ(opened["payload"]["metadata"].MemberBegin()->name.GetString(), "z");
  EXPECT_TRUE(opened["postings"].IsArray());

  const rapidjson::Document campaign = Parse(EventToJson(MakeEvent(
      CampaignCreated{"c", CampaignKind::kCoupon, "USD", 5, 10, 1, 0, 1'000'000, "f", "o"})));
  EXPECT_STREQ(campaign["payload"]["kind"].GetString(), "coupon");
  EXPECT_STREQ(campaign["payload"]["valid_until"].GetString(), "1970-01-01T00:00:01.000000Z");
}

TEST(JsonEventsTest, EscapesStrings) {
  const rapidjson::Document json =
      Parse(EventToJson(MakeEvent(Transferred{"quote\" back\\ nl\n", {{"k\"", "\x01"}}})));
  EXPECT_STREQ(json["payload"]["ref"].GetString(), "quote\" back\\ nl\n");
  EXPECT_STREQ(json["payload"]["metadata"]["k\""].GetString(), "\x01");
}

TEST(JsonEventsTest, WritesErrorBodies) {
  const rapidjson::Document json = Parse(
      ErrorToJson(MakeError(ErrorKind::kRejected, "insufficient_funds", "account a has 0 USD")));
  ASSERT_EQ(json.MemberCount(), 1u);
  EXPECT_STREQ(json["error"]["code"].GetString(), "insufficient_funds");
  EXPECT_STREQ(json["error"]["message"].GetString(), "account a has 0 USD");
}

TEST(JsonEventsTest, WritesCommandResultsAndPages) {
  const Event event = MakeEvent(Transferred{"t", {}});
  const rapidjson::Document result = Parse(CommandResultToJson(event, true));
  EXPECT_EQ(result["position"].GetUint64(), 42u);
  EXPECT_STREQ(result["type"].GetString(), "Transferred");
  EXPECT_TRUE(result["replayed"].GetBool());
  EXPECT_EQ(result["event"]["position"].GetUint64(), 42u);

  const rapidjson::Document page =
      Parse(EventsPageToJson({StoredEvent{event, ""}, StoredEvent{event, ""}}, 43, 50));
  EXPECT_EQ(page["events"].Size(), 2u);
  EXPECT_EQ(page["next_after"].GetUint64(), 43u);
  EXPECT_EQ(page["head"].GetUint64(), 50u);

  const rapidjson::Document stream = Parse(StreamPageToJson("order/o1", {}, 1, 0));
  EXPECT_STREQ(stream["stream"].GetString(), "order/o1");
  EXPECT_EQ(stream["events"].Size(), 0u);
  EXPECT_EQ(stream["next_from_version"].GetUint64(), 1u);
}

}  // namespace
}  // namespace ledger::transport
