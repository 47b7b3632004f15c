// Integration: many clients at once, the connection limit, and a graceful stop under load.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

std::string Deposit(int thread, int i) {
  return R"({"account":"user-)" + std::to_string(thread) + R"(","asset":"USD","amount":)" +
         std::to_string(i + 1) + R"(,"source":"bank","reason":"load","ref":"r"})";
}

TEST(HttpConcurrencyTest, ConcurrentClientsGetGaplessUniquePositions) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), HttpServerOptions{.threads = 4});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  constexpr int kThreads = 8;
  constexpr int kCommandsPerThread = 200;
  std::mutex mutex;
  std::vector<std::uint64_t> positions;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto client = server.Connect();
      for (int i = 0; i < kCommandsPerThread; ++i) {
        auto response = client->Send("POST", "/v1/assets/changes", Deposit(t, i), kWriterToken);
        if (!response || response->result_int() != 201) {
          failures.fetch_add(1);
          continue;
        }
        const auto json = Json(*response);
        std::lock_guard lock(mutex);
        positions.push_back(json["position"].GetUint64());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::sort(positions.begin(), positions.end());
  ASSERT_EQ(positions.size(), static_cast<std::size_t>(kThreads * kCommandsPerThread));
  for (std::size_t i = 0; i < positions.size(); ++i) ASSERT_EQ(positions[i], i + 1);
  EXPECT_EQ(server.store().HeadPosition(), positions.size());

  // Every stored event is where its response said, each chained to the one before.
  auto events = server.store().ReadFrom(1, positions.size());
  ASSERT_TRUE(events.has_value());
  ASSERT_EQ(events->size(), positions.size());
  for (std::size_t i = 1; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].event.envelope.prev_hash, (*events)[i - 1].event.envelope.hash);
  }
}

TEST(HttpConcurrencyTest, ConnectionsBeyondTheLimitAreClosed) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), HttpServerOptions{.connections_max = 2});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  auto first = server.Connect();
  auto second = server.Connect();
  ASSERT_TRUE(first->Send("GET", "/healthz").has_value());
  ASSERT_TRUE(second->Send("GET", "/healthz").has_value());
  auto third = server.Connect();  // The kernel accepts; the server answers 503 and closes.
  auto refused = third->ReadResponse();
  ASSERT_TRUE(refused.has_value()) << refused.error().message;
  EXPECT_EQ(refused->result_int(), 503u);
  EXPECT_EQ(ErrorCode(*refused), "too_many_connections");
  EXPECT_EQ((*refused)[boost::beast::http::field::retry_after], "1");
  EXPECT_TRUE(third->ServerClosed());
  EXPECT_GE(server.metrics().GetCounter("ledger_http_connections_refused_total", "").Value(), 1u);
  first.reset();  // Frees a slot.
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto fourth = server.Connect();
    auto response = fourth->Send("GET", "/healthz");
    if (response && response->result_int() == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no connection slot freed up";
}

TEST(HttpConcurrencyTest, IdleConnectionsTimeOut) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), HttpServerOptions{.idle_timeout = std::chrono::seconds(1)});
  ASSERT_NO_FATAL_FAILURE(server.Start());
  auto client = server.Connect();
  ASSERT_TRUE(client->Send("GET", "/healthz").has_value());
  EXPECT_TRUE(client->ServerClosed(5000));
}

// Clients keep writing while the server stops: every 201 they got is durable, and every
// request got an answer or a closed connection (no hang). `server_first` stops the HTTP server
// alone (sequencer still running) before the rest; otherwise the ledgerd order is used.
void StopUnderLoad(bool server_first) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(server.Start());
  std::mutex mutex;
  std::vector<std::uint64_t> acknowledged;
  std::atomic<bool> stop{false};
  std::atomic<int> started{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto client = server.Connect();
      for (int i = 0; !stop.load(); ++i) {
        started.fetch_add(1);
        auto response = client->Send("POST", "/v1/assets/changes", Deposit(t, i), kWriterToken);
        if (!response) return;  // Closed by the stop.
        if (response->result_int() == 201) {
          std::lock_guard lock(mutex);
          acknowledged.push_back(Json(*response)["position"].GetUint64());
        }
        if (!response->keep_alive()) return;
      }
    });
  }
  while (started.load() < 200) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (server_first) server.server().Stop();
  server.Stop();
  stop = true;
  for (auto& thread : threads) thread.join();
  ASSERT_FALSE(acknowledged.empty());

  auto store = Store::Open(StoreOptions{.path = dir.Sub("data")});
  ASSERT_TRUE(store.has_value());
  for (std::uint64_t position : acknowledged) {
    ASSERT_LE(position, (*store)->HeadPosition());
    ASSERT_TRUE((*store)->Read(position).has_value()) << position;
  }
}

TEST(HttpConcurrencyTest, GracefulStopKeepsEveryAcknowledgedCommand) { StopUnderLoad(false); }

TEST(HttpConcurrencyTest, ServerStopDrainsRequestsInFlight) { StopUnderLoad(true); }

}  // namespace
}  // namespace ledger::transport::testing
