#include "ledger/store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>

#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/slice_transform.h>

#include "ledger/event_codec.h"
#include "ledger/limits.h"

namespace ledger {
namespace {

constexpr char kEventsFamily[] = "events";
constexpr char kStreamsFamily[] = "streams";
constexpr char kIdempotencyFamily[] = "idempotency";
constexpr char kStateFamily[] = "state";
constexpr char kMetaFamily[] = "meta";
constexpr char kHeadKey[] = "head";
constexpr char kLedgerIdKey[] = "ledger_id";
constexpr std::size_t kLedgerIdChars = 32;
constexpr std::size_t kHashBytes = 32;
// Hashed memtables: buckets, and the prefix length that stands for a whole key (ids are at most
// kIdBytesMax; a longer key still hashes correctly, it just shares a bucket more often).
constexpr std::size_t kMemtableHashBuckets = 1 << 20;
constexpr std::size_t kPointLookupPrefixBytes = kIdBytesMax + 64;

Error StorageError(const rocksdb::Status& status, std::string_view what) {
  return MakeError(ErrorKind::kUnavailable,
                   status.IsNoSpace() ? "disk_full" : "storage_unavailable",
                   std::string(what) + ": " + status.ToString());
}

// RocksDB's info log (DIR/LOG), written with plain write(2) calls whose errors are ignored.
// Debian's librocksdb 7.8 is built with assertions on, and its own file logger aborts the
// process (WritableFileWriter: "Assertion `sync_without_flush_called_' failed") on the first
// line it logs after a write to LOG failed, which is exactly what happens on a full disk. A
// lost log line is harmless; an abort would turn a full disk into a crash.
class TolerantLogger final : public rocksdb::Logger {
 public:
  explicit TolerantLogger(const std::string& path)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
        fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644)) {}
  ~TolerantLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }
  TolerantLogger(const TolerantLogger&) = delete;
  TolerantLogger& operator=(const TolerantLogger&) = delete;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list arguments) override {
    if (fd_ < 0) return;
    char line[4096];
    const auto now = std::chrono::system_clock::now();
    const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                            now.time_since_epoch()).count() % 1'000'000;
    std::tm utc{};
    ::gmtime_r(&seconds, &utc);
    std::size_t used = std::strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S", &utc);
    used += static_cast<std::size_t>(
        std::snprintf(line + used, sizeof line - used, ".%06lld ", static_cast<long long>(micros)));
    const int written = std::vsnprintf(line + used, sizeof line - used - 1, format, arguments);
    if (written > 0) used = std::min(sizeof line - 2, used + static_cast<std::size_t>(written));
    line[used++] = '\n';
    (void)!::write(fd_, line, used);
  }

 private:
  int fd_;
};

Error CorruptionAt(std::uint64_t position, std::string_view what) {
  return MakeError(ErrorKind::kCorruption, "corruption",
                   "event " + std::to_string(position) + ": " + std::string(what));
}

// Prefix of a streams-CF key (`stream || 0x00 || BE64 version`): the stream and its 0x00, so
// one stream's entries hash to one memtable bucket and prefix seeks stay inside the stream.
class StreamPrefix final : public rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "ledger.StreamPrefix"; }
  rocksdb::Slice Transform(const rocksdb::Slice& key) const override {
    return rocksdb::Slice(key.data(), key.size() - 8);
  }
  bool InDomain(const rocksdb::Slice& key) const override {
    return key.size() >= 9 && key[key.size() - 9] == '\0';
  }
};

