#include "transport/json_commands.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <functional>
#include <string>
#include <vector>

#include "ledger/limits.h"
#include "transport/rfc3339.h"

namespace ledger::transport {
namespace {

// True if `text` contains `needle` (gmock is not linked into this target).
::testing::AssertionResult Contains(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << needle << "'";
}

// --- Body table ------------------------------------------------------------------------------

struct BodyCase {
  std::string name;
  std::string valid;                  // A body that decodes.
  std::vector<std::string> required;  // Top-level fields whose absence is an error.
  // Top-level field -> a JSON value of the wrong type for it.
  std::vector<std::pair<std::string, std::string>> wrong_types;
  std::function<Status(std::string_view)> decode;
};

// Names a case in test output (instead of a byte dump).
void PrintTo(const BodyCase& body_case, std::ostream* out) { *out << body_case.name; }

template <typename T>
Status Drop(Result<T> result) {
  if (!result) return std::unexpected(result.error());
  return Ok();
}

std::vector<BodyCase> BodyCases() {
  return {
      {"ChangeAsset",
       R"({"account":"alice","asset":"USD","amount":100,"source":"bank","counterparty":"x",
           "reason":"deposit","ref":"r1","expected_version":0})",
       {"account", "asset", "amount", "source", "reason", "ref"},
       {{"account", "1"},
        {"amount", "\"100\""},
        {"counterparty", "true"},
        {"expected_version", "-1"},
        {"reason", "[]"},
        {"ref", "{}"}},
       [](std::string_view body) { return Drop(DecodeChangeAsset(body)); }},
      {"Transfer",
       R"({"postings":[{"from":"a","to":"b","asset":"USD","amount":5}],"ref":"t",
           "metadata":{"k":"v"},"expected_versions":{"a":3}})",
       {"postings"},
       {{"postings", "{}"}, {"ref", "7"}, {"metadata", "[]"}, {"expected_versions", "\"a\""}},
       [](std::string_view body) { return Drop(DecodeTransfer(body)); }},
      {"SettleOrder",
       R"({"order_id":"o1","merchant":"m","payer":"p","asset":"USD","gross":10000,
           "splits":[{"to":"h","kind":"host_commission","bps":1000},
                     {"to":"f","kind":"commission","amount":5}],
           "occurred_at":"2026-11-21T10:00:00Z"})",
       {"order_id", "merchant", "payer", "asset", "gross", "splits"},
       {{"gross", "1.5"}, {"splits", "{}"}, {"occurred_at", "1795255200"}, {"payer", "null0"}},
       [](std::string_view body) { return Drop(DecodeSettleOrder(body)); }},
      {"RefundOrder",
       R"({"refund_id":"r1","amount":100})",
       {"refund_id", "amount"},
       {{"refund_id", "1"}, {"amount", "\"1\""}},
       [](std::string_view body) { return Drop(DecodeRefundOrder(body, "o1")); }},
      {"PayOut",
       R"({"payout_id":"p1","merchant":"m","asset":"USD","amount":100,
           "bank_account":"external:bank:1","expected_version":2})",
       {"payout_id", "merchant", "asset", "amount", "bank_account"},
       {{"merchant", "false"}, {"amount", "1e2"}, {"expected_version", "1.0"}},
       [](std::string_view body) { return Drop(DecodePayOut(body)); }},
      {"OpenAccount",
       R"({"account":"alice","allow_negative":false,"frozen":true,"metadata":{"tier":"gold"}})",
       {"account"},
       {{"account", "[]"}, {"allow_negative", "0"}, {"frozen", "\"true\""}, {"metadata", "\"x\""}},
       [](std::string_view body) { return Drop(DecodeOpenAccount(body)); }},
      {"CreateCampaign",
       R"({"campaign_id":"c1","kind":"coupon","asset":"USD","unit_amount":500,"budget":10,
           "per_user_limit":1,"valid_from":"2026-11-01T00:00:00Z",
           "valid_until":"2026-12-01T00:00:00+01:00","funding_account":"fund"})",
       {"campaign_id", "kind", "asset", "unit_amount", "budget", "per_user_limit", "valid_from",
        "valid_until", "funding_account"},
       {{"kind", "1"},
        {"unit_amount", "5.5"},
        {"budget", "\"10\""},
        {"valid_from", "0"},
        {"per_user_limit", "true"}},
       [](std::string_view body) { return Drop(DecodeCreateCampaign(body)); }},
      {"GrantVoucher",
       R"({"grant_id":"g1","user":"u1"})",
       {"grant_id", "user"},
       {{"grant_id", "{}"}, {"user", "2"}},
       [](std::string_view body) { return Drop(DecodeGrantVoucher(body, "c1")); }},
      {"RedeemVoucher",
       R"({"redemption_id":"r1","user":"u1","order_id":"o1"})",
       {"redemption_id", "user"},
       {{"redemption_id", "3"}, {"order_id", "[]"}},
       [](std::string_view body) { return Drop(DecodeRedeemVoucher(body, "c1")); }},
  };
}

