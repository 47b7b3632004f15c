// A full command queue answers 503 overloaded with Retry-After at once, over real HTTP, and
// writes nothing; queued commands still complete once the sequencer runs.
#include <gtest/gtest.h>

#include <future>

#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

constexpr std::string_view kCredit =
    R"({"account":"user:1","asset":"CNY","amount":5,"source":"topup","reason":"r","ref":"x"})";

TEST(HttpOverloadTest, FullQueueAnswers503WithRetryAfterAtOnce) {
  ledger::testing::TempDir dir;
  auto store = Store::Open(
      StoreOptions{.path = dir.Sub("data"),
                   .extra_column_families = projections::ReadModels::ColumnFamilies(),
                   .point_lookup_families = projections::ReadModels::PointLookupFamilies()});
  ASSERT_TRUE(store.has_value());
  ManualClock clock(1'790'000'000'000'000);
  Metrics metrics;
  // Not started yet: the one queue slot fills and stays full.
  commands::Sequencer sequencer(**store, clock, metrics, {.queue_depth_max = 1});
  auto auth = Authenticator::Parse(kTokensFile, "test tokens", 0);
  ASSERT_TRUE(auth.has_value());
  HttpServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  auto read_models = projections::ReadModels::Create(**store, metrics);
  ASSERT_TRUE(read_models.has_value());
  ASSERT_TRUE((*read_models)->Start().has_value());
  HttpServer server(options, **store, sequencer, **read_models, metrics, **auth);
  ASSERT_TRUE(server.Start().has_value());

  auto queued = std::async(std::launch::async, [&] {
    auto client = HttpClient::Connect("127.0.0.1", server.port());
    EXPECT_TRUE(client.has_value());
    return (*client)->Send("POST", "/v1/assets/changes", kCredit, kWriterToken);
  });
  for (int i = 0; i < 500 && sequencer.QueueDepth() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(sequencer.QueueDepth(), 1u);

  auto client = HttpClient::Connect("127.0.0.1", server.port());
  ASSERT_TRUE(client.has_value());
  auto refused = (*client)->Send("POST", "/v1/assets/changes", kCredit, kWriterToken);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 503u);
  EXPECT_EQ(ErrorCode(*refused), "overloaded");
  EXPECT_EQ((*refused)[boost::beast::http::field::retry_after], "1");
  EXPECT_EQ((*store)->HeadPosition(), 0u);

  // Reads keep answering while writers are refused.
  auto events = (*client)->Send("GET", "/v1/events?after=0", {}, kReaderToken);
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->result_int(), 200u);
  // So do queries of the read models.
  auto projections = (*client)->Send("GET", "/v1/projections", {}, kReaderToken);
  ASSERT_TRUE(projections.has_value());
  EXPECT_EQ(projections->result_int(), 200u);
  auto account = (*client)->Send("GET", "/v1/accounts/user:1", {}, kReaderToken);
  ASSERT_TRUE(account.has_value());
  EXPECT_EQ(account->result_int(), 404u);
  EXPECT_EQ(ErrorCode(*account), "account_not_found");

  ASSERT_TRUE(sequencer.Start().has_value());
  auto accepted = queued.get();
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->result_int(), 201u);
  EXPECT_EQ((*store)->HeadPosition(), 1u);

  server.StopAccepting();
  sequencer.Stop();
  server.Stop();
  (*read_models)->Stop();
}

}  // namespace
}  // namespace ledger::transport::testing
