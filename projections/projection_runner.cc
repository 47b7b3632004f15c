#include "projections/projection_runner.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace ledger::projections {
namespace {

Error StorageError(const rocksdb::Status& status, std::string_view what) {
  return MakeError(ErrorKind::kUnavailable,
                   status.IsNoSpace() ? "disk_full" : "storage_unavailable",
                   std::string(what) + ": " + status.ToString());
}

}  // namespace

ProjectionRunner::ProjectionRunner(EventSource& source, rocksdb::DB& view_db,
                                   rocksdb::ColumnFamilyHandle& view_family,
                                   Projection& projection, Metrics& metrics,
                                   ProjectionRunnerOptions options)
    : source_(source),
      view_db_(view_db),
      view_family_(view_family),
      projection_(projection),
      metrics_(metrics),
      options_(std::move(options)),
      events_applied_(metrics.GetCounter("ledger_projection_events_applied_total",
                                         "Events applied by a projection.",
                                         {{"projection", std::string(projection.Name())}})),
      storage_retries_(metrics.GetCounter(
          "ledger_projection_storage_retries_total",
          "Batches a projection retried after a storage error (e.g. disk full).",
          {{"projection", std::string(projection.Name())}})) {
  const Labels labels = {{"projection", std::string(projection.Name())}};
  metrics.SetGaugeFunction("ledger_projection_position", "Last position a projection applied.",
                           [this] { return static_cast<double>(checkpoint_.load()); }, labels);
  metrics.SetGaugeFunction(
      "ledger_projection_lag", "Events a projection is behind the head (head - checkpoint).",
      [this] {
        const std::uint64_t head = source_head_.load();
        const std::uint64_t checkpoint = checkpoint_.load();
        return static_cast<double>(head > checkpoint ? head - checkpoint : 0);
      },
      labels);
}

ProjectionRunner::~ProjectionRunner() {
  Stop();
  DropWaiters();
  const Labels labels = {{"projection", std::string(projection_.Name())}};
  metrics_.RemoveGaugeFunction("ledger_projection_position", labels);
  metrics_.RemoveGaugeFunction("ledger_projection_lag", labels);
}

Status ProjectionRunner::LoadCheckpoint() {
  auto checkpoint = ReadCheckpoint(view_db_, view_family_, nullptr);
  if (!checkpoint) return std::unexpected(checkpoint.error());
  cache_ = ViewCache{};
  cache_.complete = *checkpoint == 0;
  if (auto loaded = projection_.Load(view_db_, view_family_); !loaded) return loaded;
  SetCheckpoint(*checkpoint);
  return Ok();
}

Status ProjectionRunner::Start() {
  if (auto loaded = LoadCheckpoint(); !loaded) return loaded;
  stopping_ = false;
  worker_ = std::thread([this] {
    std::string name = "proj-" + std::string(projection_.Name()).substr(0, 10);
    pthread_setname_np(pthread_self(), name.c_str());
    Loop();
  });
  return Ok();
}

void ProjectionRunner::Stop() {
  stopping_ = true;
  if (worker_.joinable()) worker_.join();
}

void ProjectionRunner::SetCheckpoint(std::uint64_t position) {
  std::vector<Waiter> reached;
  {
    std::lock_guard lock(mutex_);
    checkpoint_.store(position);
    const auto end = waiters_.upper_bound(position);
    for (auto it = waiters_.begin(); it != end; ++it) reached.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  advanced_.notify_all();
  for (Waiter& waiter : reached) waiter.callback(position);
}

Result<std::optional<std::uint64_t>> ProjectionRunner::WhenReached(std::uint64_t position,
                                                                   ReachedCallback callback) {
  std::lock_guard lock(mutex_);
  if (checkpoint_.load() >= position || failure_.has_value()) return std::nullopt;
  if (waiters_.size() >= kQueryWaitersMax) {
    return Fail(ErrorKind::kOverloaded, "too_many_waiters",
                std::to_string(kQueryWaitersMax) + " queries already wait for projection " +
                    std::string(projection_.Name()));
  }
  const std::uint64_t id = next_waiter_id_++;
  waiters_.emplace(position, Waiter{id, std::move(callback)});
  return std::optional<std::uint64_t>(id);
}

void ProjectionRunner::CancelWait(std::uint64_t waiter_id) {
  ReachedCallback dropped;  // Destroyed outside the lock.
  std::lock_guard lock(mutex_);
  for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
    if (it->second.id == waiter_id) {
      dropped = std::move(it->second.callback);
      waiters_.erase(it);
      return;
    }
  }
}

void ProjectionRunner::DropWaiters() {
  std::multimap<std::uint64_t, Waiter> dropped;
  std::lock_guard lock(mutex_);
  dropped.swap(waiters_);
}

void ProjectionRunner::FailWaiters() {
  std::multimap<std::uint64_t, Waiter> failed;
  {
    std::lock_guard lock(mutex_);
    failed.swap(waiters_);
  }
  for (auto& [position, waiter] : failed) waiter.callback(checkpoint_.load());
}