std::string Serialize(const rapidjson::Document& document) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  document.Accept(writer);
  return buffer.GetString();
}

std::string WithoutField(const std::string& body, const std::string& field) {
  rapidjson::Document document;
  document.Parse(body.c_str());
  document.RemoveMember(field.c_str());
  return Serialize(document);
}

// `body` with `field` set to the raw JSON `value` (spliced in as text, so any value works).
std::string WithField(const std::string& body, const std::string& field, const std::string& value) {
  const std::string without = WithoutField(body, field);
  return "{\"" + field + "\":" + value + (without == "{}" ? "}" : "," + without.substr(1));
}

void ExpectInvalid(const Status& status, const std::string& needle, const std::string& what) {
  ASSERT_FALSE(status.has_value()) << what;
  EXPECT_EQ(status.error().kind, ErrorKind::kInvalidArgument) << what;
  EXPECT_TRUE(Contains(status.error().message, needle)) << what;
}

class BodyTest : public ::testing::TestWithParam<BodyCase> {};

TEST_P(BodyTest, ValidBodyDecodes) {
  const Status status = GetParam().decode(GetParam().valid);
  EXPECT_TRUE(status.has_value()) << status.error().message;
}

TEST_P(BodyTest, EachMissingRequiredFieldIsNamed) {
  for (const std::string& field : GetParam().required) {
    ExpectInvalid(GetParam().decode(WithoutField(GetParam().valid, field)),
                  "missing required field '" + field + "'", field);
    ExpectInvalid(GetParam().decode(WithField(GetParam().valid, field, "null")),
                  "missing required field '" + field + "'", field + " = null");
  }
}

TEST_P(BodyTest, UnknownFieldIsNamed) {
  ExpectInvalid(GetParam().decode(WithField(GetParam().valid, "surprise", "1")),
                "unknown field 'surprise'", "surprise");
}

TEST_P(BodyTest, WrongTypesAreNamed) {
  for (const auto& [field, value] : GetParam().wrong_types) {
    const std::string body = WithField(GetParam().valid, field, value);
    const Status status = GetParam().decode(body);
    ASSERT_FALSE(status.has_value()) << body;
    EXPECT_EQ(status.error().kind, ErrorKind::kInvalidArgument) << body;
    if (status.error().code == "invalid_argument") {
      EXPECT_TRUE(Contains(status.error().message, "'" + field + "'")) << body;
    } else {
      EXPECT_EQ(status.error().code, "malformed_json") << body;  // e.g. null0
    }
  }
}

TEST_P(BodyTest, DuplicateKeyIsRefused) {
  const std::string& valid = GetParam().valid;
  const std::string body = "{\"" + GetParam().required.front() + "\":1," + valid.substr(1);
  ExpectInvalid(GetParam().decode(body), "duplicate key '" + GetParam().required.front() + "'",
                body);
}