// Memtable inserts of random keys into a skiplist dominated the durable write (about 70% of
// its instructions, measured with callgrind): each one searches a list of ~10^5 entries.
// Idempotency keys are only ever looked up whole, and stream keys only within their stream, so
// both use hashed memtables (O(1) insert) with the matching prefix extractor; the write-side
// state is only read by full scans, so it uses a vector memtable (append).
rocksdb::ColumnFamilyOptions FamilyOptions(std::string_view name,
                                           const std::shared_ptr<rocksdb::Cache>& cache,
                                           bool point_lookups_only) {
  rocksdb::ColumnFamilyOptions options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Debian's RocksDB is a portable build whose CRC32C runs without SSE4.2 (Slow_CRC32 in
  // profiles); XXH3 checksums blocks several times faster, which frees CPU for flushes.
  table.checksum = rocksdb::kXXH3;
  options.write_buffer_size = name == kEventsFamily ? (128u << 20) : (64u << 20);
  options.max_write_buffer_number = 4;
  options.level_compaction_dynamic_level_bytes = true;
  if (name == kIdempotencyFamily || point_lookups_only) {
    // Read by whole key only, mostly misses: bloom filters answer them; the prefix extractor
    // (longer than almost any key) hashes each key to its own memtable bucket.
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10, false));
    table.whole_key_filtering = true;
    options.prefix_extractor.reset(rocksdb::NewCappedPrefixTransform(kPointLookupPrefixBytes));
    options.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(kMemtableHashBuckets));
    options.memtable_prefix_bloom_size_ratio = 0.05;
  } else if (name == kStreamsFamily) {
    options.prefix_extractor = std::make_shared<StreamPrefix>();
    options.memtable_factory.reset(rocksdb::NewHashSkipListRepFactory(kMemtableHashBuckets));
  } else if (name == kStateFamily) {
    options.memtable_factory.reset(new rocksdb::VectorRepFactory());
  }
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

std::string Key64(std::uint64_t value) {
  std::string key;
  AppendBigEndian64(value, &key);
  return key;
}

std::string StreamKey(std::string_view stream, std::uint64_t version) {
  std::string key;
  key.reserve(stream.size() + 9);
  key.append(stream);
  key.push_back('\0');
  AppendBigEndian64(version, &key);
  return key;
}

// Splits a stored events-CF value into its hash and its canonical bytes, and checks the hash.
Result<StoredEvent> DecodeStored(std::uint64_t position, std::string_view value) {
  if (value.size() <= kHashBytes) return std::unexpected(CorruptionAt(position, "value too short"));
  Hash stored_hash;
  std::memcpy(stored_hash.data(), value.data(), kHashBytes);
  std::string_view bytes = value.substr(kHashBytes);
  auto event = DecodeEvent(bytes, stored_hash);
  if (!event) return std::unexpected(CorruptionAt(position, event.error().message));
  if (event->envelope.position != position) {
    return std::unexpected(CorruptionAt(position, "stored under the key of another position (" +
                                                      std::to_string(event->envelope.position) +
                                                      ")"));
  }
  if (ChainHash(event->envelope.prev_hash, bytes) != stored_hash) {
    return std::unexpected(CorruptionAt(position, "hash does not match its bytes"));
  }
  return StoredEvent{std::move(*event), std::string(bytes)};
}

}  // namespace

std::unique_ptr<rocksdb::Iterator> NewKeyOrderIterator(rocksdb::DB& db,
                                                      rocksdb::ColumnFamilyHandle& family,
                                                      rocksdb::ReadOptions options) {
  options.total_order_seek = true;
  return std::unique_ptr<rocksdb::Iterator>(db.NewIterator(options, &family));
}

