// The sequencer: the one thread that owns the write-side state. Transport threads Submit()
// commands into a bounded queue; the sequencer decides them in batches (group commit), hands
// each batch to the durability thread, which writes it as ONE synced RocksDB WriteBatch and only
// then completes every command of the batch. While batch N syncs, batch N+1 is decided.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>

#include "commands/command.h"
#include "ledger/clock.h"
#include "ledger/event.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/status.h"
#include "ledger/store.h"

namespace ledger::commands {

// What an accepted command produced. `replayed` is true when the command repeated an earlier
// one (same idempotency key and body) and `event` is the event the first one appended.
struct CommandOutcome {
  bool replayed = false;
  Event event;
};

// Called exactly once per submitted command, on the durability thread (or the sequencer thread
// for rejections decided before any write), after the outcome is final: an accepted command's
// event is durable before this runs. Must not block.
using CommandCallback = std::function<void(Result<CommandOutcome>)>;

// One command and the callback that receives its outcome.
struct Submission {
  Command command;
  CommandCallback done;
};

struct SequencerOptions {
  std::size_t queue_depth_max = kCommandQueueDepthMax;
  std::size_t batch_commands_max = kBatchCommandsMax;
  // While a failed write keeps the write path stopped, how often Store::Resume() is tried.
  std::chrono::milliseconds storage_resume_interval{kStorageResumeIntervalMs};
};

class Sequencer {
 public:
  // `store`, `clock` and `metrics` must outlive the sequencer.
  Sequencer(Store& store, Clock& clock, Metrics& metrics, SequencerOptions options = {});
  ~Sequencer();
  Sequencer(const Sequencer&) = delete;
  Sequencer& operator=(const Sequencer&) = delete;

  // Loads the write-side state from the store and starts the threads.
  [[nodiscard]] Status Start();
  // Thread-safe. On success `done` will be called exactly once. Fails at once, without calling
  // `done`, with kOverloaded ("overloaded") when the queue is full, kUnavailable
  // "shutting_down" when the sequencer is stopping, or kUnavailable "disk_full" /
  // "storage_unavailable" while the write path is stopped by a failed write.
  //
  // A failed write stops the write path: every command of the failed batch and of the batches
  // decided after it is answered with the write's error (kUnavailable "disk_full" or
  // "storage_unavailable"), and so are commands already queued; new ones are refused. The
  // sequencer then tries Store::Resume() every storage_resume_interval and, once it succeeds,
  // reloads its state from the store (the disk is the truth) and accepts commands again.
  [[nodiscard]] Status Submit(Command command, CommandCallback done);
  // Submits every element of `submissions` (moved from), in order, under one lock, or none of
  // them: fails like Submit, without calling any callback, when the queue cannot take them all.
  // The commands stay in order but may be decided in different batches, among other clients'.
  [[nodiscard]] Status SubmitAll(std::span<Submission> submissions);
  // Stops accepting, decides and makes durable everything already queued (answers it with the
  // storage error if the write path is stopped and cannot resume), then joins the threads.
  // Idempotent.
  void Stop();

  // Commands waiting in the queue (for metrics and tests). Thread-safe.
  [[nodiscard]] std::size_t QueueDepth() const;
  // True while a failed write keeps the write path stopped (for tests). Thread-safe.
  [[nodiscard]] bool WritesStopped() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::commands
