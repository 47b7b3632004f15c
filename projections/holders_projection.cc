#include "projections/holders_projection.h"

#include <algorithm>
#include <limits>
#include <memory>
#include <mutex>

namespace ledger::projections {
namespace {

constexpr std::string_view kUserPrefix = "user:";
constexpr std::size_t kUserIdDigitsMax = 10;  // 4294967295.
constexpr std::string_view kDirectoryKey = "d/chunks";
constexpr char kDirectoryFormat = 1;
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

// Decodes a stored chunk: it must use every byte, be non-empty and hold only ids of `high`.
Result<Roaring> DeserializeChunk(std::string_view bytes, std::uint16_t high) {
  const std::string what = "chunk " + std::to_string(high);
  if (roaring_bitmap_portable_deserialize_size(bytes.data(), bytes.size()) != bytes.size()) {
    return std::unexpected(Corruption(what + " does not decode"));
  }
  roaring_bitmap_t* raw = roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (raw == nullptr) return std::unexpected(Corruption(what + " does not decode"));
  Roaring chunk(raw);  // Takes ownership.
  if (chunk.isEmpty() || HighBits(chunk.minimum()) != high || HighBits(chunk.maximum()) != high) {
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

// `key` of `family` as seen by `snapshot`; nullopt if absent.
Result<std::optional<std::string>> GetAt(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                         const ScopedSnapshot& snapshot, std::string_view key) {
  std::string value;
  rocksdb::Status status = db.Get(snapshot.Options(), &family, key, &value);
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
    MarkDirty(user);
  } else {
    view.Put(count_key_, EncodeCount(after));
    if (*before == 0) {
      working_.add(user);
      MarkDirty(user);
    }
  }
  return Ok();
}

void HoldersProjection::MarkDirty(std::uint32_t user) {
  const std::uint16_t high = HighBits(user);
  if (chunk_dirty_[high]) return;
  chunk_dirty_[high] = true;
  dirty_chunks_.push_back(high);
}

Status HoldersProjection::FinishBatch(ViewWriter& view) {
  LEDGER_ASSERT(finished_chunks_.empty());
  std::sort(dirty_chunks_.begin(), dirty_chunks_.end());
  bool directory_changed = false;
  for (const std::uint16_t high : dirty_chunks_) {
    chunk_dirty_[high] = false;
    Roaring chunk = ChunkOf(working_, high);
    const bool stored = !chunk.isEmpty();
    if (stored) {
      chunk.runOptimize();
      view.Put(ChunkKey(high), Serialize(chunk));
    } else {
      view.Delete(ChunkKey(high));
    }
    directory_changed = directory_changed || chunk_stored_[high] != stored;
    chunk_stored_[high] = stored;
    finished_chunks_.emplace_back(high, std::move(chunk));
  }
  dirty_chunks_.clear();
  if (directory_changed) view.Put(kDirectoryKey, EncodeDirectory(chunk_stored_));
  return Ok();
}

void HoldersProjection::BatchCommitted(std::uint64_t checkpoint) {
  std::unique_lock lock(mutex_);
  for (const auto& [high, chunk] : finished_chunks_) {
    const std::uint64_t low = std::uint64_t{high} << 16;
    roaring_bitmap_remove_range(&published_.roaring, low, low + kChunkIds);
    published_ |= chunk;
  }
  published_position_ = checkpoint;
  lock.unlock();
  finished_chunks_.clear();
}

void HoldersProjection::ResetWorkerState() {
  working_ = Roaring();
  chunk_stored_.assign(kChunkCount, false);
  chunk_dirty_.assign(kChunkCount, false);
  dirty_chunks_.clear();
  finished_chunks_.clear();
}

Status HoldersProjection::Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
  ResetWorkerState();
  const ScopedSnapshot snapshot(db);
  auto checkpoint = ReadCheckpoint(db, family, snapshot.get());
  if (!checkpoint) return std::unexpected(checkpoint.error());
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
  Roaring published = working_;
  std::unique_lock lock(mutex_);
  published_ = std::move(published);
  published_position_ = *checkpoint;
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
