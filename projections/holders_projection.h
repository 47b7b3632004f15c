// The holders read model: the wallet article's first-level cache. A CRoaring bitmap of the users
// (accounts named exactly "user:<n>", see UserIdOf) that hold any non-zero balance of any asset,
// so a wallet request for a user outside the bitmap is answered "empty" without a store read.
// A negative balance (an account allowed to go negative) counts as holding an asset.
//
// View layout (column family ColumnFamilyName(kName)); every key is read whole, so the family
// may be a StoreOptions::point_lookup_families entry:
//   "b/" + account + "\0" + asset -> balance, 8 bytes big-endian two's complement; absent = 0.
//   "n/" + account                -> number of assets with a non-zero balance, 4 bytes
//                                    big-endian; absent = 0 (never stored as 0).
// The bitmap is a snapshot in chunks plus a journal of the changes since that snapshot:
//   "m/" + high 16 bits of the id, 2 bytes big-endian
//                                 -> roaring_bitmap_portable_serialize of the chunk's members
//                                    (run-optimized); absent = no member (never stored empty).
//   "d/chunks"                    -> the chunk directory: format byte 1, then the high 16 bits
//                                    of every stored chunk, 2 bytes big-endian each, ascending.
//   "j/" + sequence, 8 bytes big-endian
//                                 -> a journal entry, the net bitmap change of one batch: format
//                                    byte 1, the size of `entered` (4 bytes big-endian), then the
//                                    portable serializations of `entered` (ids that were not
//                                    members before the batch and are after it) and `left` (the
//                                    reverse). Disjoint, not both empty.
//   "d/journal"                   -> the journal's bounds: format byte 1, then 8 bytes
//                                    big-endian each: the first sequence, the next sequence (the
//                                    entries are first..next-1, every one present) and the sum
//                                    of their value sizes; absent = empty journal from 0.
// The bitmap is the chunks' union with the entries applied in sequence order (entered added,
// left removed). A batch that changes the bitmap writes one entry and the bounds; once the
// journal would pass its limit (HoldersProjectionOptions) the batch instead compacts: it rewrites
// every chunk dirtied since the last compaction (deleting emptied ones), the directory if the set
// of chunks changed, deletes the entries and writes empty bounds. All of it goes in the batch's
// one write with the checkpoint, so a crash leaves the old layout or the new one. Written bytes
// are proportional to the changes (a compaction writes at most the bitmap's size, after at least
// a quarter of that in entries), not to the chunks a batch touches.
// Load reads the directory and the bounds instead of iterating the family: a hashed memtable
// would have to be copied whole into a sorted list for an iterator.
//
// Memory: two bitmaps, the worker's working copy and the readers' published copy, plus the
// runner's view cache (which holds the values of the keys written, journal entries included).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <roaring/roaring.hh>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/limits.h"
#include "projections/projection.h"

namespace ledger::projections {

// The user id of `account` if it is exactly "user:<n>" with n a canonical unsigned decimal (no
// sign, no leading zero except "0" itself) at most 4294967295; nullopt for any other account.
[[nodiscard]] std::optional<std::uint32_t> UserIdOf(std::string_view account);

// One answer of the holders cache, with the log position it reflects: every event at or below
// `position` is in it, none above.
struct HoldersAnswer {
  bool has_assets = false;
  std::uint64_t position = 0;
};

// The holders journal's bounds, the "d/journal" value: entries first..next-1, `bytes` the sum of
// their value sizes.
struct HoldersJournalBounds {
  std::uint64_t first = 0;
  std::uint64_t next = 0;
  std::uint64_t bytes = 0;
};

struct HoldersProjectionOptions {
  // A batch compacts the journal instead of adding an entry when the journal's value bytes would
  // pass max(journal_bytes_min, a quarter of the bitmap's portable serialized size), or its
  // entries journal_entries_max (0: every batch that changes the bitmap compacts, i.e. rewrites
  // its chunks). Tests lower them to force compactions.
  std::size_t journal_bytes_min = kHoldersJournalBytesMin;
  std::size_t journal_entries_max = kHoldersJournalEntriesMax;
  // Tests only: called by FinishBatch when the batch compacts the journal.
  std::function<void()> on_compaction_for_testing;
};

class HoldersProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "holders";
  // Chunks are keyed by the high 16 bits of a user id.
  static constexpr std::uint32_t kChunkCount = 1u << 16;

  explicit HoldersProjection(HoldersProjectionOptions options = {})
      : options_(std::move(options)) {}
  HoldersProjection(const HoldersProjection&) = delete;
  HoldersProjection& operator=(const HoldersProjection&) = delete;

