// A projection: a read model built by applying the log's events in order. The runtime
// (projection_runner.h) feeds it events from an EventSource and writes its view changes together
// with its checkpoint in one atomic RocksDB write, so a crash can neither skip nor double-apply.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/snapshot.h>
#include <rocksdb/write_batch.h>

#include "ledger/event.h"
#include "ledger/status.h"
#include "ledger/store.h"

namespace ledger::projections {

// Where a projection's events come from: the local log (StoreEventSource) or, on a read
// replica, a stream of verified events from elsewhere.
class EventSource {
 public:
  virtual ~EventSource() = default;
  // Up to `limit` events from `position` on, in order, each checked (hash, chain, gaplessness).
  [[nodiscard]] virtual Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position,
                                                                  std::size_t limit) = 0;
  // Blocks until an event after `position` exists or `timeout_us` passes; returns the head.
  virtual std::uint64_t WaitForHeadAbove(std::uint64_t position, std::int64_t timeout_us) = 0;
};

// The local log as an event source. Thread-safe.
class StoreEventSource final : public EventSource {
 public:
  explicit StoreEventSource(const Store& store) : store_(store) {}
  [[nodiscard]] Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position,
                                                          std::size_t limit) override {
    return store_.ReadFrom(position, limit);
  }
  std::uint64_t WaitForHeadAbove(std::uint64_t position, std::int64_t timeout_us) override {
    return store_.WaitForHeadAbove(position, timeout_us);
  }

 private:
  const Store& store_;
};

// The committed state of a view, kept in memory by its runner so applying an event rarely reads
// RocksDB. `complete` means it holds every key of the view (the view was empty when it started
// and nothing was evicted): a key it lacks is absent, with no read at all.
struct ViewCache {
  // Transparent hashing: lookups by string_view allocate nothing.
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  std::unordered_map<std::string, std::optional<std::string>, KeyHash, std::equal_to<>> entries;
  bool complete = false;
};

// The view changes of one batch of events. Reads see the batch's own earlier writes first, then
// the committed cache, then the database. Owned by the runner; valid during one Apply call.
class ViewWriter {
 public:
  ViewWriter(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family, ViewCache& cache)
      : db_(db), family_(family), cache_(cache) {}
  // The current value of `key` (nullopt if absent). kUnavailable on a storage error.
  [[nodiscard]] Result<std::optional<std::string>> Get(std::string_view key);
  void Put(std::string_view key, std::string_view value);
  // Put for keys Apply never reads back (append-only records such as entries): written with the
  // batch but kept out of the runner's cache, which then holds only what Apply looks up. Each
  // such key is put once and never passed to Get, Put or Delete (a complete cache would answer
  // "absent" for it).
  void PutWriteOnly(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // The batch's final value of every changed key, as one WriteBatch. Call once, after the last
  // Put/Delete.
  [[nodiscard]] rocksdb::WriteBatch& Finish();
  // After the batch was written: its changes become committed state in the cache.
  void CommitToCache();

 private:
  rocksdb::DB& db_;
  rocksdb::ColumnFamilyHandle& family_;
  ViewCache& cache_;
  rocksdb::WriteBatch batch_;
  std::map<std::string, std::optional<std::string>, std::less<>> pending_;
};

class Projection {
 public:
  virtual ~Projection() = default;
  // Stable name: metrics label, API name, and (with the "projection." prefix) its column family.
  [[nodiscard]] virtual std::string_view Name() const = 0;
  // Applies one event. Deterministic: the same events give the same view, live or in a replay.
  // An error stops the projection (it is a bug or corruption, not a user error).
  [[nodiscard]] virtual Status Apply(const Event& event, ViewWriter& view) = 0;

  // Lifecycle of state a projection keeps in memory beyond the ViewWriter (e.g. the holders
  // bitmap). All are called on the runner's worker thread (or CatchUp's caller), in this order:
  // Load once before the first batch (and again after a dropped batch); per batch, Apply for each
  // event, then FinishBatch, then BatchCommitted once the batch is written with its checkpoint.
  //
  // Reads the projection's committed in-memory state from its column family.
  [[nodiscard]] virtual Status Load(rocksdb::DB& /*db*/, rocksdb::ColumnFamilyHandle& /*family*/) {
    return Ok();
  }
  // The last chance to add view changes to the batch (e.g. dirty bitmap chunks).
  [[nodiscard]] virtual Status FinishBatch(ViewWriter& /*view*/) { return Ok(); }
  // The batch ending at `checkpoint` is durable in the view: publish it to readers.
  virtual void BatchCommitted(std::uint64_t /*checkpoint*/) {}
};

// Read options that read at `snapshot` (a rocksdb::ManagedSnapshot releases itself).
[[nodiscard]] inline rocksdb::ReadOptions ReadAt(rocksdb::ManagedSnapshot& snapshot) {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot.snapshot();
  return options;
}

// The checkpoint stored in `family` as seen by `snapshot` (nullptr: the latest); 0 if the
// projection never wrote one. kUnavailable on a storage error, kCorruption if malformed. Read
// functions take it from the same snapshot as their data, to say which position they reflect.
[[nodiscard]] Result<std::uint64_t> ReadCheckpoint(rocksdb::DB& db,
                                                   rocksdb::ColumnFamilyHandle& family,
                                                   const rocksdb::Snapshot* snapshot);

// The column family that holds `projection`'s view and checkpoint.
[[nodiscard]] std::string ColumnFamilyName(std::string_view projection_name);
// The key, inside a projection's column family, of its checkpoint (never a view key: views use
// printable prefixes).
inline constexpr std::string_view kCheckpointKey{"\0checkpoint", 11};

}  // namespace ledger::projections
