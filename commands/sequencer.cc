#include "commands/sequencer.h"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <optional>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "commands/decide.h"
#include "commands/write_state.h"

namespace ledger::commands {
namespace {

using Pending = Submission;

// How one command of a batch ends, delivered after the batch's write.
struct Completion {
  CommandCallback done;
  // An accepted command's event, the position of the event a repeat replays, or a rejection.
  std::variant<Event, std::uint64_t, Error> outcome;
  Hash fingerprint{};  // Of an accepted command, for its idempotency record.
};

// A batch the sequencer decided: events with positions but no hashes yet. The durability thread
// encodes, chains and writes it, which splits the per-command work between the two threads.
struct DecidedBatch {
  std::uint64_t sequence = 0;
  std::size_t event_count = 0;
  std::vector<Completion> completions;
  std::vector<std::pair<std::string, std::string>> state_puts;
};

struct InFlightKey {
  Hash fingerprint;
  std::uint64_t position;
  std::uint64_t batch_sequence;
};

// The answer to a command whose batch failed to write; keeps the store's code ("disk_full" or
// "storage_unavailable").
Error StorageFailed(const Error& cause) {
  return MakeError(ErrorKind::kUnavailable,
                   cause.kind == ErrorKind::kUnavailable ? cause.code : "storage_unavailable",
                   "the batch holding this command could not be made durable: " + cause.message);
}

// The refusal of a command submitted while the write path is stopped.
Error WritesStoppedError(const Error& cause) {
  if (cause.code == "disk_full") {
    return MakeError(ErrorKind::kUnavailable, "disk_full",
                     "the disk is full: writes are stopped until space is freed, then resume by "
                     "themselves; retry later (" + cause.message + ")");
  }
  return MakeError(ErrorKind::kUnavailable, "storage_unavailable",
                   "a write failed: writes are stopped until the database resumes, which is "
                   "retried by itself; retry later (" + cause.message + ")");
}

double SecondsSince(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
}

}  // namespace

class Sequencer::Impl {
 public:
  Impl(Store& store, Clock& clock, Metrics& metrics, SequencerOptions options)
      : store_(store),
        clock_(clock),
        metrics_(metrics),
        options_(options),
        batch_commands_(metrics.GetHistogram("ledger_batch_commands",
                                             "Commands decided per group-committed batch.",
                                             SizeBuckets())),
        decide_seconds_(metrics.GetHistogram(
            "ledger_decide_seconds", "Time the sequencer spends deciding one batch.",
            LatencyBucketsSeconds())),
        commit_seconds_(metrics.GetHistogram(
            "ledger_commit_seconds", "Latency of one synced WriteBatch (write + fsync).",
            LatencyBucketsSeconds())),
        events_appended_(
            metrics.GetCounter("ledger_events_appended_total", "Events made durable.")),
        commit_failures_(metrics.GetCounter("ledger_commit_failures_total",
                                            "Batches whose synced write failed.")),
        disk_full_(metrics.GetGauge(
            "ledger_disk_full", "1 while writes are stopped because the disk is full.")),
        writes_stopped_(metrics.GetGauge(
            "ledger_writes_stopped",
            "1 while a failed write (disk full or another storage error) stops the write path.")),
        writes_stopped_total_(metrics.GetCounter(
            "ledger_writes_stopped_total", "Times a failed write stopped the write path.")),
        resumes_(metrics.GetCounter("ledger_storage_resumes_total",
                                    "Times the write path resumed after a failed write.")),
        resume_attempts_(metrics.GetCounter(
            "ledger_storage_resume_attempts_total",
            "Attempts to resume the database while the write path was stopped.")) {
    metrics.SetGaugeFunction("ledger_command_queue_depth", "Commands waiting for the sequencer.",
                             [this] { return static_cast<double>(QueueDepth()); });
    metrics.SetGaugeFunction("ledger_head_position", "Position of the last durable event.",
                             [this] { return static_cast<double>(store_.HeadPosition()); });
  }

  ~Impl() {
    Stop();
    metrics_.RemoveGaugeFunction("ledger_command_queue_depth");
    metrics_.RemoveGaugeFunction("ledger_head_position");
  }