Result<bool> ProjectionRunner::Step() {
  const std::uint64_t from = checkpoint_.load() + 1;
  auto events = source_.ReadFrom(from, options_.batch_events_max);
  if (!events) return std::unexpected(events.error());
  if (events->empty()) return false;
  // Bounded memory: past the limit the cache starts over (and reads fall back to RocksDB).
  if (cache_.entries.size() > kProjectionCacheEntriesMax) cache_ = ViewCache{};
  ViewWriter view(view_db_, view_family_, cache_);
  for (const StoredEvent& stored : *events) {
    // The source hands out events from `from` on, gapless; anything else is a broken source.
    LEDGER_ASSERT(stored.event.envelope.position == from + (&stored - events->data()));
    if (auto applied = projection_.Apply(stored.event, view); !applied) {
      return std::unexpected(applied.error());
    }
  }
  if (auto finished = projection_.FinishBatch(view); !finished) {
    return std::unexpected(finished.error());
  }
  const std::uint64_t last = events->back().event.envelope.position;
  std::string checkpoint;
  AppendBigEndian64(last, &checkpoint);
  view.Put(kCheckpointKey, checkpoint);
  if (options_.crash_before_write_for_testing && options_.crash_before_write_for_testing()) {
    stopping_ = true;
    return false;
  }
  // No fsync: the view can always be rebuilt from the log, and view + checkpoint are one atomic
  // write, so after a crash the projection resumes from a consistent (maybe older) checkpoint.
  rocksdb::Status status = view_db_.Write(rocksdb::WriteOptions(), &view.Finish());
  if (!status.ok()) return std::unexpected(StorageError(status, "writing a projection batch"));
  view.CommitToCache();
  projection_.BatchCommitted(last);
  events_applied_.Add(events->size());
  if (storage_failed_) {
    std::fprintf(stderr, "ledgerd: projection %.*s resumed at %llu\n",
                 static_cast<int>(projection_.Name().size()), projection_.Name().data(),
                 static_cast<unsigned long long>(last));
    storage_failed_ = false;
  }
  SetCheckpoint(last);
  return true;
}

Result<std::uint64_t> ProjectionRunner::CatchUp() {
  LEDGER_ASSERT(!worker_.joinable());
  if (auto loaded = LoadCheckpoint(); !loaded) return std::unexpected(loaded.error());
  while (true) {
    auto stepped = Step();
    if (!stepped) return std::unexpected(stepped.error());
    if (!*stepped) return checkpoint_.load();
  }
}

void ProjectionRunner::Loop() {
  while (!stopping_) {
    const std::uint64_t head =
        source_.WaitForHeadAbove(checkpoint_.load(), kProjectionIdleWaitUs);
    source_head_.store(head);
    if (head <= checkpoint_.load()) continue;
    auto stepped = Step();
    if (!stepped && stepped.error().kind == ErrorKind::kUnavailable) {
      RetryAfterStorageFailure(stepped.error());
      continue;
    }
    if (!stepped) {
      std::fprintf(stderr, "ledgerd: projection %.*s stopped at %llu: %s\n",
                   static_cast<int>(projection_.Name().size()), projection_.Name().data(),
                   static_cast<unsigned long long>(checkpoint_.load()),
                   stepped.error().message.c_str());
      {
        std::lock_guard lock(mutex_);
        failure_ = stepped.error();
      }
      advanced_.notify_all();
      FailWaiters();
      return;
    }
  }
}

void ProjectionRunner::RetryAfterStorageFailure(const Error& error) {
  // Logged once per outage, not per attempt.
  if (!storage_failed_) {
    std::fprintf(stderr,
                 "ledgerd: projection %.*s paused at %llu: %s (%s); retrying every %lld ms\n",
                 static_cast<int>(projection_.Name().size()), projection_.Name().data(),
                 static_cast<unsigned long long>(checkpoint_.load()), error.message.c_str(),
                 error.code.c_str(),
                 static_cast<long long>(options_.storage_retry_interval.count()));
    storage_failed_ = true;
  }
  storage_retries_.Add();
  const auto until = std::chrono::steady_clock::now() + options_.storage_retry_interval;
  while (!stopping_ && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        until - std::chrono::steady_clock::now(), std::chrono::milliseconds(50)));
  }
  // The dropped batch may have changed the projection's memory (Apply, FinishBatch): start over
  // from what the view holds. A failed reload is retried the same way.
  if (auto loaded = LoadCheckpoint(); !loaded) storage_failed_ = true;
}

std::uint64_t ProjectionRunner::WaitFor(std::uint64_t position, std::int64_t timeout_us) const {
  std::unique_lock lock(mutex_);
  advanced_.wait_for(lock, std::chrono::microseconds(timeout_us),
                     [&] { return checkpoint_.load() >= position || failure_.has_value(); });
  return checkpoint_.load();
}

std::optional<Error> ProjectionRunner::Failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

}  // namespace ledger::projections
