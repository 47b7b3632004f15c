// ledger-replay rebuild: builds projections from position 0 with the server's own code
// (ReadModels::MakeProjection + ProjectionRunner::CatchUp) into a new view database, reading the
// log once for all of them (ReplayOnce).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>

#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "projections/projection_runner.h"
#include "replay/audit.h"

namespace ledger::replay {
namespace {

using projections::EventSource;
using projections::ProjectionId;
using projections::ReadModels;

constexpr std::uint64_t kConsumerDone = std::numeric_limits<std::uint64_t>::max();

// Events 1..end of a log, read once by one reader thread in batches and handed to several
// consumers, each asking for the positions it needs next. A batch is dropped once every
// consumer asked for a position past it; the reader holds at most kReplayWindowEvents.
class SharedLog {
 public:
  SharedLog(const Store& log, std::uint64_t end, std::size_t consumers, std::size_t window_events)
      : log_(log),
        end_(end),
        window_events_(std::max(window_events, kReplayBatchEventsMax)),
        wanted_(consumers, 1) {}

  // The reader thread's body: returns when every event is read, every consumer is done, or an
  // error stopped the pass.
  void RunReader();
  // Up to `limit` events from `position` on (at most to the end of the batch holding it), for
  // `consumer`, which declares by asking that it is done with every earlier position. Blocks
  // until the reader has them. The error that stopped the pass, if any.
  [[nodiscard]] Result<std::vector<StoredEvent>> Read(std::size_t consumer,
                                                      std::uint64_t position, std::size_t limit);
  // `consumer` needs nothing more.
  void Finish(std::size_t consumer);
  // Stops the pass with `error` (the first one wins); readers of the log get it.
  void Stop(Error error);
  // The last position every consumer is done with; waits up to `timeout` for it to pass `seen`.
  [[nodiscard]] std::uint64_t WaitForProgress(std::uint64_t seen,
                                              std::chrono::milliseconds timeout);

 private:
  struct Batch {
    std::uint64_t first = 0;
    std::vector<StoredEvent> events;
  };
  [[nodiscard]] std::uint64_t DoneUpToLocked() const;
  void DropConsumedLocked();

  const Store& log_;
  const std::uint64_t end_;
  const std::size_t window_events_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<const Batch>> batches_;  // Ascending, contiguous.
  std::size_t held_events_ = 0;
  std::vector<std::uint64_t> wanted_;  // Per consumer: the next position it needs.
  std::optional<Error> error_;
};

std::uint64_t SharedLog::DoneUpToLocked() const {
  const std::uint64_t wanted = *std::min_element(wanted_.begin(), wanted_.end());
  return wanted == kConsumerDone ? end_ : std::min(end_, wanted - 1);
}

void SharedLog::DropConsumedLocked() {
  const std::uint64_t done_up_to = DoneUpToLocked();
  while (!batches_.empty()) {
    const Batch& front = *batches_.front();
    if (front.first + front.events.size() - 1 > done_up_to) break;
    held_events_ -= front.events.size();
    batches_.pop_front();
  }
}

void SharedLog::RunReader() {
  std::uint64_t position = 1;
  while (position <= end_) {
    const std::size_t count =
        static_cast<std::size_t>(std::min<std::uint64_t>(kReplayBatchEventsMax, end_ - position + 1));
    auto events = log_.ReadFrom(position, count);
    if (events && events->size() != count) {
      events = Fail(ErrorKind::kCorruption, "corruption",
                    "the log ends before position " + std::to_string(position + count - 1));
    }
    if (!events) return Stop(std::move(events.error()));
    // Consumers see decoded events only: the canonical bytes would be copied for nothing.
    for (StoredEvent& stored : *events) std::string().swap(stored.bytes);
    auto batch = std::make_shared<Batch>(Batch{position, std::move(*events)});
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] {
      DropConsumedLocked();
      return error_.has_value() || DoneUpToLocked() == end_ ||
             held_events_ + count <= window_events_;
    });
    if (error_.has_value() || DoneUpToLocked() == end_) return;
    held_events_ += count;
    batches_.push_back(std::move(batch));
    changed_.notify_all();
    position += count;
  }
}