  Status Start() {
    if (auto loaded = LoadState(); !loaded) return loaded;
    sequencer_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-sequence");
      SequencerLoop();
    });
    durability_thread_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ledger-durable");
      DurabilityLoop();
    });
    return Ok();
  }

  Status Submit(Command command, CommandCallback done) {
    Submission submission{std::move(command), std::move(done)};
    return SubmitAll(std::span<Submission>(&submission, 1));
  }

  Status SubmitAll(std::span<Submission> submissions) {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) {
      return Fail(ErrorKind::kUnavailable, "shutting_down", "the ledger is shutting down");
    }
    if (storage_failure_) return std::unexpected(WritesStoppedError(*storage_failure_));
    if (queue_.size() + submissions.size() > options_.queue_depth_max) {
      return Fail(ErrorKind::kOverloaded, "overloaded",
                  "the command queue is full (" + std::to_string(options_.queue_depth_max) +
                      " commands); retry later");
    }
    const bool was_empty = queue_.empty();
    for (Submission& submission : submissions) queue_.push_back(std::move(submission));
    if (was_empty && !queue_.empty()) queue_ready_.notify_one();
    return Ok();
  }

  void Stop() {
    {
      std::lock_guard lock(queue_mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    queue_ready_.notify_all();
    if (sequencer_thread_.joinable()) sequencer_thread_.join();
    {
      std::lock_guard lock(pipe_mutex_);
      sequencer_done_ = true;
    }
    pipe_changed_.notify_all();
    if (durability_thread_.joinable()) durability_thread_.join();
  }

  std::size_t QueueDepth() const {
    std::lock_guard lock(queue_mutex_);
    return queue_.size();
  }

  bool WritesStopped() const {
    std::lock_guard lock(queue_mutex_);
    return storage_failure_.has_value();
  }

 private:
  Status LoadState() {
    state_.Clear();
    in_flight_keys_.clear();
    auto status = store_.ForEachState(
        [this](std::string_view key, std::string_view value) { return state_.Load(key, value); });
    if (!status) return status;
    std::vector<std::pair<std::string, std::string>> ignored;
    state_.TakeDirty(&ignored);
    decided_position_ = store_.HeadPosition();
    return Ok();
  }

  // --- Sequencer thread -----------------------------------------------------------------------

  void SequencerLoop() {
    std::deque<Pending> taken;
    while (true) {
      {
        std::unique_lock lock(queue_mutex_);
        // A failed write wakes the sequencer too: it resumes the store even with nothing queued.
        queue_ready_.wait(lock,
                          [&] { return stopping_ || !queue_.empty() || storage_failure_; });
        if (queue_.empty() && stopping_ && !storage_failure_) return;  // Stopping and drained.
        taken.swap(queue_);
      }
      if (!RecoverIfFailed(taken)) return;  // Stopping with the write path stopped.
      while (!taken.empty()) {
        WaitForPipeSpace();
        if (!RecoverIfFailed(taken)) return;
        PushBatch(DecideBatch(taken));
      }
    }
  }

  void WaitForPipeSpace() {
    std::unique_lock lock(pipe_mutex_);
    pipe_changed_.wait(lock, [&] { return pipe_.size() < kBatchesInFlightMax; });
    PurgeDurableKeys(durable_sequence_);
  }

  // After a failed write the in-memory state may be ahead of the disk: waits until nothing is in
  // flight, resumes the store (retrying every storage_resume_interval, answering what is queued
  // meanwhile with the failure), then reloads the state from it (TigerBeetle's habit: the disk
  // is the truth). True when writes may go on; false when the sequencer is stopping and the
  // store did not resume (everything queued has been answered then).
  bool RecoverIfFailed(std::deque<Pending>& taken) {
    Error failure;
    {
      std::unique_lock lock(pipe_mutex_);
      if (!failed_) return true;
      pipe_changed_.wait(lock, [&] { return pipe_.empty(); });
      failure = failure_;
    }
    const auto started = std::chrono::steady_clock::now();
    while (true) {
      resume_attempts_.Add();
      if (store_.Resume()) break;
      // A full disk may take hours to clear: nothing queued waits for it.
      FailAll(taken, failure);
      std::unique_lock lock(queue_mutex_);
      std::deque<Pending> queued;
      queued.swap(queue_);
      lock.unlock();
      FailAll(queued, failure);
      lock.lock();
      if (stopping_) return false;
      queue_ready_.wait_for(lock, options_.storage_resume_interval, [&] { return stopping_; });
    }
    auto status = LoadState();
    LEDGER_ASSERT(status.has_value());
    {
      std::lock_guard lock(pipe_mutex_);
      failed_ = false;
    }
    {
      std::lock_guard lock(queue_mutex_);
      storage_failure_.reset();
    }
    disk_full_.Set(0);
    writes_stopped_.Set(0);
    resumes_.Add();
    std::fprintf(stderr,
                 "ledgerd: writes resumed after %.1f s stopped (%s); head position %llu; "
                 "accepting commands again\n",
                 SecondsSince(started), failure.code.c_str(),
                 static_cast<unsigned long long>(store_.HeadPosition()));
    return true;
  }

  static void FailAll(std::deque<Pending>& pending, const Error& failure) {
    for (Pending& one : pending) one.done(std::unexpected(WritesStoppedError(failure)));
    pending.clear();
  }

  // Durability thread: the first failed write stops the write path (Submit refuses from now on,
  // the sequencer wakes to resume the store).
  void StopWrites(const Error& failure) {
    {
      std::lock_guard lock(pipe_mutex_);
      if (failed_) return;
      failed_ = true;
      failure_ = failure;
    }
    {
      std::lock_guard lock(queue_mutex_);
      storage_failure_ = failure;
    }
    queue_ready_.notify_all();
    writes_stopped_total_.Add();
    writes_stopped_.Set(1);
    if (failure.code == "disk_full") disk_full_.Set(1);
    std::fprintf(stderr,
                 "ledgerd: writes stopped at head position %llu: %s (%s); commands answer 503 %s "
                 "until the database resumes, retried every %lld ms\n",
                 static_cast<unsigned long long>(store_.HeadPosition()), failure.message.c_str(),
                 failure.code.c_str(), failure.code == "disk_full" ? "disk_full"
                                                                  : "storage_unavailable",
                 static_cast<long long>(options_.storage_resume_interval.count()));
  }

  void PurgeDurableKeys(std::uint64_t durable_sequence) {
    while (!key_order_.empty() && key_order_.front().first <= durable_sequence) {
      auto it = in_flight_keys_.find(key_order_.front().second);
      if (it != in_flight_keys_.end() && it->second.batch_sequence <= durable_sequence) {
        in_flight_keys_.erase(it);
      }
      key_order_.pop_front();
    }
  }

  std::unique_ptr<DecidedBatch> DecideBatch(std::deque<Pending>& taken) {
    auto batch = std::make_unique<DecidedBatch>();
    batch->sequence = ++batch_sequence_;
    const auto started = std::chrono::steady_clock::now();
    const TimestampUs now_us = clock_.NowUs();
    const std::size_t count = std::min(taken.size(), options_.batch_commands_max);
    batch->completions.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      DecideOne(std::move(taken.front()), now_us, *batch);
      taken.pop_front();
    }
    state_.TakeDirty(&batch->state_puts);
    batch_commands_.Observe(static_cast<double>(count));
    decide_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return batch;
  }

  void DecideOne(Pending pending, TimestampUs now_us, DecidedBatch& batch) {
    std::string key = IdempotencyKey(pending.command);
    Hash fingerprint{};
    if (!key.empty()) {
      fingerprint = Fingerprint(pending.command);
      auto earlier = FindEarlier(key);
      if (!earlier) {
        batch.completions.push_back({std::move(pending.done), earlier.error()});
        return;
      }
      if (earlier->has_value()) {
        if ((*earlier)->fingerprint != fingerprint) {
          batch.completions.push_back(
              {std::move(pending.done),
               MakeError(ErrorKind::kConflict, "idempotency_conflict",
                         "idempotency key '" + key + "' was already used for a different "
                         "command (event " + std::to_string((*earlier)->position) + ")")});
        } else {
          batch.completions.push_back({std::move(pending.done), (*earlier)->position});
        }
        return;
      }
    }
    auto decision = Decide(state_, pending.command, now_us);
    if (!decision) {
      batch.completions.push_back({std::move(pending.done), std::move(decision.error())});
      return;
    }
    Event event = MakeEvent(std::move(*decision), pending.command.context, key, now_us,
                            ++decided_position_);
    state_.Apply(event);
    ++batch.event_count;
    if (!key.empty()) {
      in_flight_keys_[key] = InFlightKey{fingerprint, event.envelope.position, batch.sequence};
      key_order_.emplace_back(batch.sequence, key);
    }
    batch.completions.push_back({std::move(pending.done), std::move(event), fingerprint});
  }

  // The earlier command recorded under `key`, if any: in flight first, then on disk.
  Result<std::optional<IdempotencyRecord>> FindEarlier(const std::string& key) {
    if (auto it = in_flight_keys_.find(key); it != in_flight_keys_.end()) {
      return std::optional<IdempotencyRecord>(
          IdempotencyRecord{it->second.fingerprint, it->second.position});
    }
    return store_.GetIdempotency(key);
  }

  Event MakeEvent(Decision decision, const CommandContext& context, const std::string& key,
                  TimestampUs now_us, std::uint64_t position) {
    Event event;
    Envelope& envelope = event.envelope;
    envelope.position = position;
    envelope.stream_version = state_.StreamVersion(decision.stream) + 1;
    envelope.stream = std::move(decision.stream);
    envelope.type = PayloadType(decision.payload);
    envelope.recorded_at_us = now_us;
    envelope.client_id = context.client_id;
    envelope.idempotency_key = key;
    envelope.correlation_id = context.correlation_id;
    envelope.causation_id = context.causation_id;
    event.postings = std::move(decision.postings);
    event.payload = std::move(decision.payload);
    return event;
  }

  void PushBatch(std::unique_ptr<DecidedBatch> batch) {
    {
      std::lock_guard lock(pipe_mutex_);
      pipe_.push_back(std::move(batch));
    }
    pipe_changed_.notify_all();
  }

  // --- Durability thread ----------------------------------------------------------------------

  void DurabilityLoop() {
    while (true) {
      std::unique_ptr<DecidedBatch> batch;
      std::optional<Error> failure;
      {
        std::unique_lock lock(pipe_mutex_);
        pipe_changed_.wait(lock, [&] { return sequencer_done_ || !pipe_.empty(); });
        if (pipe_.empty()) return;
        batch = std::move(pipe_.front());
        if (failed_) failure = failure_;
      }
      // A batch decided after a failed one was decided on state that never became durable.
      Status written = failure ? Status(std::unexpected(MakeError(
                                     ErrorKind::kUnavailable, failure->code,
                                     "an earlier batch failed to write: " + failure->message)))
                               : Write(*batch);
      if (!written) {
        commit_failures_.Add();
        StopWrites(written.error());
      }
      Complete(*batch, written);
      {
        std::lock_guard lock(pipe_mutex_);
        pipe_.pop_front();
        durable_sequence_ = batch->sequence;
      }
      pipe_changed_.notify_all();
    }
  }

  // Encodes and chains the batch's events (continuing from the store's head: every earlier
  // batch is durable or failed by now), writes them with the state changes in one synced
  // WriteBatch.
  Status Write(DecidedBatch& batch) {
    if (batch.event_count == 0) return Ok();
    auto started = std::chrono::steady_clock::now();
    AppendBatch append = store_.NewBatch();
    for (Completion& completion : batch.completions) {
      if (auto* event = std::get_if<Event>(&completion.outcome)) {
        append.AddEvent(*event, completion.fingerprint);
      }
    }
    for (const auto& [key, value] : batch.state_puts) append.PutState(key, value);
    Status status = store_.Commit(append);
    commit_seconds_.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (status) events_appended_.Add(batch.event_count);
    return status;
  }

  void Complete(DecidedBatch& batch, const Status& written) {
    for (Completion& completion : batch.completions) {
      // Rejections fail too: they were decided on state that never became durable.
      if (!written) {
        completion.done(std::unexpected(StorageFailed(written.error())));
        continue;
      }
      if (auto* event = std::get_if<Event>(&completion.outcome)) {
        completion.done(CommandOutcome{false, std::move(*event)});
      } else if (auto* position = std::get_if<std::uint64_t>(&completion.outcome)) {
        auto stored = store_.Read(*position);
        if (stored) {
          completion.done(CommandOutcome{true, std::move(stored->event)});
        } else {
          completion.done(std::unexpected(stored.error()));
        }
      } else {
        completion.done(std::unexpected(std::move(std::get<Error>(completion.outcome))));
      }
    }
  }

  Store& store_;
  Clock& clock_;
  Metrics& metrics_;
  SequencerOptions options_;
  Histogram& batch_commands_;
  Histogram& decide_seconds_;
  Histogram& commit_seconds_;
  Counter& events_appended_;
  Counter& commit_failures_;
  Gauge& disk_full_;
  Gauge& writes_stopped_;
  Counter& writes_stopped_total_;
  Counter& resumes_;
  Counter& resume_attempts_;

  // Sequencer thread only.
  WriteState state_;
  std::uint64_t decided_position_ = 0;
  std::uint64_t batch_sequence_ = 0;
  std::unordered_map<std::string, InFlightKey> in_flight_keys_;
  std::deque<std::pair<std::uint64_t, std::string>> key_order_;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_ready_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  // Set while a failed write keeps the write path stopped: Submit refuses with it.
  std::optional<Error> storage_failure_;

  std::mutex pipe_mutex_;
  std::condition_variable pipe_changed_;
  std::deque<std::unique_ptr<DecidedBatch>> pipe_;
  std::uint64_t durable_sequence_ = 0;
  bool failed_ = false;
  Error failure_;  // The write that set failed_.
  bool sequencer_done_ = false;

  std::thread sequencer_thread_;
  std::thread durability_thread_;
};

Sequencer::Sequencer(Store& store, Clock& clock, Metrics& metrics, SequencerOptions options)
    : impl_(std::make_unique<Impl>(store, clock, metrics, options)) {}
Sequencer::~Sequencer() = default;
Status Sequencer::Start() { return impl_->Start(); }
Status Sequencer::Submit(Command command, CommandCallback done) {
  return impl_->Submit(std::move(command), std::move(done));
}
Status Sequencer::SubmitAll(std::span<Submission> submissions) {
  return impl_->SubmitAll(submissions);
}
void Sequencer::Stop() { impl_->Stop(); }
std::size_t Sequencer::QueueDepth() const { return impl_->QueueDepth(); }
bool Sequencer::WritesStopped() const { return impl_->WritesStopped(); }

}  // namespace ledger::commands
