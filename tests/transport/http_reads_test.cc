// Integration: the read endpoints.
#include <gtest/gtest.h>

#include "ledger/limits.h"
#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

namespace http = boost::beast::http;

class ReadsTest : public HttpTest {
 protected:
  // Appends `count` events: credits to alice (and so to stream account/alice).
  void Fill(int count) {
    for (int i = 0; i < count; ++i) Credit("alice", 1);
  }
};

TEST_F(ReadsTest, HealthzNeedsNoToken) {
  Fill(2);
  const HttpResponse response = Get("/healthz", "");
  ASSERT_EQ(response.result_int(), 200u);
  const auto json = Json(response);
  EXPECT_STREQ(json["status"].GetString(), "ok");
  EXPECT_EQ(json["head"].GetUint64(), 2u);
}

TEST_F(ReadsTest, EventsPagination) {
  Fill(25);
  std::uint64_t after = 0;
  std::vector<std::uint64_t> seen;
  for (int page = 0; page < 10; ++page) {
    const HttpResponse response = Get("/v1/events?after=" + std::to_string(after) + "&limit=10");
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    const auto json = Json(response);
    EXPECT_EQ(json["head"].GetUint64(), 25u);
    const auto& events = json["events"];
    for (const auto& event : events.GetArray()) seen.push_back(event["position"].GetUint64());
    if (events.Empty()) {
      EXPECT_EQ(json["next_after"].GetUint64(), after);
      break;
    }
    EXPECT_LE(events.Size(), 10u);
    after = json["next_after"].GetUint64();
    EXPECT_EQ(after, events[events.Size() - 1]["position"].GetUint64());
  }
  ASSERT_EQ(seen.size(), 25u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST_F(ReadsTest, EventsChainThroughHashes) {
  Fill(5);
  const auto json = Json(Get("/v1/events"));
  const auto& events = json["events"];
  ASSERT_EQ(events.Size(), 5u);  // Default limit covers them.
  for (rapidjson::SizeType i = 1; i < events.Size(); ++i) {
    EXPECT_EQ(std::string(events[i]["prev_hash"].GetString()),
              std::string(events[i - 1]["hash"].GetString()));
  }
}

TEST_F(ReadsTest, EventsQueryValidation) {
  Fill(1);
  for (const std::string& target : std::vector<std::string>{
           "/v1/events?limit=0", "/v1/events?limit=" + std::to_string(kEventsPageMax + 1),
           "/v1/events?after=-1", "/v1/events?after=x", "/v1/events?after=1&after=2",
           "/v1/events?before=1", "/v1/events?limit=", "/v1/events?after=99999999999999999999"}) {
    const HttpResponse response = Get(target);
    EXPECT_EQ(response.result_int(), 400u) << target;
    EXPECT_EQ(ErrorCode(response), "invalid_argument") << target;
  }
  EXPECT_EQ(Get("/v1/events?limit=" + std::to_string(kEventsPageMax)).result_int(), 200u);
  const auto past_head = Json(Get("/v1/events?after=100"));
  EXPECT_EQ(past_head["events"].Size(), 0u);
  EXPECT_EQ(past_head["next_after"].GetUint64(), 100u);
}

TEST_F(ReadsTest, OneEventByPosition) {
  Fill(3);
  const HttpResponse response = Get("/v1/events/2");
  ASSERT_EQ(response.result_int(), 200u);
  const auto json = Json(response);
  EXPECT_EQ(json["position"].GetUint64(), 2u);
  EXPECT_STREQ(json["type"].GetString(), "AssetChanged");
  EXPECT_EQ(Get("/v1/events/4").result_int(), 404u);
  EXPECT_EQ(Get("/v1/events/0").result_int(), 404u);
  EXPECT_EQ(Get("/v1/events/x").result_int(), 400u);
  EXPECT_EQ(Get("/v1/events/18446744073709551615").result_int(), 404u);
}

TEST_F(ReadsTest, StreamEvents) {
  Fill(3);
  Credit("bob", 5);
  for (const char* target : {"/v1/streams/account%2Falice/events?from_version=2&limit=5",
                             "/v1/streams/account/alice/events?from_version=2"}) {
    const HttpResponse response = Get(target);
    ASSERT_EQ(response.result_int(), 200u) << response.body();
    const auto json = Json(response);
    EXPECT_STREQ(json["stream"].GetString(), "account/alice");
    ASSERT_EQ(json["events"].Size(), 2u) << target;
    EXPECT_EQ(json["events"][0]["stream_version"].GetUint64(), 2u);
    EXPECT_EQ(json["events"][1]["stream_version"].GetUint64(), 3u);
    EXPECT_EQ(json["next_from_version"].GetUint64(), 4u);
    EXPECT_EQ(json["head"].GetUint64(), 4u);
  }
  const auto bob = Json(Get("/v1/streams/account%2Fbob/events"));
  ASSERT_EQ(bob["events"].Size(), 1u);
  EXPECT_EQ(bob["events"][0]["position"].GetUint64(), 4u);
  const auto none = Json(Get("/v1/streams/account%2Fnobody/events"));
  EXPECT_EQ(none["events"].Size(), 0u);
  EXPECT_EQ(none["next_from_version"].GetUint64(), 1u);
  EXPECT_EQ(Get("/v1/streams/account%2Falice/events?limit=0").result_int(), 400u);
}

TEST_F(ReadsTest, EveryRoleMayRead) {
  Fill(1);
  for (std::string_view token : {kReaderToken, kWriterToken, kAdminToken}) {
    EXPECT_EQ(Get("/v1/events", token).result_int(), 200u) << token;
    EXPECT_EQ(Get("/v1/events/1", token).result_int(), 200u) << token;
    EXPECT_EQ(Get("/metrics", token).result_int(), 200u) << token;
  }
}

TEST_F(ReadsTest, MetricsInPrometheusFormat) {
  Fill(1);
  const HttpResponse response = Get("/metrics");
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response[http::field::content_type].substr(0, 10), "text/plain");
  EXPECT_NE(response.body().find("# TYPE ledger_http_requests_total counter"), std::string::npos);
  EXPECT_NE(response.body().find("# TYPE ledger_commands_total counter"), std::string::npos);
}

TEST_F(ReadsTest, Http10AndConnectionClose) {
  auto response = client_->SendRaw("GET /healthz HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 200u);
  EXPECT_EQ(response->version(), 10u);
  EXPECT_FALSE(response->keep_alive());
  EXPECT_TRUE(client_->ServerClosed());

  client_ = server_.Connect();
  auto closing = client_->Send("GET", "/healthz", {}, {}, {{"Connection", "close"}});
  ASSERT_TRUE(closing.has_value());
  EXPECT_FALSE(closing->keep_alive());
  EXPECT_TRUE(client_->ServerClosed());
}

TEST_F(ReadsTest, PipelinedRequestsAreAnsweredInOrder) {
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string post = "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           std::string(kWriterToken) +
                           "\r\nContent-Length: 17\r\n\r\n{\"account\":\"zed\"}";
  auto first = client_->SendRaw(get + post + get);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(Json(*first)["head"].GetUint64(), 0u);
  auto second = client_->ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->result_int(), 201u) << second->body();
  auto third = client_->ReadResponse();
  ASSERT_TRUE(third.has_value());
  EXPECT_EQ(Json(*third)["head"].GetUint64(), 1u);
}

TEST_F(ReadsTest, ExpectContinueIsHonoured) {
  const std::string body = R"({"account":"carol"})";
  auto interim = client_->SendRaw(
      "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nAuthorization: Bearer " +
      std::string(kWriterToken) + "\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n");
  ASSERT_TRUE(interim.has_value());
  EXPECT_EQ(interim->result_int(), 100u);
  auto response = client_->SendRaw(body);
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->result_int(), 201u) << response->body();
}

}  // namespace
}  // namespace ledger::transport::testing