void AppendBigEndian64(std::uint64_t value, std::string* out) {
  char bytes[8];
  for (int i = 7; i >= 0; --i) {
    bytes[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  out->append(bytes, 8);
}

std::uint64_t ReadBigEndian64(const char* bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<std::uint8_t>(bytes[i]);
  return value;
}

// --- AppendBatch ------------------------------------------------------------------------------

AppendBatch::AppendBatch(std::uint64_t head_position, const Hash& head_hash,
                         rocksdb::ColumnFamilyHandle* events, rocksdb::ColumnFamilyHandle* streams,
                         rocksdb::ColumnFamilyHandle* idempotency,
                         rocksdb::ColumnFamilyHandle* state)
    : last_position_(head_position),
      last_hash_(head_hash),
      events_(events),
      streams_(streams),
      idempotency_(idempotency),
      state_(state) {}

void AppendBatch::AddEvent(Event& event, const Hash& fingerprint) {
  Envelope& envelope = event.envelope;
  LEDGER_ASSERT(envelope.position == last_position_ + 1);
  envelope.prev_hash = last_hash_;
  scratch_value_.assign(kHashBytes, '\0');
  EncodeEvent(event, &scratch_value_);
  std::string_view bytes(scratch_value_.data() + kHashBytes, scratch_value_.size() - kHashBytes);
  LEDGER_ASSERT(bytes.size() <= kEventBytesMax);
  envelope.hash = ChainHash(envelope.prev_hash, bytes);
  std::memcpy(scratch_value_.data(), envelope.hash.data(), kHashBytes);

  scratch_key_.clear();
  AppendBigEndian64(envelope.position, &scratch_key_);
  LEDGER_ASSERT(batch_.Put(events_, scratch_key_, scratch_value_).ok());

  std::string stream_key = StreamKey(envelope.stream, envelope.stream_version);
  LEDGER_ASSERT(batch_.Put(streams_, stream_key, scratch_key_).ok());

  if (!envelope.idempotency_key.empty()) {
    std::string record(reinterpret_cast<const char*>(fingerprint.data()), fingerprint.size());
    AppendBigEndian64(envelope.position, &record);
    LEDGER_ASSERT(batch_.Put(idempotency_, envelope.idempotency_key, record).ok());
  }
  last_position_ = envelope.position;
  last_hash_ = envelope.hash;
  ++event_count_;
}

Result<Event> AppendBatch::AddReplicated(std::string_view bytes, const Hash& hash) {
  const std::uint64_t position = last_position_ + 1;
  auto fail = [position](std::string what) -> Result<Event> {
    return std::unexpected(MakeError(ErrorKind::kCorruption, "replica_chain_broken",
                                     "event " + std::to_string(position) + ": " + what));
  };
  if (bytes.size() > kEventBytesMax) return fail("larger than the event size limit");
  auto event = DecodeEvent(bytes, hash);
  if (!event) return fail("does not decode: " + event.error().message);
  const Envelope& envelope = event->envelope;
  if (envelope.position != position) {
    return fail("carries position " + std::to_string(envelope.position));
  }
  if (envelope.prev_hash != last_hash_) return fail("prev_hash does not link to the event before");
  if (ChainHash(last_hash_, bytes) != hash) return fail("hash does not match its bytes");

  scratch_value_.assign(reinterpret_cast<const char*>(hash.data()), kHashBytes);
  scratch_value_.append(bytes);
  scratch_key_.clear();
  AppendBigEndian64(position, &scratch_key_);
  LEDGER_ASSERT(batch_.Put(events_, scratch_key_, scratch_value_).ok());
  LEDGER_ASSERT(
      batch_.Put(streams_, StreamKey(envelope.stream, envelope.stream_version), scratch_key_).ok());
  if (!envelope.idempotency_key.empty()) {
    std::string record(kHashBytes, '\0');
    AppendBigEndian64(position, &record);
    LEDGER_ASSERT(batch_.Put(idempotency_, envelope.idempotency_key, record).ok());
  }
  last_position_ = position;
  last_hash_ = hash;
  ++event_count_;
  return event;
}

void AppendBatch::PutState(std::string_view key, std::string_view value) {
  LEDGER_ASSERT(batch_.Put(state_, key, value).ok());
}

// --- Store ------------------------------------------------------------------------------------

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store());
  store->path_ = options.path;
  store->secondary_ = !options.secondary_path.empty();
  store->read_only_ = options.read_only || store->secondary_;
  store->skip_head_check_ = options.skip_head_check && store->read_only_;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = !store->read_only_;
  db_options.create_missing_column_families = !store->read_only_;
  // A secondary keeps every file it has open readable after the primary deletes it.
  if (store->secondary_) db_options.max_open_files = -1;
  db_options.max_background_jobs = 2;
  // One writer thread: concurrent memtable writes buy nothing and rule out vector memtables.
  db_options.allow_concurrent_memtable_write = false;
  db_options.bytes_per_sync = 1 << 20;
  db_options.max_total_wal_size = 512u << 20;
  if (!store->read_only_) {
    std::error_code ignored;  // Open reports a directory that cannot be created.
    std::filesystem::create_directories(options.path, ignored);
    db_options.info_log = std::make_shared<TolerantLogger>(options.path + "/LOG");
  }
  auto cache = rocksdb::NewLRUCache(options.block_cache_bytes);

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName, kEventsFamily,
                                    kStreamsFamily, kIdempotencyFamily, kStateFamily,
                                    kMetaFamily};
  for (const auto& extra : options.extra_column_families) names.push_back(extra);
  // RocksDB must open every existing column family; keep ones we do not know about too.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const auto& name : existing) {
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    const bool point_lookups_only =
        std::find(options.point_lookup_families.begin(), options.point_lookup_families.end(),
                  name) != options.point_lookup_families.end();
    descriptors.emplace_back(name, FamilyOptions(name, cache, point_lookups_only));
  }

  rocksdb::DB* raw = nullptr;
  rocksdb::Status status;
  if (store->secondary_) {
    status = rocksdb::DB::OpenAsSecondary(db_options, options.path, options.secondary_path,
                                          descriptors, &store->cf_handles_, &raw);
  } else if (store->read_only_) {
    status = rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors,
                                          &store->cf_handles_, &raw);
  } else {
    status = rocksdb::DB::Open(db_options, options.path, descriptors, &store->cf_handles_, &raw);
  }
  if (!status.ok()) return std::unexpected(StorageError(status, "opening " + options.path));
  store->db_.reset(raw);
  store->cf_names_ = names;
  store->events_ = store->ColumnFamily(kEventsFamily);
  store->streams_ = store->ColumnFamily(kStreamsFamily);
  store->idempotency_ = store->ColumnFamily(kIdempotencyFamily);
  store->state_ = store->ColumnFamily(kStateFamily);
  store->meta_ = store->ColumnFamily(kMetaFamily);
  if (auto loaded = store->LoadHead(); !loaded) return std::unexpected(loaded.error());
  if (auto loaded = store->LoadLedgerId(); !loaded) return std::unexpected(loaded.error());
  return store;
}

