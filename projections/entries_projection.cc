#include "projections/entries_projection.h"

#include <rocksdb/snapshot.h>

#include <memory>

#include "ledger/limits.h"
#include "projections/internal/encoding.h"

namespace ledger::projections {
namespace {

using internal::AppendBigEndian32;
using internal::AppendFixed;
using internal::AppendSized;
using internal::ReadBigEndian32;
using internal::ReadFixed;
using internal::ReadSized;

constexpr char kFormat = 1;
// A cursor is the hex of BE64(position) BE32(index) of the last entry returned.
constexpr std::size_t kCursorBytes = 12;
constexpr std::size_t kKeySuffixBytes = 12;

// "e/<account>\0" or, with an asset, "x/<account>\0<asset>\0".
void AppendPrefix(std::string_view account, std::string_view asset, std::string* out) {
  out->append(asset.empty() ? "e/" : "x/").append(account).push_back('\0');
  if (!asset.empty()) out->append(asset).push_back('\0');
}

// Complemented so that forward iteration goes from the newest entry to the oldest.
void AppendOrder(std::uint64_t position, std::uint32_t index, std::string* out) {
  AppendBigEndian64(~position, out);
  AppendBigEndian32(~index, out);
}

void BalanceKey(std::string_view account, std::string_view asset, std::string* out) {
  out->assign("b/").append(account).push_back('\0');
  out->append(asset);
}

std::unexpected<Error> Corrupt(std::string message) {
  return Fail(ErrorKind::kCorruption, "corruption", "entries projection: " + std::move(message));
}

std::unexpected<Error> StorageError(const rocksdb::Status& status) {
  return Fail(ErrorKind::kUnavailable, "storage_unavailable",
              "reading the entries projection: " + status.ToString());
}

// Decodes an entry from its key suffix (order bytes) and value.
bool DecodeEntry(std::string_view suffix, std::string_view value, Entry* entry) {
  if (suffix.size() != kKeySuffixBytes) return false;
  entry->position = ~ReadBigEndian64(suffix.data());
  entry->index = ~ReadBigEndian32(suffix.data() + 8);
  std::uint16_t type = 0;
  if (value.empty() || value[0] != kFormat) return false;
  value.remove_prefix(1);
  if (!ReadFixed(&value, &type) || !ReadFixed(&value, &entry->recorded_at_us) ||
      !ReadFixed(&value, &entry->amount) || !ReadFixed(&value, &entry->balance_after) ||
      !ReadSized<std::uint16_t>(&value, &entry->asset) ||
      !ReadSized<std::uint16_t>(&value, &entry->counterparty)) {
    return false;
  }
  entry->type = static_cast<EventType>(type);
  return value.empty();
}

std::string CursorOf(const Entry& entry) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string bytes;
  AppendBigEndian64(entry.position, &bytes);
  AppendBigEndian32(entry.index, &bytes);
  std::string hex;
  for (char byte : bytes) {
    hex.push_back(kDigits[(static_cast<unsigned char>(byte) >> 4) & 0xf]);
    hex.push_back(kDigits[static_cast<unsigned char>(byte) & 0xf]);
  }
  return hex;
}

// The order bytes (complemented, as in keys) the cursor stands for.
Result<std::string> OrderFromCursor(std::string_view cursor) {
  auto invalid = [] {
    return Fail(ErrorKind::kInvalidArgument, "invalid_cursor",
                "cursor is not one returned by this endpoint");
  };
  if (cursor.size() != 2 * kCursorBytes) return invalid();
  std::string bytes;
  for (std::size_t i = 0; i < cursor.size(); i += 2) {
    const int high = HexValue(cursor[i]);
    const int low = HexValue(cursor[i + 1]);
    if (high < 0 || low < 0) return invalid();
    bytes.push_back(static_cast<char>(high * 16 + low));
  }
  const std::uint64_t position = ReadBigEndian64(bytes.data());
  if (position == 0) return invalid();  // Positions start at 1.
  std::string order;
  AppendOrder(position, ReadBigEndian32(bytes.data() + 8), &order);
  return order;
}

// Up to `limit` entries under `prefix` strictly after the order bytes `start` (from the
// newest if empty) into `page`, with its next cursor.
Status ReadPage(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family, rocksdb::ReadOptions options,
                const std::string& prefix, const std::string& start, std::size_t limit,
                EntriesPage* page) {
  std::string upper_bound = prefix;
  upper_bound.back() = '\1';  // Just past every key that starts with the \0-terminated prefix.
  rocksdb::Slice upper_bound_slice(upper_bound);
  options.iterate_upper_bound = &upper_bound_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, &family));
  const std::string seek = prefix + start;
  it->Seek(seek);
  if (!start.empty() && it->Valid() && it->key() == rocksdb::Slice(seek)) it->Next();
  for (; it->Valid(); it->Next()) {
    if (page->entries.size() == limit) {  // One more exists: the page has a successor.
      page->next_cursor = CursorOf(page->entries.back());
      break;
    }
    std::string_view key = it->key().ToStringView();
    Entry& entry = page->entries.emplace_back();
    if (key.size() != prefix.size() + kKeySuffixBytes ||
        !DecodeEntry(key.substr(prefix.size()), it->value().ToStringView(), &entry)) {
      return Corrupt("an entry under '" + prefix.substr(2, prefix.find('\0') - 2) +
                     "' does not decode");
    }
  }
  if (!it->status().ok()) return StorageError(it->status());
  return Ok();
}

}  // namespace

