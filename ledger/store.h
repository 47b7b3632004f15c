// The RocksDB event log and the write-side tables, in one database with one column family each:
//   events       BE64(position) -> hash(32) || canonical event bytes (see event_codec.h)
//   streams      stream || 0x00 || BE64(stream_version) -> BE64(position)
//   idempotency  key -> fingerprint(32) || BE64(position)
//   state        write-side entities (commands/write_state.h owns the format)
//   meta         "head" -> BE64(head position) || head hash(32)
//                "ledger_id" -> 32 lowercase hex characters naming this log (random at creation)
// plus column families that projections register (see projections/). Everything one batch of
// commands produces is written in ONE WriteBatch with sync=true.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger {

// An event as read from the log, with the exact stored bytes it was hashed over.
struct StoredEvent {
  Event event;
  std::string bytes;  // Canonical single-segment Cap'n Proto message, hash unset.
};

// An event as stored, not decoded: for relays that forward its bytes (the NATS publisher).
struct RawEvent {
  std::uint64_t position = 0;
  EventType type = EventType::kAccountOpened;
  Hash hash{};
  std::string bytes;  // Canonical single-segment Cap'n Proto message, hash unset.
};

struct IdempotencyRecord {
  Hash fingerprint{};
  std::uint64_t position = 0;
};

struct StoreOptions {
  std::string path;
  // Open read-only (audits of a stopped data dir). Writes fail with kInternal.
  bool read_only = false;
  // Extra column families the caller owns (projections). Created if missing.
  std::vector<std::string> extra_column_families;
  // Those of the extra column families that are only ever read by whole key (never iterated in
  // order): they get a hashed memtable and bloom filters, which makes random-key writes cheaper.
  std::vector<std::string> point_lookup_families;
  // Block cache for reads, bytes.
  std::size_t block_cache_bytes = 256ull << 20;
  // If not empty: open as a RocksDB secondary instance of the database at `path`, keeping its own
  // info log and state here. It reads a database that a running ledgerd keeps writing (audits
  // without stopping the server); CatchUpWithPrimary() moves it to the primary's latest state.
  // Implies read_only.
  std::string secondary_path;
  // Audits only: open even when the head recorded in meta disagrees with the last stored event
  // (a deleted or altered last event), so a verifier can locate the damage. HeadPosition() and
  // HeadHash() are then meta's head as recorded, unchecked.
  bool skip_head_check = false;
};

// Events one commit appends, plus the write-side changes that go with them.
class AppendBatch {
 public:
  // Appends `event`: fills in prev_hash and hash (chaining from the previous event of this batch
  // or the head the batch started from), writes it, its stream index entry and, if `idempotency_key` is not
  // empty, its idempotency record. The event's position must be the next one.
  void AddEvent(Event& event, const Hash& fingerprint);
  // A write-side state entry (commands/ owns keys and values).
  void PutState(std::string_view key, std::string_view value);
  // Appends an event exactly as another copy of this log stored it (read replicas): `bytes` are
  // its canonical bytes and `hash` the hash that copy recorded. Checks that the event decodes,
  // is the next position, links to the previous event (prev_hash) and that
  // SHA-256(prev_hash || bytes) == hash; writes the bytes unchanged with its stream index entry
  // and, for an idempotency key, a record whose fingerprint is all zero (replicas never decide
  // commands). kCorruption when a check fails (nothing is added then). Returns the event.
  [[nodiscard]] Result<Event> AddReplicated(std::string_view bytes, const Hash& hash);
  [[nodiscard]] std::size_t event_count() const { return event_count_; }

 private:
  friend class Store;
  AppendBatch(std::uint64_t head_position, const Hash& head_hash,
              rocksdb::ColumnFamilyHandle* events, rocksdb::ColumnFamilyHandle* streams,
              rocksdb::ColumnFamilyHandle* idempotency, rocksdb::ColumnFamilyHandle* state);

  rocksdb::WriteBatch batch_;
  std::uint64_t last_position_;
  Hash last_hash_;
  std::size_t event_count_ = 0;
  std::string scratch_key_;
  std::string scratch_value_;
  rocksdb::ColumnFamilyHandle* events_;
  rocksdb::ColumnFamilyHandle* streams_;
  rocksdb::ColumnFamilyHandle* idempotency_;
  rocksdb::ColumnFamilyHandle* state_;
};

class Store {
 public:
  // Opens (creating if missing, unless read-only) the database at options.path and checks that
  // the head recorded in meta matches the last stored event.
  [[nodiscard]] static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // --- Writing (one writer thread at a time) ------------------------------------------------
  // A batch whose first event follows the current head.
  [[nodiscard]] AppendBatch NewBatch();
  // Writes the batch with sync=true, then publishes the new head. kUnavailable on an I/O error:
  // code "disk_full" when the disk is full, else "storage_unavailable"; nothing of the batch is
  // visible then, and RocksDB refuses every later write until Resume() succeeds.
  [[nodiscard]] Status Commit(AppendBatch& batch);
  // After a failed write: asks RocksDB to resume writing and, when it does, re-reads the head
  // from disk (checking it against the last event). Ok once writes are possible again (also when
  // nothing had failed). kUnavailable "storage_recovering" while RocksDB's own recovery runs (from
  // a full disk its SstFileManager polls the free space every 5 s and resumes once the largest
  // write buffer fits; this call then only observes it), "disk_full" or "storage_unavailable"
  // when resuming failed. Call from the writer thread, with no Commit running.
  [[nodiscard]] Status Resume();