Result<std::vector<StoredEvent>> SharedLog::Read(std::size_t consumer, std::uint64_t position,
                                                 std::size_t limit) {
  std::shared_ptr<const Batch> batch;
  {
    std::unique_lock lock(mutex_);
    LEDGER_ASSERT(position >= wanted_[consumer] && position <= end_);
    wanted_[consumer] = position;
    changed_.notify_all();  // The reader may have room now; the progress watcher moves on.
    changed_.wait(lock, [&] {
      if (error_.has_value()) return true;
      for (const auto& candidate : batches_) {
        if (position >= candidate->first && position < candidate->first + candidate->events.size()) {
          batch = candidate;
          return true;
        }
      }
      return false;
    });
    if (error_.has_value()) return std::unexpected(*error_);
  }
  // The batch stays alive (shared) and immutable: copy it without the lock.
  std::vector<StoredEvent> events;
  const std::size_t offset = static_cast<std::size_t>(position - batch->first);
  const std::size_t count = std::min(limit, batch->events.size() - offset);
  events.reserve(count);
  for (std::size_t i = offset; i < offset + count; ++i) events.push_back(batch->events[i]);
  return events;
}

void SharedLog::Finish(std::size_t consumer) {
  std::lock_guard lock(mutex_);
  wanted_[consumer] = kConsumerDone;
  changed_.notify_all();
}

void SharedLog::Stop(Error error) {
  std::lock_guard lock(mutex_);
  if (!error_.has_value()) error_ = std::move(error);
  changed_.notify_all();
}

std::uint64_t SharedLog::WaitForProgress(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return error_.has_value() || DoneUpToLocked() > seen; });
  return DoneUpToLocked();
}

// What one consumer sees of the shared pass: events 1..end.
class ConsumerSource final : public EventSource {
 public:
  ConsumerSource(SharedLog& shared, std::size_t consumer, std::uint64_t end)
      : shared_(shared), consumer_(consumer), end_(end) {}
  [[nodiscard]] Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position,
                                                          std::size_t limit) override {
    position = std::max<std::uint64_t>(position, 1);
    if (position > end_ || limit == 0) return std::vector<StoredEvent>();
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(limit, end_ - position + 1));
    return shared_.Read(consumer_, position, limit);
  }
  std::uint64_t WaitForHeadAbove(std::uint64_t, std::int64_t) override { return end_; }

 private:
  SharedLog& shared_;
  std::size_t consumer_;
  std::uint64_t end_;
};

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

Result<std::vector<ReplayJobResult>> ReplayOnce(const Store& log, std::span<const ReplayJob> jobs,
                                                Progress* progress, std::size_t window_events) {
  std::uint64_t end = 0;
  for (const ReplayJob& job : jobs) end = std::max(end, job.end);
  LEDGER_ASSERT(end <= log.HeadPosition());
  SharedLog shared(log, end, jobs.size(), window_events);
  std::vector<ReplayJobResult> results(jobs.size());
  std::vector<std::optional<Error>> errors(jobs.size());
  std::atomic<std::size_t> running{jobs.size()};
  const auto started = std::chrono::steady_clock::now();
  std::thread reader([&] { shared.RunReader(); });
  std::vector<std::thread> workers;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    workers.emplace_back([&, i] {
      ConsumerSource source(shared, i, jobs[i].end);
      auto reached = jobs[i].run(source);
      results[i] = {jobs[i].name, reached.value_or(0),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
                        .count()};
      if (!reached) {
        errors[i] = reached.error();
        shared.Stop(reached.error());
      }
      shared.Finish(i);
      --running;
    });
  }
  std::uint64_t done = 0;
  while (running.load() > 0) {
    const std::uint64_t passed = shared.WaitForProgress(done, std::chrono::milliseconds(100));
    // Progress looks at the clock every 4,096 calls: one call per event passed.
    for (; done < passed; ++done) {
      if (progress != nullptr) progress->Update(done + 1);
    }
  }
  for (std::thread& worker : workers) worker.join();
  reader.join();
  for (auto& error : errors) {
    if (error.has_value()) return std::unexpected(std::move(*error));
  }
  return results;
}

