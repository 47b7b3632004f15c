// The NATS publisher against a real nats-server: every event reaches the stream exactly once and
// in order, across outages of NATS and restarts of the publisher, and a stream of another
// ledger is refused.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/transport/nats_fixture.h"
#include "transport/json_events.h"

namespace ledger::transport {
namespace {

using testing::ExpectStreamEqualsLog;
using testing::LedgerNode;
using testing::ReadWholeStream;

constexpr std::int64_t kWaitUs = 60'000'000;

NatsPublisherOptions Options(const std::string& url) {
  NatsPublisherOptions options;
  options.stream.url = url;
  return options;
}

class NatsPublisherTest : public ::testing::Test {
 protected:
  ledger::testing::NatsServer nats_;
  ledger::testing::TempDir dir_;
};

TEST_F(NatsPublisherTest, HundredThousandEventsReachTheStreamOnceAndInOrder) {
  LedgerNode node(dir_.Sub("ledger"));
  node.StartPublisher(Options(nats_.url()));
  ASSERT_NO_FATAL_FAILURE(node.Credits(100'000));
  const std::uint64_t head = node.store().HeadPosition();
  ASSERT_EQ(head, 100'000u);
  ASSERT_EQ(node.publisher().WaitForAcked(head, kWaitUs), head);
  EXPECT_EQ(node.publisher().Snapshot().state, "publishing");
  ExpectStreamEqualsLog(ReadWholeStream(nats_.url()), node.store());
}

TEST_F(NatsPublisherTest, JsonPayloadsCarryTheEventAndTheSameHeaders) {
  LedgerNode node(dir_.Sub("ledger"));
  NatsPublisherOptions options = Options(nats_.url());
  options.format = PayloadFormat::kJson;
  node.StartPublisher(options);
  ASSERT_NO_FATAL_FAILURE(node.Credits(50));
  ASSERT_EQ(node.publisher().WaitForAcked(50, kWaitUs), 50u);
  const auto messages = ReadWholeStream(nats_.url());
  ASSERT_EQ(messages.size(), 50u);
  auto stored = node.store().Read(7);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(messages[6].headers.format, PayloadFormat::kJson);
  EXPECT_EQ(messages[6].headers.position, 7u);
  EXPECT_EQ(messages[6].payload, EventToJson(stored->event));
}

// nats-server is killed mid-run and comes back: ledgerd kept taking commands meanwhile, and the
// stream still holds every event exactly once, in order.
TEST_F(NatsPublisherTest, SurvivesAKilledAndRestartedNatsServer) {
  LedgerNode node(dir_.Sub("ledger"));
  NatsPublisherOptions options = Options(nats_.url());
  options.ack_timeout_ms = 1000;
  options.retry_wait_ms = 100;
  node.StartPublisher(options);
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int round = 0; round < 20 && writing.load(); ++round) {
      node.Credits(5'000, 1000, static_cast<std::uint64_t>(round));
    }
  });
  // Kill once publishing is under way.
  for (int i = 0; i < 6'000 && node.publisher().Snapshot().acked < 20'000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(node.publisher().Snapshot().acked, 20'000u) << node.publisher().Snapshot().state;
  nats_.Kill();
  const std::uint64_t head_at_kill = node.store().HeadPosition();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  // Commands go on while NATS is down.
  EXPECT_GT(node.store().HeadPosition(), head_at_kill);
  EXPECT_NE(node.publisher().Snapshot().state, "publishing");
  nats_.Restart();
  writer.join();
  const std::uint64_t head = node.store().HeadPosition();
  ASSERT_EQ(head, 100'000u);
  ASSERT_EQ(node.publisher().WaitForAcked(head, kWaitUs), head)
      << node.publisher().Snapshot().state;
  EXPECT_GT(node.metrics().GetCounter("ledger_publisher_resyncs_total", "").Value(), 0u);
  EXPECT_FALSE(node.publisher().Snapshot().error.has_value());
  ExpectStreamEqualsLog(ReadWholeStream(nats_.url()), node.store());
}

// A publisher that lost its cursor (a crash before it was saved) and comes back after longer
// than the duplicate window republishes nothing: it goes on from the stream's last message.
TEST_F(NatsPublisherTest, RestartAfterTheDuplicateWindowPublishesNothingTwice) {
  LedgerNode node(dir_.Sub("ledger"));
  NatsPublisherOptions options = Options(nats_.url());
  options.stream.duplicate_window_ms = 1000;
  node.StartPublisher(options);
  ASSERT_NO_FATAL_FAILURE(node.Credits(1'000));
  ASSERT_EQ(node.publisher().WaitForAcked(1'000, kWaitUs), 1'000u);
  node.StopPublisher();
  ASSERT_TRUE(node.store()
                  .db()
                  ->Delete(rocksdb::WriteOptions(), node.store().ColumnFamily(kOutboxFamily),
                           "cursor")
                  .ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // Past the duplicate window.
  ASSERT_NO_FATAL_FAILURE(node.Credits(500));
  node.StartPublisher(options);
  ASSERT_EQ(node.publisher().WaitForAcked(1'500, kWaitUs), 1'500u);
  EXPECT_EQ(node.metrics().GetCounter("ledger_publisher_duplicates_total", "").Value(), 0u);
  ExpectStreamEqualsLog(ReadWholeStream(nats_.url()), node.store());
}

// The stream holds another ledger's events: the publisher stops for good and says why, and the
// ledger goes on taking commands.
TEST_F(NatsPublisherTest, RefusesAStreamOfAnotherLedger) {
  LedgerNode first(dir_.Sub("first"));
  first.StartPublisher(Options(nats_.url()));
  ASSERT_NO_FATAL_FAILURE(first.Credits(10));
  ASSERT_EQ(first.publisher().WaitForAcked(10, kWaitUs), 10u);

  LedgerNode second(dir_.Sub("second"));
  ASSERT_NO_FATAL_FAILURE(second.Credits(20));
  second.StartPublisher(Options(nats_.url()));
  PublisherStatus status;
  for (int i = 0; i < 500; ++i) {
    status = second.publisher().Snapshot();
    if (status.state == "failed") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(status.state, "failed");
  ASSERT_TRUE(status.error.has_value());
  EXPECT_EQ(status.error->code, "stream_of_another_ledger") << status.error->message;
  ASSERT_NO_FATAL_FAILURE(second.Credits(1));
  ExpectStreamEqualsLog(ReadWholeStream(nats_.url()), first.store());
}

// The publisher's position and lag are in the metrics.
TEST_F(NatsPublisherTest, ReportsPositionAndLagInMetrics) {
  LedgerNode node(dir_.Sub("ledger"));
  ASSERT_NO_FATAL_FAILURE(node.Credits(30));
  node.StartPublisher(Options(nats_.url()));
  ASSERT_EQ(node.publisher().WaitForAcked(30, kWaitUs), 30u);
  const std::string text = node.metrics().RenderPrometheus();
  EXPECT_NE(text.find("ledger_publisher_acked_position 30"), std::string::npos) << text;
  EXPECT_NE(text.find("ledger_publisher_lag_events 0"), std::string::npos) << text;
  EXPECT_NE(text.find("ledger_publisher_connected 1"), std::string::npos) << text;
}

}  // namespace
}  // namespace ledger::transport
