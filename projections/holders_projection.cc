#include "projections/holders_projection.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <mutex>

#include "projections/internal/encoding.h"

namespace ledger::projections {
namespace {

constexpr std::string_view kUserPrefix = "user:";
constexpr std::size_t kUserIdDigitsMax = 10;  // 4294967295.
constexpr std::string_view kDirectoryKey = "d/chunks";
constexpr char kDirectoryFormat = 1;
constexpr std::string_view kJournalBoundsKey = "d/journal";
constexpr char kJournalBoundsFormat = 1;
constexpr std::size_t kJournalBoundsBytes = 1 + 3 * 8;
constexpr std::string_view kJournalEntryPrefix = "j/";
constexpr char kJournalEntryFormat = 1;
constexpr std::size_t kJournalEntryHeaderBytes = 1 + 4;
// The journal may grow to 1/kBitmapBytesPerJournalByte of the bitmap's serialized size before a
// compaction. A compaction writes at most the bitmap, so one that size triggers writes at most
// about that many times the entry bytes written since the previous one.
constexpr std::size_t kBitmapBytesPerJournalByte = 4;
constexpr std::uint64_t kChunkIds = 1ull << 16;  // Ids per chunk.

Error Corruption(const std::string& what) {
  return MakeError(ErrorKind::kCorruption, "corruption", "holders projection: " + what);
}

Error StorageError(const rocksdb::Status& status, std::string_view what) {
  return MakeError(ErrorKind::kUnavailable, "storage_unavailable",
                   "holders projection: " + std::string(what) + ": " + status.ToString());
}

std::uint16_t HighBits(std::uint32_t user) { return static_cast<std::uint16_t>(user >> 16); }

std::string ChunkKey(std::uint16_t high) {
  std::string key = "m/";
  key.push_back(static_cast<char>(high >> 8));
  key.push_back(static_cast<char>(high & 0xff));
  return key;
}

std::uint16_t ReadBigEndian16(const char* bytes) {
  return static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[0]) << 8) |
                                    static_cast<unsigned char>(bytes[1]));
}

std::string EncodeCount(std::uint32_t count) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(count >> (24 - 8 * i));
  return out;
}

Result<std::uint32_t> DecodeCount(const std::optional<std::string>& value) {
  if (!value) return 0u;
  if (value->size() != 4) return std::unexpected(Corruption("a count is not 4 bytes"));
  std::uint32_t count = 0;
  for (char byte : *value) count = (count << 8) | static_cast<unsigned char>(byte);
  if (count == 0) return std::unexpected(Corruption("a stored count is 0"));
  return count;
}

Result<std::int64_t> DecodeBalance(const std::optional<std::string>& value) {
  if (!value) return std::int64_t{0};
  if (value->size() != 8) return std::unexpected(Corruption("a balance is not 8 bytes"));
  const auto balance = static_cast<std::int64_t>(ReadBigEndian64(value->data()));
  if (balance == 0) return std::unexpected(Corruption("a stored balance is 0"));
  return balance;
}

// The members of `bitmap` whose high 16 bits are `high`.
Roaring ChunkOf(const Roaring& bitmap, std::uint16_t high) {
  Roaring range;
  const std::uint64_t low = std::uint64_t{high} << 16;
  range.addRange(low, low + kChunkIds);
  return bitmap & range;
}

std::string Serialize(const Roaring& chunk) {
  std::string bytes(chunk.getSizeInBytes(/*portable=*/true), '\0');
  LEDGER_ASSERT(chunk.write(bytes.data(), /*portable=*/true) == bytes.size());
  return bytes;
}

// Decodes a portable serialization that must use every byte of `bytes`.
Result<Roaring> Deserialize(std::string_view bytes, const std::string& what) {
  if (roaring_bitmap_portable_deserialize_size(bytes.data(), bytes.size()) != bytes.size()) {
    return std::unexpected(Corruption(what + " does not decode"));
  }
  roaring_bitmap_t* raw = roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (raw == nullptr) return std::unexpected(Corruption(what + " does not decode"));
  return Roaring(raw);  // Takes ownership.
}