Status Store::LoadLedgerId() {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, kLedgerIdKey, &value);
  if (status.ok()) {
    if (value.size() != kLedgerIdChars) {
      return Fail(ErrorKind::kCorruption, "corruption", "meta ledger_id has a bad size");
    }
    std::lock_guard lock(head_mutex_);
    ledger_id_ = std::move(value);
    return Ok();
  }
  if (!status.IsNotFound()) return std::unexpected(StorageError(status, "reading the ledger id"));
  if (read_only_) return Ok();
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (std::size_t i = 0; i < kLedgerIdChars; ++i) id.push_back(kHex[random() % 16]);
  return SetLedgerIdUnchecked(id);
}

Status Store::SetLedgerIdUnchecked(std::string_view ledger_id) {
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status status = db_->Put(write_options, meta_, kLedgerIdKey,
                                    rocksdb::Slice(ledger_id.data(), ledger_id.size()));
  if (!status.ok()) return std::unexpected(StorageError(status, "writing the ledger id"));
  std::lock_guard lock(head_mutex_);
  ledger_id_ = std::string(ledger_id);
  return Ok();
}

std::string Store::LedgerId() const {
  std::lock_guard lock(head_mutex_);
  return ledger_id_;
}

Status Store::SetLedgerId(std::string_view ledger_id) {
  if (read_only_) return Fail(ErrorKind::kInternal, "read_only", "the store is open read-only");
  if (ledger_id.size() != kLedgerIdChars ||
      ledger_id.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_ledger_id",
                "a ledger id is 32 lowercase hex characters");
  }
  if (HeadPosition() != 0) {
    return Fail(ErrorKind::kInternal, "ledger_not_empty",
                "the ledger id can only change while the log is empty");
  }
  return SetLedgerIdUnchecked(ledger_id);
}

Store::~Store() {
  if (!db_) return;
  for (auto* handle : cf_handles_) {
    (void)db_->DestroyColumnFamilyHandle(handle);
  }
  (void)db_->Close();
}

