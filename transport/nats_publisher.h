// The NATS JetStream publisher: tails the log like a projection and publishes every event, in
// order, exactly once, to the JetStream stream (message format: transport/nats_common.h).
//
// Exactly once, across crashes of ledgerd and outages of NATS:
//  - On every (re)start and after every error it reads the stream's last message and goes on
//    from the position after the one it carries (Ledger-Position), so nothing is published twice
//    however long the outage, and nothing is skipped.
//  - Each message expects the stream's last sequence to be the one before it (JetStream's
//    Nats-Expected-Last-Sequence): if one message of a pipelined window is lost, every later one
//    is refused instead of stored after a gap. A refusal makes it re-read the stream's end.
//  - Nats-Msg-Id lets JetStream drop a re-sent message inside the duplicate window.
// Publishing is asynchronous with at most `in_flight_max` messages awaiting their ack. The
// outbox cursor (the last acknowledged position) is kept in RocksDB, advanced only on acks; it
// is used when the stream holds no message to read the position from.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/metrics.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "transport/nats_common.h"

namespace ledger::transport {

struct NatsPublisherOptions {
  NatsStreamOptions stream;
  PayloadFormat format = PayloadFormat::kCapnp;
  std::size_t in_flight_max = 4096;  // Messages awaiting an ack, 1..kNatsInFlightMax.
  std::size_t read_batch = 1024;     // Events read from the log at a time.
  // No ack for this long while messages are in flight: give up on them and re-read the
  // stream's end.
  std::int64_t ack_timeout_ms = 5000;
  std::int64_t retry_wait_ms = 250;  // Between attempts while NATS is unreachable.
};

// The publisher's column family (StoreOptions::extra_column_families): "cursor" -> BE64.
inline constexpr std::string_view kOutboxFamily = "outbox";

struct PublisherStatus {
  std::uint64_t acked = 0;  // Last position the stream acknowledged.
  std::uint64_t head = 0;   // The log's head when asked.
  // "connecting", "publishing", "disconnected" (retrying) or "failed" (stopped for good).
  std::string state;
  std::optional<Error> error;  // Why it is not publishing ("failed": what stopped it).
};

class NatsPublisher {
 public:
  // `store` (opened with kOutboxFamily) and `metrics` must outlive the publisher.
  NatsPublisher(Store& store, Metrics& metrics, NatsPublisherOptions options);
  ~NatsPublisher();
  NatsPublisher(const NatsPublisher&) = delete;
  NatsPublisher& operator=(const NatsPublisher&) = delete;

  // Checks the options, reads the outbox cursor and starts the publishing thread. NATS need not
  // be reachable: it connects (and reconnects) in the background while ledgerd takes commands.
  [[nodiscard]] Status Start();
  // Stops after the messages in flight are acknowledged (or `ack_timeout_ms`). Idempotent.
  void Stop();

  [[nodiscard]] PublisherStatus Snapshot() const;
  // Blocks until the stream acknowledged `position` or `timeout_us` passed; returns the last
  // acknowledged position.
  std::uint64_t WaitForAcked(std::uint64_t position, std::int64_t timeout_us) const;

 private:
  struct Session;
  void Loop();
  // One connection's life: connect, find the stream's end, publish until an error.
  void RunSession();
  [[nodiscard]] Status Resync(Session& session);
  [[nodiscard]] Status PublishAvailable(Session& session);
  [[nodiscard]] Result<NatsMsgPtr> BuildMessage(const RawEvent& raw);
  void SaveCursor(bool force);
  void SetState(std::string_view state, std::optional<Error> error = std::nullopt);
  void NoteAcked(std::uint64_t position);

  static void OnAck(jsCtx* js, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* self);
  static void OnDisconnected(natsConnection* connection, void* self);
  static void OnReconnected(natsConnection* connection, void* self);

  Store& store_;
  Metrics& metrics_;
  const NatsPublisherOptions options_;
  rocksdb::ColumnFamilyHandle* outbox_ = nullptr;
  std::string ledger_id_;
  // "<prefix>.<EventType>", indexed by EventType ("" for values that name no type).
  std::vector<std::string> subjects_;

  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> acked_{0};
  std::atomic<bool> publish_failed_{false};  // An ack carried an error: resync.
  std::atomic<bool> connection_changed_{false};  // Disconnected or reconnected: resync.
  std::atomic<bool> connected_{false};
  std::atomic<std::int64_t> last_ack_us_{0};
  std::uint64_t saved_cursor_ = 0;     // Publishing thread only.
  std::int64_t saved_cursor_at_us_ = 0;  // Publishing thread only.

  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string state_ = "connecting";  // Guarded by mutex_.
  std::optional<Error> error_;        // Guarded by mutex_.

  Counter& published_;
  Counter& acks_;
  Counter& duplicates_;
  Counter& resyncs_;
  Counter& errors_;
  std::thread thread_;
};

}  // namespace ledger::transport