// Decodes a stored chunk: it must use every byte, be non-empty and hold only ids of `high`.
Result<Roaring> DeserializeChunk(std::string_view bytes, std::uint16_t high) {
  const std::string what = "chunk " + std::to_string(high);
  auto chunk = Deserialize(bytes, what);
  if (!chunk) return std::unexpected(chunk.error());
  if (chunk->isEmpty() || HighBits(chunk->minimum()) != high ||
      HighBits(chunk->maximum()) != high) {
    return std::unexpected(Corruption(what + " is empty or holds ids of other chunks"));
  }
  return chunk;
}

Result<std::vector<std::uint16_t>> DecodeDirectory(const std::optional<std::string>& value) {
  std::vector<std::uint16_t> chunks;
  if (!value) return chunks;
  if (value->empty() || (*value)[0] != kDirectoryFormat || value->size() % 2 != 1) {
    return std::unexpected(Corruption("the chunk directory does not decode"));
  }
  for (std::size_t i = 1; i < value->size(); i += 2) {
    const std::uint16_t high = ReadBigEndian16(value->data() + i);
    if (!chunks.empty() && high <= chunks.back()) {
      return std::unexpected(Corruption("the chunk directory is not ascending"));
    }
    chunks.push_back(high);
  }
  return chunks;
}

std::string EncodeDirectory(const std::vector<bool>& stored) {
  std::string out(1, kDirectoryFormat);
  for (std::uint32_t high = 0; high < stored.size(); ++high) {
    if (!stored[high]) continue;
    out.push_back(static_cast<char>(high >> 8));
    out.push_back(static_cast<char>(high & 0xff));
  }
  return out;
}

std::string JournalEntryKey(std::uint64_t sequence) {
  std::string key(kJournalEntryPrefix);
  AppendBigEndian64(sequence, &key);
  return key;
}

// One batch's net change, as the "j/" value.
std::string EncodeJournalEntry(const Roaring& entered, const Roaring& left) {
  const std::size_t entered_bytes = entered.getSizeInBytes(/*portable=*/true);
  LEDGER_ASSERT(entered_bytes <= std::numeric_limits<std::uint32_t>::max());
  std::string entry(1, kJournalEntryFormat);
  internal::AppendBigEndian32(static_cast<std::uint32_t>(entered_bytes), &entry);
  entry.append(Serialize(entered));
  entry.append(Serialize(left));
  return entry;
}

struct JournalEntry {
  Roaring entered;
  Roaring left;
};

Result<JournalEntry> DecodeJournalEntry(std::string_view value, std::uint64_t sequence) {
  const std::string what = "journal entry " + std::to_string(sequence);
  if (value.size() < kJournalEntryHeaderBytes || value[0] != kJournalEntryFormat) {
    return std::unexpected(Corruption(what + " does not decode"));
  }
  const std::uint32_t entered_bytes = internal::ReadBigEndian32(value.data() + 1);
  value.remove_prefix(kJournalEntryHeaderBytes);
  if (entered_bytes > value.size()) return std::unexpected(Corruption(what + " does not decode"));
  auto entered = Deserialize(value.substr(0, entered_bytes), what);
  if (!entered) return std::unexpected(entered.error());
  auto left = Deserialize(value.substr(entered_bytes), what);
  if (!left) return std::unexpected(left.error());
  if ((entered->isEmpty() && left->isEmpty()) || entered->intersect(*left)) {
    return std::unexpected(Corruption(what + " is empty or enters and leaves the same id"));
  }
  return JournalEntry{std::move(*entered), std::move(*left)};
}

std::string EncodeJournalBounds(const HoldersJournalBounds& bounds) {
  std::string out(1, kJournalBoundsFormat);
  AppendBigEndian64(bounds.first, &out);
  AppendBigEndian64(bounds.next, &out);
  AppendBigEndian64(bounds.bytes, &out);
  return out;
}

Result<HoldersJournalBounds> DecodeJournalBounds(const std::optional<std::string>& value) {
  if (!value) return HoldersJournalBounds{};
  if (value->size() != kJournalBoundsBytes || (*value)[0] != kJournalBoundsFormat) {
    return std::unexpected(Corruption("the journal bounds do not decode"));
  }
  const HoldersJournalBounds bounds{.first = ReadBigEndian64(value->data() + 1),
                                    .next = ReadBigEndian64(value->data() + 9),
                                    .bytes = ReadBigEndian64(value->data() + 17)};
  if (bounds.first > bounds.next || (bounds.first == bounds.next) != (bounds.bytes == 0)) {
    return std::unexpected(Corruption("the journal bounds are inconsistent"));
  }
  return bounds;
}