  [[nodiscard]] std::string_view Name() const override { return kName; }
  // Worker thread only. Updates the per-user balances and counts in the view and the working
  // bitmap; kCorruption if a stored value does not decode or a balance would overflow.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;
  // Worker thread only. Rebuilds both bitmaps and the published position from the view (one
  // RocksDB snapshot): the chunks, then the journal entries in sequence order. Forgets any
  // unwritten batch. kUnavailable on a storage error; kCorruption if the directory, the bounds,
  // a chunk or an entry does not decode, a chunk holds foreign ids, a chunk or an entry in the
  // recorded range is missing, an entry adds a member or removes a non-member, or the entries'
  // sizes do not add up to the recorded total.
  [[nodiscard]] Status Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) override;
  // Worker thread only. If the batch changed the bitmap: writes its journal entry and the
  // journal's bounds, or compacts (see the view layout above).
  [[nodiscard]] Status FinishBatch(ViewWriter& view) override;
  // Worker thread only. Applies the batch's net changes to the readers' bitmap and publishes
  // `checkpoint` as its position, atomically.
  void BatchCommitted(std::uint64_t checkpoint) override;

  // --- Readers: any thread, concurrently with the worker. ---
  // Whether `user` holds any non-zero balance as of the published position.
  [[nodiscard]] HoldersAnswer Check(std::uint32_t user) const;
  // Check for every id of `users` (result[i] answers users[i]) under one lock, so all answers
  // reflect the same position, stored in `*position` (must not be null).
  [[nodiscard]] std::vector<bool> CheckMany(std::span<const std::uint32_t> users,
                                            std::uint64_t* position) const;
  // The published position (0 before the first Load or batch).
  [[nodiscard]] std::uint64_t Position() const;
  // Users in the published bitmap.
  [[nodiscard]] std::uint64_t Cardinality() const;
  // BitmapMemoryBytes of the published bitmap. The working copy costs about as much again.
  [[nodiscard]] std::size_t MemoryBytes() const;
  // Heap bytes of `bitmap`, a lower bound: the container payloads as roaring_bitmap_statistics
  // counts them (2 bytes per array value, 8 KiB per bitset, about 4 bytes per run) plus the
  // container index (a key, a pointer and a type code per allocated slot). Leaves out container
  // headers (16 bytes each), array capacity slack and malloc overhead. Not
  // roaring_bitmap_size_in_bytes, which is a serialized size. Thread-safe for a bitmap nobody
  // modifies meanwhile.
  [[nodiscard]] static std::size_t BitmapMemoryBytes(const Roaring& bitmap);

 private:
  // Adds `delta` to the balance of `asset` held by `account` (user id `user`) and keeps the
  // account's non-zero count and the working bitmap in step.
  [[nodiscard]] Status AddToBalance(std::string_view account, std::uint32_t user,
                                    std::string_view asset, std::int64_t delta,
                                    std::uint64_t position, ViewWriter& view);
  // Adds `step` (+1 or -1) to the account's non-zero asset count; on 0 <-> 1 the user enters or
  // leaves the working bitmap.
  [[nodiscard]] Status AddToCount(std::string_view account, std::uint32_t user, int step,
                                  std::uint64_t position, ViewWriter& view);
  // The chunk of `high` differs, or may, from its stored value.
  void MarkChunkDirty(std::uint16_t high);
  // Whether a journal entry of `entry_bytes` would take the journal past its limits.
  [[nodiscard]] bool JournalFullWith(std::size_t entry_bytes) const;
  void AppendToJournal(const std::string& entry, ViewWriter& view);
  // Rewrites the dirty chunks (and the directory if needed) and empties the journal.
  void Compact(ViewWriter& view);
  void ResetWorkerState();
  [[nodiscard]] Status LoadChunks(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                  rocksdb::ManagedSnapshot& snapshot);
  [[nodiscard]] Status LoadJournal(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                   rocksdb::ManagedSnapshot& snapshot);

  const HoldersProjectionOptions options_;

  // --- Worker thread only. ---
  Roaring working_;
  std::vector<bool> chunk_stored_ = std::vector<bool>(kChunkCount);  // Has an "m/" key.
  // Chunks changed since the last compaction (the journal holds their changes).
  std::vector<bool> chunk_dirty_ = std::vector<bool>(kChunkCount);
  std::vector<std::uint16_t> dirty_chunks_;
  HoldersJournalBounds journal_;  // As of the last FinishBatch (or Load).
  // The net change of the batch being applied: disjoint; entered are members of working_, left
  // are not.
  Roaring batch_entered_;
  Roaring batch_left_;
  // FinishBatch's net change, waiting for BatchCommitted.
  Roaring finished_entered_;
  Roaring finished_left_;
  std::string balance_key_;  // Scratch keys: no allocation per posting once warm.
  std::string count_key_;

  // --- Published: guarded by mutex_. ---
  mutable std::shared_mutex mutex_;
  Roaring published_;
  std::uint64_t published_position_ = 0;
};

}  // namespace ledger::projections
