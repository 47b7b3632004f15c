// The projection runtime: one worker thread per projection. It reads events after its
// checkpoint from an EventSource in batches, applies them, and writes the view changes with the
// new checkpoint in ONE RocksDB write, so a crash can neither skip nor double-apply an event;
// events at or below the checkpoint are never applied again. It wakes on new appends (the
// source's head condition variable), never by busy polling. A storage error (kUnavailable, e.g.
// a full disk) pauses it: it retries every storage_retry_interval and catches up once the write
// succeeds; any other error stops it (Failure()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/status.h"
#include "projections/projection.h"

namespace ledger::projections {

struct ProjectionRunnerOptions {
  std::size_t batch_events_max = kProjectionBatchEventsMax;
  // Tests only: called after a batch was applied and before it is written; returning true drops
  // the batch and stops the worker, as a crash at that point would.
  std::function<bool()> crash_before_write_for_testing;
  // After a storage error (kUnavailable: a full disk, a failed write) the worker waits this
  // long, reloads its state from the view and tries again, until it succeeds or stops.
  std::chrono::milliseconds storage_retry_interval{kStorageResumeIntervalMs};
};

class ProjectionRunner {
 public:
  // `source`, `view_db` (with `view_family`), `projection` and `metrics` must outlive the runner.
  ProjectionRunner(EventSource& source, rocksdb::DB& view_db,
                   rocksdb::ColumnFamilyHandle& view_family, Projection& projection,
                   Metrics& metrics, ProjectionRunnerOptions options = {});
  ~ProjectionRunner();
  ProjectionRunner(const ProjectionRunner&) = delete;
  ProjectionRunner& operator=(const ProjectionRunner&) = delete;

  // Reads the checkpoint and starts the worker.
  [[nodiscard]] Status Start();
  // Stops the worker after the batch in progress. Idempotent.
  void Stop();
  // Applies everything up to the source's head on the calling thread (replay, tests); the
  // worker must not be running. Returns the new checkpoint.
  [[nodiscard]] Result<std::uint64_t> CatchUp();

  // The last applied position. Thread-safe.
  [[nodiscard]] std::uint64_t Checkpoint() const { return checkpoint_.load(); }
  // Waits until the checkpoint reaches `position` or `timeout_us` passes; returns the
  // checkpoint then. Thread-safe.
  std::uint64_t WaitFor(std::uint64_t position, std::int64_t timeout_us) const;
  // The error that stopped the worker, if any. Thread-safe.
  [[nodiscard]] std::optional<Error> Failure() const;

  // Called with the checkpoint once it reached the awaited position, or earlier if the worker
  // failed. Runs on the worker thread with no lock held: it must be quick (post work elsewhere).
  using ReachedCallback = std::function<void(std::uint64_t checkpoint)>;
  // Registers `callback` for when the checkpoint reaches `position`, without blocking. Returns
  // nullopt (and drops `callback`) when it already has, or the worker failed; kOverloaded
  // "too_many_waiters" past kQueryWaitersMax waiters; else a waiter id for CancelWait.
  // Thread-safe.
  [[nodiscard]] Result<std::optional<std::uint64_t>> WhenReached(std::uint64_t position,
                                                                 ReachedCallback callback);
  // Drops a waiter that was not called yet (a timed-out query). Thread-safe.
  void CancelWait(std::uint64_t waiter_id);
  // Drops every waiter without calling it (shutdown: their executors may be gone). Thread-safe.
  void DropWaiters();

 private:
  // Reads the checkpoint and resets the cache (complete when the view is empty).
  [[nodiscard]] Status LoadCheckpoint();
  // Applies and writes one batch after the checkpoint; false if there was nothing to do.
  [[nodiscard]] Result<bool> Step();
  void Loop();
  // Worker thread: logs the first failure of an outage, waits storage_retry_interval (or until
  // Stop), reloads the checkpoint and the projection's state.
  void RetryAfterStorageFailure(const Error& error);
  // Publishes `position` and calls the waiters it satisfies.
  void SetCheckpoint(std::uint64_t position);
  // Calls every waiter with the current checkpoint (the worker failed).
  void FailWaiters();

  EventSource& source_;
  rocksdb::DB& view_db_;
  rocksdb::ColumnFamilyHandle& view_family_;
  Projection& projection_;
  Metrics& metrics_;
  ProjectionRunnerOptions options_;
  Counter& events_applied_;
  Counter& storage_retries_;
  bool storage_failed_ = false;  // Worker thread only: in an outage (for its log lines).
  std::atomic<std::uint64_t> checkpoint_{0};
  std::atomic<std::uint64_t> source_head_{0};
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable advanced_;
  std::optional<Error> failure_;  // Guarded by mutex_.
  struct Waiter {
    std::uint64_t id;
    ReachedCallback callback;
  };
  // Awaited position -> waiters, guarded by mutex_.
  std::multimap<std::uint64_t, Waiter> waiters_;
  std::uint64_t next_waiter_id_ = 1;  // Guarded by mutex_.
  ViewCache cache_;               // Worker thread (or CatchUp's caller) only.
  std::thread worker_;
};

}  // namespace ledger::projections