// `key` of `family` as seen by `snapshot`; nullopt if absent.
Result<std::optional<std::string>> GetAt(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                         rocksdb::ManagedSnapshot& snapshot, std::string_view key) {
  std::string value;
  rocksdb::Status status = db.Get(ReadAt(snapshot), &family, key, &value);
  if (status.IsNotFound()) return std::optional<std::string>();
  if (!status.ok()) return std::unexpected(StorageError(status, "loading"));
  return std::optional<std::string>(std::move(value));
}

}  // namespace

std::optional<std::uint32_t> UserIdOf(std::string_view account) {
  if (!account.starts_with(kUserPrefix)) return std::nullopt;
  const std::string_view digits = account.substr(kUserPrefix.size());
  if (digits.empty() || digits.size() > kUserIdDigitsMax) return std::nullopt;
  if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
  std::uint64_t id = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    id = id * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (id > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(id);
}

// --- Worker side ------------------------------------------------------------------------------

Status HoldersProjection::Apply(const Event& event, ViewWriter& view) {
  const std::uint64_t position = event.envelope.position;
  for (const Posting& posting : event.postings) {
    if (posting.amount <= 0) {
      return std::unexpected(
          Corruption("event " + std::to_string(position) + " has a posting amount <= 0"));
    }
    if (const auto from = UserIdOf(posting.from)) {
      auto added =
          AddToBalance(posting.from, *from, posting.asset, -posting.amount, position, view);
      if (!added) return added;
    }
    if (const auto to = UserIdOf(posting.to)) {
      auto added = AddToBalance(posting.to, *to, posting.asset, posting.amount, position, view);
      if (!added) return added;
    }
  }
  return Ok();
}

Status HoldersProjection::AddToBalance(std::string_view account, std::uint32_t user,
                                       std::string_view asset, std::int64_t delta,
                                       std::uint64_t position, ViewWriter& view) {
  balance_key_.assign("b/").append(account).push_back('\0');
  balance_key_.append(asset);
  auto stored = view.Get(balance_key_);
  if (!stored) return std::unexpected(stored.error());
  auto before = DecodeBalance(*stored);
  if (!before) return std::unexpected(before.error());
  std::int64_t after = 0;
  if (__builtin_add_overflow(*before, delta, &after)) {
    return std::unexpected(Corruption("balance overflow at event " + std::to_string(position)));
  }
  if (after == 0) {
    view.Delete(balance_key_);
  } else {
    std::string value;
    AppendBigEndian64(static_cast<std::uint64_t>(after), &value);
    view.Put(balance_key_, value);
  }
  if ((*before == 0) == (after == 0)) return Ok();
  return AddToCount(account, user, after == 0 ? -1 : 1, position, view);
}

Status HoldersProjection::AddToCount(std::string_view account, std::uint32_t user, int step,
                                     std::uint64_t position, ViewWriter& view) {
  count_key_.assign("n/").append(account);
  auto stored = view.Get(count_key_);
  if (!stored) return std::unexpected(stored.error());
  auto before = DecodeCount(*stored);
  if (!before) return std::unexpected(before.error());
  if (step < 0 && *before == 0) {
    return std::unexpected(Corruption("count below 0 at event " + std::to_string(position)));
  }
  const std::uint32_t after = step < 0 ? *before - 1 : *before + 1;
  if (after == 0) {
    view.Delete(count_key_);
    working_.remove(user);
    // Net of the batch: leaving after entering in the same batch is no change.
    if (!batch_entered_.removeChecked(user)) batch_left_.add(user);
    MarkChunkDirty(HighBits(user));
  } else {
    view.Put(count_key_, EncodeCount(after));
    if (*before == 0) {
      working_.add(user);
      if (!batch_left_.removeChecked(user)) batch_entered_.add(user);
      MarkChunkDirty(HighBits(user));
    }
  }
  return Ok();
}

void HoldersProjection::MarkChunkDirty(std::uint16_t high) {
  if (chunk_dirty_[high]) return;
  chunk_dirty_[high] = true;
  dirty_chunks_.push_back(high);
}

Status HoldersProjection::FinishBatch(ViewWriter& view) {
  LEDGER_ASSERT(finished_entered_.isEmpty() && finished_left_.isEmpty());
  if (batch_entered_.isEmpty() && batch_left_.isEmpty()) return Ok();
  batch_entered_.runOptimize();
  batch_left_.runOptimize();
  const std::string entry = EncodeJournalEntry(batch_entered_, batch_left_);
  if (JournalFullWith(entry.size())) {
    Compact(view);
  } else {
    AppendToJournal(entry, view);
  }
  finished_entered_ = std::move(batch_entered_);
  finished_left_ = std::move(batch_left_);
  batch_entered_ = Roaring();
  batch_left_ = Roaring();
  return Ok();
}

bool HoldersProjection::JournalFullWith(std::size_t entry_bytes) const {
  if (journal_.next - journal_.first >= options_.journal_entries_max) return true;
  const std::size_t bitmap_bytes = working_.getSizeInBytes(/*portable=*/true);
  const std::size_t bytes_max =
      std::max(options_.journal_bytes_min, bitmap_bytes / kBitmapBytesPerJournalByte);
  return journal_.bytes + entry_bytes > bytes_max;
}

void HoldersProjection::AppendToJournal(const std::string& entry, ViewWriter& view) {
  view.Put(JournalEntryKey(journal_.next), entry);
  ++journal_.next;
  journal_.bytes += entry.size();
  view.Put(kJournalBoundsKey, EncodeJournalBounds(journal_));
}

void HoldersProjection::Compact(ViewWriter& view) {
  std::sort(dirty_chunks_.begin(), dirty_chunks_.end());
  bool directory_changed = false;
  for (const std::uint16_t high : dirty_chunks_) {
    chunk_dirty_[high] = false;
    Roaring chunk = ChunkOf(working_, high);
    const bool stored = !chunk.isEmpty();
    if (stored) {
      chunk.runOptimize();
      view.Put(ChunkKey(high), Serialize(chunk));
    } else if (chunk_stored_[high]) {
      view.Delete(ChunkKey(high));
    }
    directory_changed = directory_changed || chunk_stored_[high] != stored;
    chunk_stored_[high] = stored;
  }
  dirty_chunks_.clear();
  if (directory_changed) view.Put(kDirectoryKey, EncodeDirectory(chunk_stored_));
  for (std::uint64_t sequence = journal_.first; sequence < journal_.next; ++sequence) {
    view.Delete(JournalEntryKey(sequence));
  }
  // Sequences are never reused: the next entry follows the deleted ones.
  journal_ = HoldersJournalBounds{.first = journal_.next, .next = journal_.next, .bytes = 0};
  view.Put(kJournalBoundsKey, EncodeJournalBounds(journal_));
  if (options_.on_compaction_for_testing) options_.on_compaction_for_testing();
}

void HoldersProjection::BatchCommitted(std::uint64_t checkpoint) {
  std::unique_lock lock(mutex_);
  published_ |= finished_entered_;
  published_ -= finished_left_;
  published_position_ = checkpoint;
  lock.unlock();
  finished_entered_ = Roaring();
  finished_left_ = Roaring();
}

void HoldersProjection::ResetWorkerState() {
  working_ = Roaring();
  chunk_stored_.assign(kChunkCount, false);
  chunk_dirty_.assign(kChunkCount, false);
  dirty_chunks_.clear();
  journal_ = HoldersJournalBounds{};
  batch_entered_ = Roaring();
  batch_left_ = Roaring();
  finished_entered_ = Roaring();
  finished_left_ = Roaring();
}

Status HoldersProjection::Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
  ResetWorkerState();
  rocksdb::ManagedSnapshot snapshot(&db);
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  if (auto loaded = LoadChunks(db, family, snapshot); !loaded) return loaded;
  if (auto loaded = LoadJournal(db, family, snapshot); !loaded) return loaded;
  Roaring published = working_;
  std::unique_lock lock(mutex_);
  published_ = std::move(published);
  published_position_ = *checkpoint;
  return Ok();
}