  // --- Reading (any thread) ------------------------------------------------------------------
  [[nodiscard]] std::uint64_t HeadPosition() const {
    return head_position_.load(std::memory_order_acquire);
  }
  [[nodiscard]] Hash HeadHash() const;
  // The name of this log: 32 hex characters chosen at random when the store was created (empty
  // for a read-only open of a store that predates it). Downstream copies carry it (NATS message
  // ids) so a stream of one ledger is never mistaken for another's.
  [[nodiscard]] std::string LedgerId() const;
  // Read replicas adopt the id of the ledger they copy. Only while the log is empty
  // (kInternal otherwise); durable when it returns.
  [[nodiscard]] Status SetLedgerId(std::string_view ledger_id);
  // Up to `limit` events from `position` onward, in order, each checked: its stored hash is
  // SHA-256(prev_hash || bytes), and each links to the one before it.
  [[nodiscard]] Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position,
                                                          std::size_t limit) const;
  // ReadFrom's events with the same checks (position, link, hash) but not decoded beyond the
  // envelope fields the checks need.
  [[nodiscard]] Result<std::vector<RawEvent>> ReadRawFrom(std::uint64_t position,
                                                          std::size_t limit) const;
  // One event (kNotFound past the head), its hash checked.
  [[nodiscard]] Result<StoredEvent> Read(std::uint64_t position) const;
  // Up to `limit` events of `stream` with stream_version >= from_version.
  [[nodiscard]] Result<std::vector<StoredEvent>> ReadStream(std::string_view stream,
                                                            std::uint64_t from_version,
                                                            std::size_t limit) const;
  [[nodiscard]] Result<std::optional<IdempotencyRecord>> GetIdempotency(
      std::string_view key) const;
  // Calls `visit` for every write-side state entry, in key order.
  [[nodiscard]] Status ForEachState(
      const std::function<Status(std::string_view key, std::string_view value)>& visit) const;

  // Blocks until the head passes `position` or `timeout_us` elapses; returns the head.
  std::uint64_t WaitForHeadAbove(std::uint64_t position, std::int64_t timeout_us) const;

  // Tests only: while `fault` returns true, Commit writes nothing and fails with kUnavailable, as
  // it would on an I/O error. Set it before writers start (not synchronized).
  void SetCommitFaultForTesting(std::function<bool()> fault) { commit_fault_ = std::move(fault); }
  // Tests only: while `fault` returns true, Resume fails with kUnavailable "storage_recovering",
  // as it does while RocksDB waits for free space. Set it before writers start.
  void SetResumeFaultForTesting(std::function<bool()> fault) { resume_fault_ = std::move(fault); }

  // Secondary instances only: catches up with the primary's writes and reloads the head.
  // kInternal if the store is not a secondary, kUnavailable if RocksDB fails.
  [[nodiscard]] Status CatchUpWithPrimary();
  [[nodiscard]] rocksdb::DB* db() const { return db_.get(); }
  // A column family by name (the fixed ones or an extra one); nullptr if unknown.
  [[nodiscard]] rocksdb::ColumnFamilyHandle* ColumnFamily(std::string_view name) const;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  Store() = default;
  [[nodiscard]] Status LoadHead();
  [[nodiscard]] Status LoadLedgerId();
  // The stored hash of the event before `position` (all zero before position 1), unchecked.
  [[nodiscard]] Result<Hash> StoredHashBefore(std::uint64_t position) const;
  [[nodiscard]] Status SetLedgerIdUnchecked(std::string_view ledger_id);

  std::string path_;
  bool read_only_ = false;
  bool secondary_ = false;
  bool skip_head_check_ = false;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> cf_names_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_handles_;
  rocksdb::ColumnFamilyHandle* events_ = nullptr;
  rocksdb::ColumnFamilyHandle* streams_ = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency_ = nullptr;
  rocksdb::ColumnFamilyHandle* state_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  std::function<bool()> commit_fault_;
  std::function<bool()> resume_fault_;
  std::atomic<std::uint64_t> head_position_{0};
  mutable std::mutex head_mutex_;
  mutable std::condition_variable head_advanced_;
  Hash head_hash_{};  // Guarded by head_mutex_.
  std::string ledger_id_;  // Guarded by head_mutex_.
};

// An iterator over every key of `family` in key order. Families with a hashed memtable (the
// point-lookup ones) iterate in order only with total_order_seek, which this sets.
[[nodiscard]] std::unique_ptr<rocksdb::Iterator> NewKeyOrderIterator(
    rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family, rocksdb::ReadOptions options = {});

// Big-endian fixed-width encodings used in keys (so byte order is numeric order).
void AppendBigEndian64(std::uint64_t value, std::string* out);
[[nodiscard]] std::uint64_t ReadBigEndian64(const char* bytes);

}  // namespace ledger
