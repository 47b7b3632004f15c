// The entries read model: every posting each account took part in, newest first, with the
// account's running balance of the posting's asset. Serves GET /v1/accounts/{account}/entries.
// Read by ordered iteration: do NOT open its column family as a point-lookup family.
//
// Keys (printable prefixes; account and asset ids never contain \0, which ends them):
//   e/<account>\0 BE64(~position) BE32(~index)          -> entry   (all assets, newest first)
//   x/<account>\0<asset>\0 BE64(~position) BE32(~index) -> entry   (one asset, newest first)
//   b/<account>\0<asset>                                -> int64 balance (running)
// Entry values: format byte 1, type u16, recorded_at i64, amount i64, balance_after i64,
// u16-length-prefixed asset and counterparty (fixed-width fields in host byte order).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

// One posting from one account's point of view.
struct Entry {
  std::uint64_t position = 0;  // Event position.
  std::uint32_t index = 0;     // Posting index within the event.
  EventType type{};
  TimestampUs recorded_at_us = 0;
  std::string asset;
  std::int64_t amount = 0;         // + credit (the account was `to`), - debit (it was `from`).
  std::string counterparty;        // The other side of the posting.
  std::int64_t balance_after = 0;  // The account's balance of `asset` right after this posting.
  bool operator==(const Entry&) const = default;
};

struct EntriesPage {
  std::uint64_t position = 0;  // The projection's checkpoint the page reflects.
  std::vector<Entry> entries;  // Newest first: (position, index) descending.
  std::string next_cursor;     // Pass back for the next (older) page; empty: no older entries.
};

class EntriesProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "entries";
  [[nodiscard]] std::string_view Name() const override { return kName; }
  // Adds one entry per side of each posting; balances follow posting order within the event.
  // kCorruption if a posting names the same account on both sides or a balance overflows
  // (the write side refuses both), kUnavailable on a storage error.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;

  // Up to `limit` entries of `account` (only those in `asset` unless it is empty), newest
  // first, starting strictly after `cursor` (empty: from the newest). Reads the entries and the
  // checkpoint from one snapshot; `position` is that checkpoint, and every entry at or below it
  // is on exactly one page of a cursor walk, even while events are appended (newer entries sort
  // before the first page). An unknown account gives an empty page. Errors: kInvalidArgument
  // "invalid_cursor" (not a cursor this function returned) or "invalid_limit" (outside
  // 1..kEntriesPageMax; callers validate first), kUnavailable "storage_unavailable",
  // kCorruption "corruption". Thread-safe.
  [[nodiscard]] static Result<EntriesPage> Read(rocksdb::DB& db,
                                                rocksdb::ColumnFamilyHandle& family,
                                                std::string_view account, std::string_view asset,
                                                std::string_view cursor, std::size_t limit);

 private:
  // One (account, asset) balance the event being applied touches.
  struct Balance {
    const std::string* account;
    const std::string* asset;
    std::int64_t value;
  };
  [[nodiscard]] Result<Balance*> BalanceFor(const std::string& account, const std::string& asset,
                                            ViewWriter& view);
  void PutEntry(const Event& event, std::uint32_t index, const Balance& balance,
                std::int64_t amount, const std::string& counterparty, ViewWriter& view);

  // Scratch state of Apply (reused to spare allocations; Apply runs on one thread at a time).
  std::vector<Balance> balances_;
  std::string key_;
  std::string value_;
};

}  // namespace ledger::projections