rocksdb::ColumnFamilyHandle* Store::ColumnFamily(std::string_view name) const {
  for (std::size_t i = 0; i < cf_names_.size(); ++i) {
    if (cf_names_[i] == name) return cf_handles_[i];
  }
  return nullptr;
}

Status Store::Resume() {
  if (read_only_) return Fail(ErrorKind::kInternal, "read_only", "the store is open read-only");
  rocksdb::Status status = db_->Resume();
  if (status.IsBusy() || (resume_fault_ && resume_fault_())) {
    // RocksDB's own recovery runs: from a full disk, it polls the free space every 5 s and
    // flushes once at least the largest write buffer fits.
    return Fail(ErrorKind::kUnavailable, "storage_recovering",
                "RocksDB is recovering by itself (from a full disk: once a write buffer fits)");
  }
  if (!status.ok()) return std::unexpected(StorageError(status, "resuming writes"));
  return LoadHead();
}

Status Store::CatchUpWithPrimary() {
  if (!secondary_) {
    return Fail(ErrorKind::kInternal, "internal", "the store is not a secondary instance");
  }
  rocksdb::Status status = db_->TryCatchUpWithPrimary();
  if (!status.ok()) return std::unexpected(StorageError(status, "catching up with the primary"));
  return LoadHead();
}

Status Store::LoadHead() {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), meta_, kHeadKey, &value);
  std::uint64_t meta_position = 0;
  Hash meta_hash{};
  if (status.ok()) {
    if (value.size() != 8 + kHashBytes) {
      return Fail(ErrorKind::kCorruption, "corruption", "meta head record has a bad size");
    }
    meta_position = ReadBigEndian64(value.data());
    std::memcpy(meta_hash.data(), value.data() + 8, kHashBytes);
  } else if (!status.IsNotFound()) {
    return std::unexpected(StorageError(status, "reading the head"));
  }
  // The head in meta and the last stored event are written in the same batch: they must agree.
  if (skip_head_check_) {
    std::lock_guard lock(head_mutex_);
    head_hash_ = meta_hash;
    head_position_.store(meta_position, std::memory_order_release);
    return Ok();
  }
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), events_));
  it->SeekToLast();
  if (!it->status().ok()) return std::unexpected(StorageError(it->status(), "reading the log"));
  std::uint64_t last_position = 0;
  if (it->Valid()) {
    if (it->key().size() != 8) {
      return Fail(ErrorKind::kCorruption, "corruption", "event key is not 8 bytes");
    }
    last_position = ReadBigEndian64(it->key().data());
    auto last = DecodeStored(last_position, it->value().ToStringView());
    if (!last) return std::unexpected(last.error());
    if (last->event.envelope.hash != meta_hash) {
      return Fail(ErrorKind::kCorruption, "corruption",
                  "the head hash in meta differs from the last event's hash");
    }
  }
  if (last_position != meta_position) {
    return Fail(ErrorKind::kCorruption, "corruption",
                "meta head position " + std::to_string(meta_position) +
                    " differs from the last stored event " + std::to_string(last_position));
  }
  std::lock_guard lock(head_mutex_);
  head_hash_ = meta_hash;
  head_position_.store(meta_position, std::memory_order_release);
  return Ok();
}

Hash Store::HeadHash() const {
  std::lock_guard lock(head_mutex_);
  return head_hash_;
}

AppendBatch Store::NewBatch() {
  std::lock_guard lock(head_mutex_);
  return AppendBatch(head_position_.load(std::memory_order_relaxed), head_hash_, events_, streams_,
                     idempotency_, state_);
}

Status Store::Commit(AppendBatch& batch) {
  if (read_only_) return Fail(ErrorKind::kInternal, "read_only", "the store is open read-only");
  if (commit_fault_ && commit_fault_()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable", "injected commit fault");
  }
  if (batch.event_count_ > 0) {
    std::string head;
    AppendBigEndian64(batch.last_position_, &head);
    head.append(reinterpret_cast<const char*>(batch.last_hash_.data()), kHashBytes);
    LEDGER_ASSERT(batch.batch_.Put(meta_, kHeadKey, head).ok());
  }
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  rocksdb::Status status = db_->Write(write_options, &batch.batch_);
  if (!status.ok()) return std::unexpected(StorageError(status, "writing a batch"));
  if (batch.event_count_ > 0) {
    std::lock_guard lock(head_mutex_);
    LEDGER_ASSERT(batch.last_position_ > head_position_.load(std::memory_order_relaxed));
    head_hash_ = batch.last_hash_;
    head_position_.store(batch.last_position_, std::memory_order_release);
  }
  head_advanced_.notify_all();
  return Ok();
}