TEST_P(BodyTest, MalformedJsonIsRefused) {
  const std::string& valid = GetParam().valid;
  for (const std::string& body :
       {valid.substr(0, valid.size() - 1), valid + "}", valid + " x", valid + valid,
        std::string("{\"a\":}"), std::string(""), std::string("   "), std::string("{'a':1}"),
        std::string("\xff\xfe"), std::string("{\"account\":\"\xc3\x28\"}")}) {
    const Status status = GetParam().decode(body);
    ASSERT_FALSE(status.has_value()) << body;
    EXPECT_EQ(status.error().code, "malformed_json") << body;
  }
}

TEST_P(BodyTest, NonObjectBodyIsRefused) {
  for (const char* body : {"[]", "1", "\"x\"", "null", "true"}) {
    ExpectInvalid(GetParam().decode(body), "must be a JSON object", body);
  }
}

TEST_P(BodyTest, DeepNestingIsRefused) {
  std::string deep;
  for (std::size_t i = 0; i < kJsonDepthMax; ++i) deep += "[";
  for (std::size_t i = 0; i < kJsonDepthMax; ++i) deep += "]";
  ExpectInvalid(GetParam().decode(WithField(GetParam().valid, "x", deep)), "nesting", "depth 17");
  std::string very_deep(100'000, '[');
  ExpectInvalid(GetParam().decode("{\"x\":" + very_deep + std::string(100'000, ']') + "}"),
                "nesting", "depth 100001");
}

INSTANTIATE_TEST_SUITE_P(AllBodies, BodyTest, ::testing::ValuesIn(BodyCases()),
                         [](const auto& test_info) { return test_info.param.name; });

// --- Values ----------------------------------------------------------------------------------

TEST(DecodeChangeAssetTest, MapsEveryField) {
  auto command = DecodeChangeAsset(
      R"({"account":"alice","asset":"USD","amount":-250,"source":"bank","counterparty":"bob",
          "reason":"fee","ref":"r-9","expected_version":7})");
  ASSERT_TRUE(command.has_value()) << command.error().message;
  EXPECT_EQ(command->account, "alice");
  EXPECT_EQ(command->asset, "USD");
  EXPECT_EQ(command->amount, -250);  // Negative debits: the decoder keeps the sign.
  EXPECT_EQ(command->source, "bank");
  EXPECT_EQ(command->counterparty, "bob");
  EXPECT_EQ(command->reason, "fee");
  EXPECT_EQ(command->ref, "r-9");
  EXPECT_EQ(command->expected_version, 7u);
}

TEST(DecodeChangeAssetTest, OptionalFieldsMayBeAbsentOrNull) {
  auto command = DecodeChangeAsset(
      R"({"account":"a","asset":"USD","amount":0,"source":"s","counterparty":null,
          "reason":"","ref":""})");
  ASSERT_TRUE(command.has_value()) << command.error().message;
  EXPECT_EQ(command->amount, 0);  // Zero passes the decoder; Decide refuses it.
  EXPECT_FALSE(command->counterparty.has_value());
  EXPECT_FALSE(command->expected_version.has_value());
}

TEST(DecodeChangeAssetTest, AmountMustBeAnInt64Integer) {
  const std::string prefix = R"({"account":"a","asset":"USD","source":"s","reason":"","ref":"",)";
  for (const char* amount : {"1.0", "1e3", "0.5", "9223372036854775808", "-9223372036854775809",
                             "18446744073709551616", "\"5\"", "true", "[1]"}) {
    auto command = DecodeChangeAsset(prefix + "\"amount\":" + amount + "}");
    ASSERT_FALSE(command.has_value()) << amount;
    EXPECT_EQ(command.error().code, "invalid_argument") << amount;
    EXPECT_EQ(command.error().message,
              "field 'amount' must be an integer in minor units within int64")
        << amount;
  }
  for (const char* amount : {"9223372036854775807", "-9223372036854775808", "-1"}) {
    EXPECT_TRUE(DecodeChangeAsset(prefix + "\"amount\":" + amount + "}").has_value()) << amount;
  }
}

TEST(DecodeChangeAssetTest, HugeExponentIsMalformed) {
  auto command = DecodeChangeAsset(
      R"({"account":"a","asset":"USD","source":"s","reason":"","ref":"","amount":1e400})");
  ASSERT_FALSE(command.has_value());
  EXPECT_EQ(command.error().code, "malformed_json");
}

TEST(DecodeTransferTest, MapsPostingsMetadataAndVersions) {
  auto command = DecodeTransfer(
      R"({"postings":[{"from":"a","to":"b","asset":"USD","amount":5},
                      {"from":"b","to":"c","asset":"EUR","amount":7}],
          "ref":"t1","metadata":{"z":"1","a":"2"},"expected_versions":{"a":3,"b":0}})");
  ASSERT_TRUE(command.has_value()) << command.error().message;
  ASSERT_EQ(command->postings.size(), 2u);
  EXPECT_EQ(command->postings[1], (Posting{"b", "c", "EUR", 7}));
  EXPECT_EQ(command->ref, "t1");
  EXPECT_EQ(command->metadata, (Metadata{{"z", "1"}, {"a", "2"}}));  // Order kept.
  EXPECT_EQ(command->expected_versions, (std::map<std::string, std::uint64_t>{{"a", 3}, {"b", 0}}));
}

