// Integration: stopping and reopening the same data directory keeps every acknowledged event,
// the balances, and the hash chain.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "commands/write_state.h"
#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

using RestartTest = HttpTest;

TEST_F(RestartTest, EventsBalancesAndHashChainSurvive) {
  Credit("alice", 1000);
  ASSERT_EQ(Post("/v1/transfers",
                 R"({"postings":[{"from":"alice","to":"bob","asset":"USD","amount":400}]})")
                .result_int(),
            201u);
  const std::string events_before = Get("/v1/events").body();
  const std::uint64_t head_before = Head();
  const std::string hash_before = HashToHex(server_.store().HeadHash());

  client_.reset();
  server_.Stop();
  ASSERT_NO_FATAL_FAILURE(server_.Start());
  client_ = server_.Connect();

  EXPECT_EQ(Head(), head_before);
  EXPECT_EQ(Get("/v1/events").body(), events_before);

  // Balances: alice holds exactly 600, bob exactly 400.
  const auto debit = [&](std::string_view account, std::int64_t amount) {
    return Post("/v1/assets/changes", R"({"account":")" + std::string(account) +
                                          R"(","asset":"USD","amount":-)" + std::to_string(amount) +
                                          R"(,"source":"atm","reason":"r","ref":"x"})");
  };
  EXPECT_EQ(debit("alice", 601).result_int(), 422u);
  EXPECT_EQ(debit("bob", 401).result_int(), 422u);
  const HttpResponse next = debit("alice", 600);
  ASSERT_EQ(next.result_int(), 201u) << next.body();
  const auto json = Json(next);
  EXPECT_EQ(json["position"].GetUint64(), head_before + 1);
  EXPECT_EQ(std::string(json["event"]["prev_hash"].GetString()), hash_before);
  EXPECT_EQ(debit("bob", 400).result_int(), 201u);

  // Replaying the log gives the same balances.
  auto events = server_.store().ReadFrom(1, 100);
  ASSERT_TRUE(events.has_value());
  commands::WriteState state;
  for (const StoredEvent& stored : *events) state.Apply(stored.event);
  EXPECT_EQ(state.FindAccount("alice")->Balance("USD"), 0);
  EXPECT_EQ(state.FindAccount("bob")->Balance("USD"), 0);
  EXPECT_EQ(state.AssetSum("USD"), 0);

  // The projections resumed from their checkpoints: the read side agrees with the log.
  const std::uint64_t head = Head();
  for (const char* account : {"alice", "bob"}) {
    const HttpResponse read = Get("/v1/accounts/" + std::string(account) +
                                  "?min_position=" + std::to_string(head));
    ASSERT_EQ(read.result_int(), 200u) << read.body();
    EXPECT_EQ(Json(read)["balances"][0]["balance"].GetInt64(), 0) << account;
    const HttpResponse entries = Get("/v1/accounts/" + std::string(account) +
                                     "/entries?min_position=" + std::to_string(head));
    ASSERT_EQ(entries.result_int(), 200u) << entries.body();
    EXPECT_EQ(Json(entries)["entries"].Size(), std::string_view(account) == "alice" ? 3u : 2u);
  }
  // Every projection reaches the head (each catches up on its own).
  bool all_at_head = false;
  for (int attempt = 0; attempt < 500 && !all_at_head; ++attempt) {
    const auto projections = Json(Get("/v1/projections"));
    all_at_head = true;
    for (const auto& projection : projections["projections"].GetArray()) {
      EXPECT_STREQ(projection["state"].GetString(), "running");
      all_at_head = all_at_head && projection["position"].GetUint64() == head;
    }
    if (!all_at_head) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(all_at_head);
}

TEST_F(RestartTest, IdempotencySurvivesRestart) {
  const std::string body = R"({"account":"alice","asset":"USD","amount":5,"source":"bank",
                               "reason":"r","ref":"x"})";
  const HttpClient::Headers key = {{"Idempotency-Key", "once"}};
  ASSERT_EQ(Post("/v1/assets/changes", body, kWriterToken, key).result_int(), 201u);
  client_.reset();
  server_.Stop();
  ASSERT_NO_FATAL_FAILURE(server_.Start());
  client_ = server_.Connect();
  const HttpResponse again = Post("/v1/assets/changes", body, kWriterToken, key);
  EXPECT_EQ(again.result_int(), 200u);
  EXPECT_TRUE(Json(again)["replayed"].GetBool());
  EXPECT_EQ(Head(), 1u);
}

}  // namespace
}  // namespace ledger::transport::testing