namespace {

// Reads the events [position, position + limit) up to `head` in order, checking that none is
// missing; `check(position, value, &expected_prev)` checks one stored value against the hash of
// the event before it, advances `expected_prev` and returns what to keep.
template <typename Out, typename Check>
Result<std::vector<Out>> ScanLog(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* events,
                                 std::uint64_t position, std::uint64_t head, std::size_t limit,
                                 Hash expected_prev, Check check) {
  std::vector<Out> out;
  out.reserve(std::min<std::uint64_t>(limit, head - position + 1));
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), events));
  std::uint64_t expected = position;
  for (it->Seek(Key64(position)); it->Valid() && expected <= head && out.size() < limit;
       it->Next(), ++expected) {
    if (it->key().size() != 8 || ReadBigEndian64(it->key().data()) != expected) {
      return std::unexpected(CorruptionAt(expected, "missing from the log (gap)"));
    }
    auto kept = check(expected, it->value().ToStringView(), &expected_prev);
    if (!kept) return std::unexpected(kept.error());
    out.push_back(std::move(*kept));
  }
  if (!it->status().ok()) return std::unexpected(StorageError(it->status(), "reading the log"));
  if (out.size() < limit && expected <= head) {
    return std::unexpected(CorruptionAt(expected, "missing from the log (gap)"));
  }
  return out;
}

}  // namespace

Result<Hash> Store::StoredHashBefore(std::uint64_t position) const {
  Hash hash{};
  if (position <= 1) return hash;
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), events_, Key64(position - 1), &value);
  if (status.IsNotFound()) return std::unexpected(CorruptionAt(position - 1, "missing from the log"));
  if (!status.ok()) return std::unexpected(StorageError(status, "reading the log"));
  if (value.size() <= kHashBytes) {
    return std::unexpected(CorruptionAt(position - 1, "value too short"));
  }
  std::memcpy(hash.data(), value.data(), kHashBytes);
  return hash;
}

Result<std::vector<StoredEvent>> Store::ReadFrom(std::uint64_t position, std::size_t limit) const {
  if (position == 0) position = 1;
  const std::uint64_t head = HeadPosition();
  if (position > head || limit == 0) return std::vector<StoredEvent>{};
  auto prev = StoredHashBefore(position);
  if (!prev) return std::unexpected(prev.error());
  return ScanLog<StoredEvent>(
      *db_, events_, position, head, limit, *prev,
      [](std::uint64_t at, std::string_view value, Hash* expected_prev) -> Result<StoredEvent> {
        auto stored = DecodeStored(at, value);
        if (!stored) return std::unexpected(stored.error());
        if (stored->event.envelope.prev_hash != *expected_prev) {
          return std::unexpected(CorruptionAt(at, "prev_hash does not link to the event before"));
        }
        *expected_prev = stored->event.envelope.hash;
        return stored;
      });
}