Status HoldersProjection::LoadChunks(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                     rocksdb::ManagedSnapshot& snapshot) {
  auto directory_value = GetAt(db, family, snapshot, kDirectoryKey);
  if (!directory_value) return std::unexpected(directory_value.error());
  auto directory = DecodeDirectory(*directory_value);
  if (!directory) return std::unexpected(directory.error());
  for (const std::uint16_t high : *directory) {
    auto value = GetAt(db, family, snapshot, ChunkKey(high));
    if (!value) return std::unexpected(value.error());
    if (!value->has_value()) {
      return std::unexpected(Corruption("chunk " + std::to_string(high) + " is missing"));
    }
    auto chunk = DeserializeChunk(**value, high);
    if (!chunk) return std::unexpected(chunk.error());
    working_ |= *chunk;
    chunk_stored_[high] = true;
  }
  return Ok();
}

Status HoldersProjection::LoadJournal(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                      rocksdb::ManagedSnapshot& snapshot) {
  auto bounds_value = GetAt(db, family, snapshot, kJournalBoundsKey);
  if (!bounds_value) return std::unexpected(bounds_value.error());
  auto bounds = DecodeJournalBounds(*bounds_value);
  if (!bounds) return std::unexpected(bounds.error());
  std::uint64_t bytes = 0;
  for (std::uint64_t sequence = bounds->first; sequence < bounds->next; ++sequence) {
    const std::string what = "journal entry " + std::to_string(sequence);
    auto value = GetAt(db, family, snapshot, JournalEntryKey(sequence));
    if (!value) return std::unexpected(value.error());
    if (!value->has_value()) return std::unexpected(Corruption(what + " is missing"));
    auto entry = DecodeJournalEntry(**value, sequence);
    if (!entry) return std::unexpected(entry.error());
    // Each entry is a net change of the state before it: it enters non-members only and
    // removes members only.
    if (working_.intersect(entry->entered) || !entry->left.isSubset(working_)) {
      return std::unexpected(Corruption(what + " does not follow from the entries before it"));
    }
    working_ |= entry->entered;
    working_ -= entry->left;
    for (const Roaring* changed : {&entry->entered, &entry->left}) {
      const roaring_array_t& index = changed->roaring.high_low_container;
      for (std::int32_t i = 0; i < index.size; ++i) MarkChunkDirty(index.keys[i]);
    }
    bytes += (*value)->size();
  }
  if (bytes != bounds->bytes) {
    return std::unexpected(Corruption("the journal entries do not add up to the recorded size"));
  }
  journal_ = *bounds;
  return Ok();
}

