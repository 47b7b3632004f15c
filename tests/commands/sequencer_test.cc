#include "commands/sequencer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/temp_dir.h"

namespace ledger::commands {
namespace {

Command Credit(std::string account, std::int64_t amount, std::string key = "") {
  Command command;
  command.context.client_id = "svc";
  command.context.idempotency_key = std::move(key);
  command.body = ChangeAsset{.account = std::move(account),
                             .asset = "CNY",
                             .amount = amount,
                             .source = "topup",
                             .reason = "test",
                             .ref = "r"};
  return command;
}

class SequencerTest : public ::testing::Test {
 protected:
  void Open() {
    auto store = Store::Open({.path = dir_.path()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }
  void Close() {
    sequencer_.reset();
    store_.reset();
  }
  // Submits and waits for the outcome.
  Result<CommandOutcome> Run(Command command) {
    std::promise<Result<CommandOutcome>> promise;
    auto future = promise.get_future();
    auto submitted = sequencer_->Submit(std::move(command), [&](Result<CommandOutcome> outcome) {
      promise.set_value(std::move(outcome));
    });
    if (!submitted) return std::unexpected(submitted.error());
    return future.get();
  }

  // Waits (at most 10 s) until a failed write no longer stops the write path.
  bool WaitForWrites() {
    for (int i = 0; i < 1'000 && sequencer_->WritesStopped(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return !sequencer_->WritesStopped();
  }

  testing::TempDir dir_;
  ManualClock clock_{1'790'000'000'000'000};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Sequencer> sequencer_;
};

TEST_F(SequencerTest, AcceptsAndMakesDurable) {
  Open();
  auto first = Run(Credit("user:1", 500));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_FALSE(first->replayed);
  EXPECT_EQ(first->event.envelope.position, 1u);
  EXPECT_EQ(first->event.envelope.type, EventType::kAssetChanged);
  EXPECT_EQ(first->event.envelope.stream, "account/user:1");
  EXPECT_EQ(first->event.envelope.stream_version, 1u);
  EXPECT_EQ(first->event.envelope.recorded_at_us, clock_.NowUs());
  EXPECT_EQ(store_->HeadPosition(), 1u);
  auto stored = store_->Read(1);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->event, first->event);
}

TEST_F(SequencerTest, RepeatIsReplayedAndDifferentBodyConflicts) {
  Open();
  auto first = Run(Credit("user:1", 500, "k1"));
  ASSERT_TRUE(first.has_value());
  auto repeat = Run(Credit("user:1", 500, "k1"));
  ASSERT_TRUE(repeat.has_value());
  EXPECT_TRUE(repeat->replayed);
  EXPECT_EQ(repeat->event, first->event);
  EXPECT_EQ(store_->HeadPosition(), 1u);
  auto conflict = Run(Credit("user:1", 501, "k1"));
  ASSERT_FALSE(conflict.has_value());
  EXPECT_EQ(conflict.error().code, "idempotency_conflict");
  EXPECT_EQ(store_->HeadPosition(), 1u);
}

TEST_F(SequencerTest, RepeatInsideOneBatchIsReplayed) {
  Open();
  std::mutex mutex;
  std::vector<Result<CommandOutcome>> outcomes;
  std::promise<void> all_done;
  constexpr int kRepeats = 50;
  for (int i = 0; i < kRepeats; ++i) {
    ASSERT_TRUE(sequencer_->Submit(Credit("user:1", 7, "same"), [&](auto outcome) {
      std::lock_guard lock(mutex);
      outcomes.push_back(std::move(outcome));
      if (outcomes.size() == kRepeats) all_done.set_value();
    }));
  }
  all_done.get_future().wait();
  int accepted = 0;
  for (const auto& outcome : outcomes) {
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    EXPECT_EQ(outcome->event.envelope.position, 1u);
    if (!outcome->replayed) ++accepted;
  }
  EXPECT_EQ(accepted, 1);
  EXPECT_EQ(store_->HeadPosition(), 1u);
}

TEST_F(SequencerTest, RejectionWritesNothing) {
  Open();
  auto debit = Run(Credit("user:1", -5));
  ASSERT_FALSE(debit.has_value());
  EXPECT_EQ(debit.error().code, "insufficient_funds");
  EXPECT_EQ(store_->HeadPosition(), 0u);
}

TEST_F(SequencerTest, RestartKeepsStateAndChain) {
  Open();
  ASSERT_TRUE(Run(Credit("user:1", 100)).has_value());
  ASSERT_TRUE(Run(Credit("user:1", -60, "d1")).has_value());
  Hash head = store_->HeadHash();
  Close();
  Open();
  EXPECT_EQ(store_->HeadPosition(), 2u);
  auto too_much = Run(Credit("user:1", -41));
  ASSERT_FALSE(too_much.has_value());
  EXPECT_EQ(too_much.error().code, "insufficient_funds");
  auto exact = Run(Credit("user:1", -40));
  ASSERT_TRUE(exact.has_value()) << exact.error().message;
  EXPECT_EQ(exact->event.envelope.prev_hash, head);
  EXPECT_EQ(exact->event.envelope.stream_version, 3u);
  auto repeat = Run(Credit("user:1", -60, "d1"));
  ASSERT_TRUE(repeat.has_value());
  EXPECT_TRUE(repeat->replayed);
  EXPECT_EQ(repeat->event.envelope.position, 2u);
}

TEST_F(SequencerTest, ConcurrentClientsGetGaplessPositions) {
  Open();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2'000;
  std::mutex mutex;
  std::set<std::uint64_t> positions;
  std::vector<std::thread> threads;
  std::atomic<int> remaining{kThreads * kPerThread};
  std::promise<void> all_done;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto command = Credit("user:" + std::to_string(t * 10 + i % 10), 1);
        ASSERT_TRUE(sequencer_->Submit(std::move(command), [&](auto outcome) {
          ASSERT_TRUE(outcome.has_value());
          {
            std::lock_guard lock(mutex);
            EXPECT_TRUE(positions.insert(outcome->event.envelope.position).second);
          }
          if (--remaining == 0) all_done.set_value();
        }));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  all_done.get_future().wait();
  ASSERT_EQ(positions.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*positions.begin(), 1u);
  EXPECT_EQ(*positions.rbegin(), static_cast<std::uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(store_->HeadPosition(), static_cast<std::uint64_t>(kThreads * kPerThread));
  auto all = store_->ReadFrom(1, kThreads * kPerThread);
  ASSERT_TRUE(all.has_value()) << all.error().message;
}

TEST_F(SequencerTest, FailedWriteAnswers503AndStateReloadsFromDisk) {
  Open();
  ASSERT_TRUE(Run(Credit("user:1", 100)).has_value());
  std::atomic<bool> failing{true};
  store_->SetCommitFaultForTesting([&] { return failing.load(); });
  // Decided against in-memory state (funds 100), but its batch never becomes durable.
  auto lost = Run(Credit("user:1", -100, "spend"));
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(lost.error().code, "storage_unavailable");
  EXPECT_EQ(store_->HeadPosition(), 1u);
  failing = false;
  ASSERT_TRUE(WaitForWrites());
  // The sequencer reloaded its state from disk: the funds are still there, the key is unused.
  auto retried = Run(Credit("user:1", -100, "spend"));
  ASSERT_TRUE(retried.has_value()) << retried.error().message;
  EXPECT_FALSE(retried->replayed);
  EXPECT_EQ(retried->event.envelope.position, 2u);
  EXPECT_EQ(retried->event.envelope.stream_version, 2u);
  auto overdraft = Run(Credit("user:1", -1));
  ASSERT_FALSE(overdraft.has_value());
  EXPECT_EQ(overdraft.error().code, "insufficient_funds");
  auto chain = store_->ReadFrom(1, 10);
  ASSERT_TRUE(chain.has_value()) << chain.error().message;
  EXPECT_EQ(chain->size(), 2u);
}

// While the store cannot resume (RocksDB waiting for free space), the write path stays stopped:
// commands are refused at once with the failure's code, without queueing; the sequencer retries
// the resume every storage_resume_interval, not in a spin, and takes commands again after it.
TEST_F(SequencerTest, FailedWriteStopsWritesUntilTheStoreResumes) {
  auto store = Store::Open({.path = dir_.path()});
  ASSERT_TRUE(store.has_value()) << store.error().message;
  store_ = std::move(*store);
  sequencer_ = std::make_unique<Sequencer>(
      *store_, clock_, metrics_,
      SequencerOptions{.storage_resume_interval = std::chrono::milliseconds(100)});
  ASSERT_TRUE(sequencer_->Start().has_value());
  ASSERT_TRUE(Run(Credit("user:1", 100)).has_value());
  std::atomic<bool> failing{true};
  std::atomic<bool> resumable{false};
  store_->SetCommitFaultForTesting([&] { return failing.load(); });
  store_->SetResumeFaultForTesting([&] { return !resumable.load(); });
  auto lost = Run(Credit("user:1", -100, "spend"));
  ASSERT_FALSE(lost.has_value());
  EXPECT_EQ(lost.error().code, "storage_unavailable");
  failing = false;
  EXPECT_TRUE(sequencer_->WritesStopped());
  for (int i = 0; i < 5; ++i) {
    auto refused = sequencer_->Submit(Credit("user:1", 1), [](Result<CommandOutcome>) {
      ADD_FAILURE() << "a refused command's callback ran";
    });
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(refused.error().code, "storage_unavailable");
    EXPECT_EQ(sequencer_->QueueDepth(), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(metrics_.GetGauge("ledger_writes_stopped", "").Value(), 1);
  EXPECT_EQ(metrics_.GetGauge("ledger_disk_full", "").Value(), 0);  // Not a full disk.
  const std::uint64_t attempts =
      metrics_.GetCounter("ledger_storage_resume_attempts_total", "").Value();
  EXPECT_GE(attempts, 3u);
  EXPECT_LE(attempts, 20u) << "resume attempts spin";
  resumable = true;
  ASSERT_TRUE(WaitForWrites());
  auto retried = Run(Credit("user:1", -100, "spend"));
  ASSERT_TRUE(retried.has_value()) << retried.error().message;
  EXPECT_EQ(retried->event.envelope.position, 2u);
  EXPECT_EQ(metrics_.GetGauge("ledger_writes_stopped", "").Value(), 0);
  EXPECT_EQ(metrics_.GetCounter("ledger_storage_resumes_total", "").Value(), 1u);
  EXPECT_EQ(metrics_.GetCounter("ledger_writes_stopped_total", "").Value(), 1u);
}

// Stop while the write path is stopped and the store cannot resume: every queued command is
// answered (with the failure), and Stop returns.
TEST_F(SequencerTest, StopWhileWritesAreStoppedAnswersEverything) {
  Open();
  std::atomic<bool> failing{true};
  store_->SetCommitFaultForTesting([&] { return failing.load(); });
  store_->SetResumeFaultForTesting([] { return true; });
  auto lost = Run(Credit("user:1", 100));
  ASSERT_FALSE(lost.has_value());
  sequencer_->Stop();
  EXPECT_EQ(store_->HeadPosition(), 0u);
  auto after_stop = sequencer_->Submit(Credit("user:1", 1), [](Result<CommandOutcome>) {});
  ASSERT_FALSE(after_stop.has_value());
  EXPECT_EQ(after_stop.error().code, "shutting_down");
}

TEST(SequencerQueueTest, FullQueueAnswersOverloadedAtOnceAndStopDrains) {
  testing::TempDir dir;
  auto store = Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.has_value());
  ManualClock clock(1'790'000'000'000'000);
  Metrics metrics;
  Sequencer sequencer(**store, clock, metrics, {.queue_depth_max = 2});
  std::atomic<int> completed{0};
  auto count = [&](auto outcome) {
    EXPECT_TRUE(outcome.has_value());
    ++completed;
  };
  // Not started: the queue fills and stays full.
  ASSERT_TRUE(sequencer.Submit(Credit("user:1", 1), count));
  ASSERT_TRUE(sequencer.Submit(Credit("user:2", 1), count));
  auto third = sequencer.Submit(Credit("user:3", 1), count);
  ASSERT_FALSE(third.has_value());
  EXPECT_EQ(third.error().kind, ErrorKind::kOverloaded);
  EXPECT_EQ(third.error().code, "overloaded");
  EXPECT_EQ(sequencer.QueueDepth(), 2u);
  ASSERT_TRUE(sequencer.Start().has_value());
  sequencer.Stop();
  EXPECT_EQ(completed.load(), 2);
  EXPECT_EQ((*store)->HeadPosition(), 2u);
  auto after_stop = sequencer.Submit(Credit("user:4", 1), count);
  ASSERT_FALSE(after_stop.has_value());
  EXPECT_EQ(after_stop.error().kind, ErrorKind::kUnavailable);
}

}  // namespace
}  // namespace ledger::commands