Result<std::vector<ProjectionId>> SelectProjections(std::string_view name) {
  std::vector<ProjectionId> ids;
  std::string known;
  for (std::size_t i = 0; i < projections::kProjectionCount; ++i) {
    const auto id = static_cast<ProjectionId>(i);
    known += std::string(ReadModels::Name(id)) + ", ";
    if (name.empty() || name == "all" || name == ReadModels::Name(id)) ids.push_back(id);
  }
  if (ids.empty()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                "unknown projection '" + std::string(name) + "'; known: " + known + "all");
  }
  return ids;
}

ReplayJob RebuildJob(ProjectionId id, std::uint64_t end, rocksdb::DB& view_db,
                     rocksdb::ColumnFamilyHandle& family) {
  return ReplayJob{
      .name = std::string(ReadModels::Name(id)),
      .end = end,
      .run = [id, &view_db, &family](EventSource& source) -> Result<std::uint64_t> {
        std::unique_ptr<projections::Projection> projection = ReadModels::MakeProjection(id);
        Metrics metrics;
        projections::ProjectionRunner runner(source, view_db, family, *projection, metrics);
        return runner.CatchUp();
      }};
}

Result<std::unique_ptr<Store>> OpenFreshViewStore(const std::string& path) {
  std::error_code error;
  if (std::filesystem::exists(path, error)) {
    if (!std::filesystem::is_directory(path, error) ||
        !std::filesystem::is_empty(path, error)) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                  path + " exists and is not an empty directory; give a new or empty one");
    }
  } else if (!std::filesystem::create_directories(path, error)) {
    return Fail(ErrorKind::kUnavailable, "io_error",
                "cannot create " + path + ": " + error.message());
  }
  return Store::Open({.path = path,
                      .extra_column_families = ReadModels::ColumnFamilies(),
                      .point_lookup_families = ReadModels::PointLookupFamilies()});
}

std::string JsonQuoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

namespace {

struct RebuildSummary {
  std::string data_dir;
  std::string out_dir;
  std::uint64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;
  std::vector<ReplayJobResult> projections;
};

constexpr double kRebuildEventsPerSecondTarget = 500'000;

double Rate(std::uint64_t events, double seconds) {
  return seconds > 0 ? static_cast<double>(events) / seconds : 0;
}

void PrintSummary(const RebuildSummary& summary, bool json) {
  const double rate = Rate(summary.events, summary.seconds);
  if (json) {
    std::printf("{\"verb\":\"rebuild\",\"data\":%s,\"out\":%s,\"events\":%llu,\"seconds\":%.3f,"
                "\"events_per_second\":%.0f,\"cpu_seconds\":%.3f,\"projections\":[",
                JsonQuoted(summary.data_dir).c_str(), JsonQuoted(summary.out_dir).c_str(),
                static_cast<unsigned long long>(summary.events), summary.seconds, rate,
                summary.cpu_seconds);
    for (const ReplayJobResult& result : summary.projections) {
      std::printf("%s{\"name\":%s,\"checkpoint\":%llu,\"seconds\":%.3f,\"events_per_second\":%.0f}",
                  &result == summary.projections.data() ? "" : ",",
                  JsonQuoted(result.name).c_str(), static_cast<unsigned long long>(result.position),
                  result.seconds, Rate(result.position, result.seconds));
    }
    std::printf("]}\n");
    return;
  }
  std::printf("rebuilt %zu projection(s) from events 1..%llu of %s into %s\n",
              summary.projections.size(), static_cast<unsigned long long>(summary.events),
              summary.data_dir.c_str(), summary.out_dir.c_str());
  std::printf("  %-12s %12s %10s %12s\n", "projection", "checkpoint", "seconds", "events/s");
  for (const ReplayJobResult& result : summary.projections) {
    std::printf("  %-12s %12llu %10.2f %12.0f\n", result.name.c_str(),
                static_cast<unsigned long long>(result.position), result.seconds,
                Rate(result.position, result.seconds));
  }
  std::printf("  %-12s %12llu %10.2f %12.0f  (target >= %.0f events/s: %s)\n", "all",
              static_cast<unsigned long long>(summary.events), summary.seconds, rate,
              kRebuildEventsPerSecondTarget, rate >= kRebuildEventsPerSecondTarget ? "met" : "not met");
  std::printf("  one pass over the log feeds every projection concurrently; a projection's "
              "seconds run until it finished. CPU %.2f s (%.2f us per event)\n",
              summary.cpu_seconds,
              summary.events == 0 ? 0 : summary.cpu_seconds * 1e6 / static_cast<double>(summary.events));
}

}  // namespace