Result<EntriesProjection::Balance*> EntriesProjection::BalanceFor(const std::string& account,
                                                                  const std::string& asset,
                                                                  ViewWriter& view) {
  for (Balance& balance : balances_) {
    if (*balance.account == account && *balance.asset == asset) return &balance;
  }
  BalanceKey(account, asset, &key_);
  auto stored = view.Get(key_);
  if (!stored) return std::unexpected(stored.error());
  std::int64_t value = 0;
  if (stored->has_value()) {
    std::string_view bytes = **stored;
    if (!ReadFixed(&bytes, &value) || !bytes.empty()) {
      return Corrupt("balance of '" + account + "' in " + asset + " does not decode");
    }
  }
  balances_.push_back(Balance{&account, &asset, value});
  return &balances_.back();
}

void EntriesProjection::PutEntry(const Event& event, std::uint32_t index, const Balance& balance,
                                 std::int64_t amount, const std::string& counterparty,
                                 ViewWriter& view) {
  value_.assign(1, kFormat);
  AppendFixed(static_cast<std::uint16_t>(event.envelope.type), &value_);
  AppendFixed(event.envelope.recorded_at_us, &value_);
  AppendFixed(amount, &value_);
  AppendFixed(balance.value, &value_);
  AppendSized<std::uint16_t>(*balance.asset, &value_);
  AppendSized<std::uint16_t>(counterparty, &value_);
  for (std::string_view asset : {std::string_view(), std::string_view(*balance.asset)}) {
    key_.clear();
    AppendPrefix(*balance.account, asset, &key_);
    AppendOrder(event.envelope.position, index, &key_);
    view.PutWriteOnly(key_, value_);
  }
}

Status EntriesProjection::Apply(const Event& event, ViewWriter& view) {
  balances_.clear();
  // Pointers into balances_ stay valid: an event has at most 2 balances per posting.
  balances_.reserve(2 * event.postings.size());
  for (std::uint32_t index = 0; index < event.postings.size(); ++index) {
    const Posting& posting = event.postings[index];
    if (posting.from == posting.to) {
      return Corrupt("posting " + std::to_string(index) + " of event " +
                     std::to_string(event.envelope.position) + " has one account on both sides");
    }
    auto from = BalanceFor(posting.from, posting.asset, view);
    if (!from) return std::unexpected(from.error());
    auto to = BalanceFor(posting.to, posting.asset, view);
    if (!to) return std::unexpected(to.error());
    if (__builtin_sub_overflow((*from)->value, posting.amount, &(*from)->value) ||
        __builtin_add_overflow((*to)->value, posting.amount, &(*to)->value)) {
      return Corrupt("balance overflow at event " + std::to_string(event.envelope.position));
    }
    PutEntry(event, index, **from, -posting.amount, posting.to, view);
    PutEntry(event, index, **to, posting.amount, posting.from, view);
  }
  for (const Balance& balance : balances_) {
    BalanceKey(*balance.account, *balance.asset, &key_);
    value_.clear();
    AppendFixed(balance.value, &value_);
    view.Put(key_, value_);
  }
  return Ok();
}

Result<EntriesPage> EntriesProjection::Read(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                            std::string_view account, std::string_view asset,
                                            std::string_view cursor, std::size_t limit) {
  if (limit == 0 || limit > kEntriesPageMax) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_limit",
                "limit must be 1.." + std::to_string(kEntriesPageMax));
  }
  std::string start;
  if (!cursor.empty()) {
    auto order = OrderFromCursor(cursor);
    if (!order) return std::unexpected(order.error());
    start = std::move(*order);
  }
  rocksdb::ManagedSnapshot snapshot(&db);
  rocksdb::ReadOptions options = ReadAt(snapshot);
  EntriesPage page;
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  page.position = *checkpoint;
  // Ids never hold \0, so such an account or asset has no entries (and must not forge a prefix).
  if (account.find('\0') != account.npos || asset.find('\0') != asset.npos) return page;

  std::string prefix;
  AppendPrefix(account, asset, &prefix);
  if (auto read = ReadPage(db, family, options, prefix, start, limit, &page); !read) {
    return std::unexpected(read.error());
  }
  return page;
}

}  // namespace ledger::projections
