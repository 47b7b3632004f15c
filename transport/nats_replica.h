// A read replica's feed: consumes the writer's JetStream stream with a durable pull consumer and
// appends each event, checked, to the replica's own copy of the log; the projections and the
// query API then run on that copy exactly as on the writer (ledgerd --role reader).
//
// Every message must carry the next position, link to the event before it (prev_hash) and hash
// to its Ledger-Hash: otherwise the replica stops following (state "failed") and keeps serving
// what it has. Messages are acknowledged only after the batch that holds them is synced to disk;
// redelivered ones (at or below the local head) are acknowledged and skipped. After a restart it
// resumes from its own head: if the durable consumer is ahead of it (a restored data dir), the
// consumer is recreated from the next position, once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "transport/nats_common.h"

namespace ledger::transport {

struct NatsReplicaOptions {
  NatsStreamOptions stream;
  // The durable consumer's name: one per replica (two replicas sharing one would split the
  // stream between them).
  std::string consumer = "ledger-replica";
  std::size_t fetch_batch = kNatsFetchBatchDefault;  // 1..kNatsFetchBatchMax.
  std::int64_t fetch_wait_ms = 500;
  std::int64_t retry_wait_ms = 250;
};

struct ReplicaStatus {
  std::uint64_t position = 0;  // The replica's log head.
  std::uint64_t pending = 0;   // Messages the consumer still has to deliver (last known).
  // "connecting", "following", "waiting_for_stream", "disconnected" (retrying), "failed".
  std::string state;
  std::optional<Error> error;  // Why it is not following ("failed": what stopped it).
};

class NatsReplica {
 public:
  // `store` must be the replica's own (never the writer's) and outlive this.
  NatsReplica(Store& store, Metrics& metrics, NatsReplicaOptions options);
  ~NatsReplica();
  NatsReplica(const NatsReplica&) = delete;
  NatsReplica& operator=(const NatsReplica&) = delete;

  // Checks the options and starts following in the background (NATS need not be up yet).
  [[nodiscard]] Status Start();
  // Stops after the batch in progress. Idempotent.
  void Stop();
  [[nodiscard]] ReplicaStatus Snapshot() const;

 private:
  struct Session;
  void Loop();
  void RunSession();
  [[nodiscard]] Status Subscribe(Session& session, bool recreate);
  // Appends one fetched batch; acks it once synced. kConflict/kCorruption refuse the stream.
  [[nodiscard]] Status Apply(Session& session, natsMsgList& messages);
  void SetState(std::string_view state, std::optional<Error> error = std::nullopt);
  void Wait(std::int64_t ms);

  Store& store_;
  Metrics& metrics_;
  const NatsReplicaOptions options_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> pending_{0};
  // The head at which the consumer was last recreated (a second gap there is a real one).
  std::optional<std::uint64_t> recreated_at_;  // Following thread only.

  mutable std::mutex mutex_;
  std::condition_variable stop_;
  std::string state_ = "connecting";  // Guarded by mutex_.
  std::optional<Error> error_;        // Guarded by mutex_.

  Counter& applied_;
  Counter& redelivered_;
  Counter& errors_;
  std::thread thread_;
};

}  // namespace ledger::transport