int RunRebuild(std::span<char* const> args) {
  constexpr std::string_view kWithValue[] = {"--data", "--projection", "--out"};
  constexpr std::string_view kSwitches[] = {"--json"};
  auto flags = ParseFlags(args, kWithValue, kSwitches);
  if (flags && (!flags->Has("--data") || !flags->Has("--out") || !flags->Has("--projection"))) {
    flags = Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                 "rebuild needs --data DIR --projection NAME|all --out DIR");
  }
  auto ids = flags ? SelectProjections(flags->Get("--projection"))
                   : Result<std::vector<ProjectionId>>(std::unexpected(flags.error()));
  if (!ids) {
    std::fprintf(stderr, "ledger-replay rebuild: %s\n", ids.error().message.c_str());
    return kExitUsage;
  }
  RebuildSummary summary{.data_dir = flags->Get("--data"), .out_dir = flags->Get("--out")};
  const bool json = flags->Has("--json");
  auto audit = AuditStore::Open(summary.data_dir);
  if (!audit) {
    std::fprintf(stderr, "ledger-replay rebuild: %s\n", audit.error().message.c_str());
    return kExitCannotRun;
  }
  auto view = OpenFreshViewStore(summary.out_dir);
  if (!view) {
    std::fprintf(stderr, "ledger-replay rebuild: %s\n", view.error().message.c_str());
    return view.error().kind == ErrorKind::kInvalidArgument ? kExitUsage : kExitCannotRun;
  }
  summary.events = (*audit)->store().HeadPosition();
  std::vector<ReplayJob> jobs;
  for (const ProjectionId id : *ids) {
    rocksdb::ColumnFamilyHandle* family =
        (*view)->ColumnFamily(projections::ColumnFamilyName(ReadModels::Name(id)));
    LEDGER_ASSERT(family != nullptr);
    jobs.push_back(RebuildJob(id, summary.events, *(*view)->db(), *family));
  }
  Progress progress("rebuild", summary.events, json);
  const double cpu_before = CpuSeconds();
  auto results = ReplayOnce((*audit)->store(), jobs, &progress);
  if (!results) {
    std::fprintf(stderr, "ledger-replay rebuild: %s\n", results.error().message.c_str());
    return results.error().kind == ErrorKind::kCorruption ? kExitFinding : kExitCannotRun;
  }
  // The runner writes without sync (a server's view can always be rebuilt); this one is the
  // product, so make it durable before saying it is done.
  if (rocksdb::Status synced = (*view)->db()->FlushWAL(/*sync=*/true); !synced.ok()) {
    std::fprintf(stderr, "ledger-replay rebuild: syncing %s: %s\n", summary.out_dir.c_str(),
                 synced.ToString().c_str());
    return kExitCannotRun;
  }
  summary.seconds = progress.ElapsedSeconds();
  summary.cpu_seconds = CpuSeconds() - cpu_before;
  progress.Finish(summary.events);
  summary.projections = std::move(*results);
  PrintSummary(summary, json);
  return kExitOk;
}

}  // namespace ledger::replay