TEST(DecodeTransferTest, NamesNestedFields) {
  const auto error = [](const std::string& body) {
    auto command = DecodeTransfer(body);
    EXPECT_FALSE(command.has_value()) << body;
    return command ? std::string() : command.error().message;
  };
  const std::string ok = R"({"from":"a","to":"b","asset":"USD","amount":5})";
  EXPECT_EQ(
      error(R"({"postings":[)" + ok + R"(,{"from":"a","to":"b","asset":"USD","amount":5.0}]})"),
      "field 'postings[1].amount' must be an integer in minor units within int64");
  EXPECT_EQ(error(R"({"postings":[{"from":"a","asset":"USD","amount":5}]})"),
            "missing required field 'postings[0].to'");
  EXPECT_EQ(error(R"({"postings":[)" + ok +
                  R"(,{"from":"a","to":"b","asset":"USD","amount":1,"memo":"x"}]})"),
            "unknown field 'postings[1].memo'");
  EXPECT_EQ(error(R"({"postings":[5]})"), "'postings[0]' must be an object");
  EXPECT_EQ(error(R"({"postings":[)" + ok + R"(],"metadata":{"k":1}})"),
            "field 'metadata.k' must be a string");
  EXPECT_EQ(error(R"({"postings":[)" + ok + R"(],"expected_versions":{"a":-1}})"),
            "field 'expected_versions.a' must be a non-negative integer within uint64");
  EXPECT_EQ(error(R"({"postings":[)" + ok + R"(],"metadata":{"k":"1","k":"2"}})"),
            "duplicate key 'k'");
}

TEST(DecodeTransferTest, EmptyPostingsPassTheDecoder) {
  // The count limits (1..kTransferPostingsMax) are Decide's.
  EXPECT_TRUE(DecodeTransfer(R"({"postings":[]})").has_value());
}

TEST(DecodeSettleOrderTest, MapsSplitsAndTimestamp) {
  auto command = DecodeSettleOrder(
      R"({"order_id":"o1","merchant":"m","payer":"p","asset":"USD","gross":10000,
          "splits":[{"to":"h","kind":"host_commission","bps":1000},
                    {"to":"f","kind":"commission","amount":25}],
          "occurred_at":"2026-11-21T10:00:00.5Z"})");
  ASSERT_TRUE(command.has_value()) << command.error().message;
  EXPECT_EQ(command->gross, 10000);
  ASSERT_EQ(command->splits.size(), 2u);
  EXPECT_EQ(command->splits[0].bps, 1000);
  EXPECT_FALSE(command->splits[0].amount.has_value());
  EXPECT_EQ(command->splits[1].amount, 25);
  EXPECT_EQ(command->occurred_at_us, ParseRfc3339("2026-11-21T10:00:00.5Z").value());
}

TEST(DecodeSettleOrderTest, SplitNeedsExactlyOneOfBpsAndAmount) {
  for (const char* split : {R"({"to":"h","kind":"commission"})",
                            R"({"to":"h","kind":"commission","bps":1,"amount":1})"}) {
    auto command = DecodeSettleOrder(
        std::string(R"({"order_id":"o","merchant":"m","payer":"p","asset":"USD","gross":1,)") +
        R"("splits":[)" + split + "]}");
    ASSERT_FALSE(command.has_value()) << split;
    EXPECT_EQ(command.error().message, "'splits[0]' must have exactly one of 'bps' and 'amount'");
  }
}

