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
//   "m/" + high 16 bits of the id, 2 bytes big-endian
//                                 -> roaring_bitmap_portable_serialize of the chunk's members
//                                    (run-optimized); absent = no member (never stored empty).
//   "d/chunks"                    -> the chunk directory: format byte 1, then the high 16 bits
//                                    of every stored chunk, 2 bytes big-endian each, ascending.
// Load reads the directory instead of iterating the family: a hashed memtable would have to be
// copied whole into a sorted list for an iterator.
//
// Memory: two bitmaps, the worker's working copy and the readers' published copy.
#pragma once

#include <cstdint>
#include <optional>
#include <roaring/roaring.hh>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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

class HoldersProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "holders";
  // Chunks are keyed by the high 16 bits of a user id.
  static constexpr std::uint32_t kChunkCount = 1u << 16;

  HoldersProjection() = default;
  HoldersProjection(const HoldersProjection&) = delete;
  HoldersProjection& operator=(const HoldersProjection&) = delete;

  [[nodiscard]] std::string_view Name() const override { return kName; }
  // Worker thread only. Updates the per-user balances and counts in the view and the working
  // bitmap; kCorruption if a stored value does not decode or a balance would overflow.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;
  // Worker thread only. Rebuilds both bitmaps and the published position from the view (one
  // RocksDB snapshot) and forgets any unwritten batch. kUnavailable on a storage error,
  // kCorruption if the directory or a chunk does not decode or a chunk holds foreign ids.
  [[nodiscard]] Status Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) override;
  // Worker thread only. Writes the chunks the batch changed (deletes emptied ones) and, if the
  // set of stored chunks changed, the directory.
  [[nodiscard]] Status FinishBatch(ViewWriter& view) override;
  // Worker thread only. Publishes the batch's chunks and `checkpoint` to readers, atomically.
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
  void MarkDirty(std::uint32_t user);
  void ResetWorkerState();

  // --- Worker thread only. ---
  Roaring working_;
  std::vector<bool> chunk_stored_ = std::vector<bool>(kChunkCount);  // Has an "m/" key.
  std::vector<bool> chunk_dirty_ = std::vector<bool>(kChunkCount);
  std::vector<std::uint16_t> dirty_chunks_;
  // FinishBatch's chunks, waiting for BatchCommitted: (high bits, members).
  std::vector<std::pair<std::uint16_t, Roaring>> finished_chunks_;
  std::string balance_key_;  // Scratch keys: no allocation per posting once warm.
  std::string count_key_;

  // --- Published: guarded by mutex_. ---
  mutable std::shared_mutex mutex_;
  Roaring published_;
  std::uint64_t published_position_ = 0;
};

}  // namespace ledger::projections
