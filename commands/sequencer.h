// The sequencer: the one thread that owns the write-side state. Transport threads Submit()
// commands into a bounded queue; the sequencer decides them in batches (group commit), hands
// each batch to the durability thread, which writes it as ONE synced RocksDB WriteBatch and only
// then completes every command of the batch. While batch N syncs, batch N+1 is decided.
#pragma once

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
  // `done`, with kOverloaded ("overloaded") when the queue is full or kUnavailable when the
  // sequencer is stopping.
  [[nodiscard]] Status Submit(Command command, CommandCallback done);
  // Submits every element of `submissions` (moved from), in order, under one lock, or none of
  // them: fails like Submit, without calling any callback, when the queue cannot take them all.
  // The commands stay in order but may be decided in different batches, among other clients'.
  [[nodiscard]] Status SubmitAll(std::span<Submission> submissions);
  // Stops accepting, decides and makes durable everything already queued, then joins the
  // threads. Idempotent.
  void Stop();

  // Commands waiting in the queue (for metrics and tests). Thread-safe.
  [[nodiscard]] std::size_t QueueDepth() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::commands