TEST(DecodeSettleOrderTest, BadTimestampIsNamed) {
  auto command = DecodeSettleOrder(
      R"({"order_id":"o","merchant":"m","payer":"p","asset":"USD","gross":1,"splits":[],
          "occurred_at":"2026-11-21 10:00"})");
  ASSERT_FALSE(command.has_value());
  EXPECT_TRUE(Contains(command.error().message, "field 'occurred_at'"));
}

TEST(DecodeRefundOrderTest, TakesOrderIdFromThePath) {
  auto command = DecodeRefundOrder(R"({"refund_id":"r1","amount":-5})", "order/with slash");
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(command->order_id, "order/with slash");
  EXPECT_EQ(command->refund_id, "r1");
  EXPECT_EQ(command->amount, -5);  // Sign checks are Decide's.
  EXPECT_FALSE(DecodeRefundOrder(R"({"refund_id":"r1","amount":1,"order_id":"x"})", "o"));
}

TEST(DecodeOpenAccountTest, DefaultsFlagsToFalse) {
  auto command = DecodeOpenAccount(R"({"account":"alice"})");
  ASSERT_TRUE(command.has_value());
  EXPECT_FALSE(command->allow_negative);
  EXPECT_FALSE(command->frozen);
  EXPECT_TRUE(command->metadata.empty());
}

TEST(DecodeCreateCampaignTest, MapsKindAndTimes) {
  auto command = DecodeCreateCampaign(
      R"({"campaign_id":"c1","kind":"balance","asset":"USD","unit_amount":500,"budget":10,
          "per_user_limit":2,"valid_from":"2026-11-01T00:00:00Z",
          "valid_until":"2026-12-01T01:00:00+01:00","funding_account":"fund"})");
  ASSERT_TRUE(command.has_value()) << command.error().message;
  EXPECT_EQ(command->kind, CampaignKind::kBalance);
  EXPECT_EQ(command->valid_from_us, ParseRfc3339("2026-11-01T00:00:00Z").value());
  EXPECT_EQ(command->valid_until_us, ParseRfc3339("2026-12-01T00:00:00Z").value());
  EXPECT_EQ(command->per_user_limit, 2);
}

TEST(DecodeCreateCampaignTest, UnknownKindIsRefused) {
  auto command = DecodeCreateCampaign(
      R"({"campaign_id":"c1","kind":"gift","asset":"USD","unit_amount":500,"budget":10,
          "per_user_limit":2,"valid_from":"2026-11-01T00:00:00Z",
          "valid_until":"2026-12-01T00:00:00Z","funding_account":"fund"})");
  ASSERT_FALSE(command.has_value());
  EXPECT_EQ(command.error().message, "field 'kind' must be \"coupon\" or \"balance\"");
}

TEST(DecodeVoucherTest, TakesCampaignIdFromThePath) {
  auto grant = DecodeGrantVoucher(R"({"grant_id":"g","user":"u"})", "camp");
  ASSERT_TRUE(grant.has_value());
  EXPECT_EQ(grant->campaign_id, "camp");
  auto redeem = DecodeRedeemVoucher(R"({"redemption_id":"r","user":"u"})", "camp");
  ASSERT_TRUE(redeem.has_value());
  EXPECT_EQ(redeem->campaign_id, "camp");
  EXPECT_EQ(redeem->order_id, "");
}

TEST(DecodeStringsTest, KeepsEscapesAndUnicode) {
  auto command = DecodeOpenAccount(R"({"account":"caf\u00e9\n","metadata":{"e":"\u20ac"}})");
  ASSERT_TRUE(command.has_value());
  EXPECT_EQ(command->account, "caf\xc3\xa9\n");
  EXPECT_EQ(command->metadata[0].second, "\xe2\x82\xac");
}

}  // namespace
}  // namespace ledger::transport