Result<std::vector<RawEvent>> Store::ReadRawFrom(std::uint64_t position, std::size_t limit) const {
  if (position == 0) position = 1;
  const std::uint64_t head = HeadPosition();
  if (position > head || limit == 0) return std::vector<RawEvent>{};
  auto prev = StoredHashBefore(position);
  if (!prev) return std::unexpected(prev.error());
  return ScanLog<RawEvent>(
      *db_, events_, position, head, limit, *prev,
      [](std::uint64_t at, std::string_view value, Hash* expected_prev) -> Result<RawEvent> {
        if (value.size() <= kHashBytes) return std::unexpected(CorruptionAt(at, "value too short"));
        RawEvent raw;
        raw.position = at;
        std::memcpy(raw.hash.data(), value.data(), kHashBytes);
        const std::string_view bytes = value.substr(kHashBytes);
        auto summary = PeekEvent(bytes);
        if (!summary) return std::unexpected(CorruptionAt(at, summary.error().message));
        if (summary->position != at) {
          return std::unexpected(CorruptionAt(at, "stored under the key of another position (" +
                                                      std::to_string(summary->position) + ")"));
        }
        if (summary->prev_hash != *expected_prev) {
          return std::unexpected(CorruptionAt(at, "prev_hash does not link to the event before"));
        }
        if (ChainHash(summary->prev_hash, bytes) != raw.hash) {
          return std::unexpected(CorruptionAt(at, "hash does not match its bytes"));
        }
        raw.type = summary->type;
        raw.bytes.assign(bytes);
        *expected_prev = raw.hash;
        return raw;
      });
}

Result<StoredEvent> Store::Read(std::uint64_t position) const {
  if (position == 0 || position > HeadPosition()) {
    return Fail(ErrorKind::kNotFound, "event_not_found",
                "no event at position " + std::to_string(position));
  }
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), events_, Key64(position), &value);
  if (status.IsNotFound()) return std::unexpected(CorruptionAt(position, "missing from the log"));
  if (!status.ok()) return std::unexpected(StorageError(status, "reading an event"));
  return DecodeStored(position, value);
}

Result<std::vector<StoredEvent>> Store::ReadStream(std::string_view stream,
                                                   std::uint64_t from_version,
                                                   std::size_t limit) const {
  std::vector<StoredEvent> events;
  std::string prefix(stream);
  prefix.push_back('\0');
  rocksdb::ReadOptions read_options;
  read_options.prefix_same_as_start = true;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, streams_));
  const std::uint64_t head = HeadPosition();
  for (it->Seek(StreamKey(stream, from_version)); it->Valid() && events.size() < limit;
       it->Next()) {
    if (!it->key().starts_with(prefix) || it->key().size() != prefix.size() + 8) break;
    if (it->value().size() != 8) {
      return Fail(ErrorKind::kCorruption, "corruption", "stream index entry is not 8 bytes");
    }
    std::uint64_t position = ReadBigEndian64(it->value().data());
    if (position > head) break;
    auto stored = Read(position);
    if (!stored) return std::unexpected(stored.error());
    if (stored->event.envelope.stream != stream) {
      return std::unexpected(CorruptionAt(position, "stream index points at another stream"));
    }
    events.push_back(std::move(*stored));
  }
  if (!it->status().ok()) return std::unexpected(StorageError(it->status(), "reading a stream"));
  return events;
}

Result<std::optional<IdempotencyRecord>> Store::GetIdempotency(std::string_view key) const {
  std::string value;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), idempotency_, key, &value);
  if (status.IsNotFound()) return std::optional<IdempotencyRecord>();
  if (!status.ok()) return std::unexpected(StorageError(status, "reading an idempotency key"));
  if (value.size() != kHashBytes + 8) {
    return Fail(ErrorKind::kCorruption, "corruption", "idempotency record has a bad size");
  }
  IdempotencyRecord record;
  std::memcpy(record.fingerprint.data(), value.data(), kHashBytes);
  record.position = ReadBigEndian64(value.data() + kHashBytes);
  return std::optional<IdempotencyRecord>(record);
}

Status Store::ForEachState(
    const std::function<Status(std::string_view key, std::string_view value)>& visit) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (auto status = visit(it->key().ToStringView(), it->value().ToStringView()); !status) {
      return status;
    }
  }
  if (!it->status().ok()) return std::unexpected(StorageError(it->status(), "reading state"));
  return Ok();
}

std::uint64_t Store::WaitForHeadAbove(std::uint64_t position, std::int64_t timeout_us) const {
  std::unique_lock lock(head_mutex_);
  head_advanced_.wait_for(lock, std::chrono::microseconds(timeout_us), [&] {
    return head_position_.load(std::memory_order_acquire) > position;
  });
  return head_position_.load(std::memory_order_acquire);
}

}  // namespace ledger