// --- Readers ----------------------------------------------------------------------------------

HoldersAnswer HoldersProjection::Check(std::uint32_t user) const {
  std::shared_lock lock(mutex_);
  return HoldersAnswer{published_.contains(user), published_position_};
}

std::vector<bool> HoldersProjection::CheckMany(std::span<const std::uint32_t> users,
                                               std::uint64_t* position) const {
  LEDGER_ASSERT(position != nullptr);
  std::vector<bool> answers(users.size());
  std::shared_lock lock(mutex_);
  for (std::size_t i = 0; i < users.size(); ++i) answers[i] = published_.contains(users[i]);
  *position = published_position_;
  return answers;
}

std::uint64_t HoldersProjection::Position() const {
  std::shared_lock lock(mutex_);
  return published_position_;
}

std::uint64_t HoldersProjection::Cardinality() const {
  std::shared_lock lock(mutex_);
  return published_.cardinality();
}

std::size_t HoldersProjection::MemoryBytes() const {
  std::shared_lock lock(mutex_);
  return BitmapMemoryBytes(published_);
}

std::size_t HoldersProjection::BitmapMemoryBytes(const Roaring& bitmap) {
  roaring_statistics_t statistics;
  roaring_bitmap_statistics(&bitmap.roaring, &statistics);
  const roaring_array_t& index = bitmap.roaring.high_low_container;
  const std::size_t slot_bytes = sizeof(void*) + sizeof(std::uint16_t) + sizeof(std::uint8_t);
  return std::size_t{statistics.n_bytes_array_containers} + statistics.n_bytes_run_containers +
         statistics.n_bytes_bitset_containers +
         static_cast<std::size_t>(index.allocation_size) * slot_bytes;
}

}  // namespace ledger::projections
