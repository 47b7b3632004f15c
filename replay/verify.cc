// ledger-replay verify: checks the whole log from position 1 and locates the first problem.
//
// One pass over the events column family with one iterator. The reading thread copies each
// stored value into a word-aligned chunk (Cap'n Proto needs alignment, and a chunk outlives the
// iterator's slices), decodes it with Cap'n Proto readers (no copies into std::string) and
// checks position, link, decoding, stream versions and balances. A second thread checks each
// chunk's hashes meanwhile: an event's stored hash must be SHA-256(hash stored before it ||
// bytes), which with the reader's check that the event's prev_hash equals the hash stored
// before it is the whole chain. The two indexes are then scanned once each and matched against
// what the log says, by position (see IndexMatch).
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>
#include <rocksdb/db.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include "ledger/event_codec.h"
#include "ledger/limits.h"
#include "ledger/schema/events.capnp.h"
#include "replay/audit.h"
#include "transport/json_events.h"

namespace ledger::replay {
namespace {

constexpr std::string_view kVerb = "verify";
constexpr std::size_t kHashBytes = 32;
// A chunk holds whole stored values; one event is at most kEventBytesMax plus its hash.
constexpr std::size_t kChunkWords = (4u << 20) / sizeof(capnp::word);
constexpr std::size_t kChunkEventsMax = 8'192;
constexpr std::size_t kChunksInFlight = 4;
constexpr std::size_t kEventsReadaheadBytes = 8u << 20;
// Entries the account and stream maps reserve up front, at most (at most one per event).
constexpr std::uint64_t kMapsReservedMax = 1u << 22;
static_assert(kChunkWords * sizeof(capnp::word) >= 2 * (kEventBytesMax + kHashBytes));

// The first problem found, by position (0: none).
struct Finding {
  std::uint64_t position = 0;
  std::string what;
  [[nodiscard]] bool found() const { return position != 0; }
  // Keeps the lower position; the same position gathers both descriptions.
  void Merge(const Finding& other) {
    if (!other.found()) return;
    if (!found() || other.position < position) {
      *this = other;
    } else if (other.position == position && other.what != what) {
      what += "; " + other.what;
    }
  }
};

// A seeded 64-bit hash of (text, number): index entries and events are matched by it. The
// seed is random per run, so a tampered index cannot be crafted to collide with the log.
class EntryHash {
 public:
  explicit EntryHash(std::uint64_t seed) : seed_(seed) {}
  [[nodiscard]] std::uint64_t operator()(std::string_view text, std::uint64_t number) const {
    std::uint64_t h = seed_ ^ (text.size() * 0x9E3779B97F4A7C15ull);
    std::size_t i = 0;
    for (; i + 8 <= text.size(); i += 8) {
      std::uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      h = Mix(h ^ word);
    }
    std::uint64_t tail = 0;
    std::memcpy(&tail, text.data() + i, text.size() - i);
    h = Mix(Mix(h ^ tail) ^ number);
    return h == 0 ? 1 : h;  // 0 means "no entry".
  }

 private:
  static std::uint64_t Mix(std::uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    return x ^ (x >> 32);
  }
  std::uint64_t seed_;
};

// Matches an index against the log. The log pass adds each event's expected entry by position
// (Expect), the index scan adds each entry it finds (Found); both XOR into one word per
// position, so the two agree exactly when every word is 0 and every position expecting an
// entry got exactly one.
class IndexMatch {
 public:
  explicit IndexMatch(std::uint64_t events) : words_(events + 1), found_(events + 1) {}
  // Expect and Found may run on different threads at once (the log pass and an index scan).
  void Expect(std::uint64_t position, std::uint64_t hash) {
    words_[position].fetch_xor(hash, std::memory_order_relaxed);
  }
  // False if an entry already pointed at `position`.
  [[nodiscard]] bool Found(std::uint64_t position, std::uint64_t hash) {
    if (found_[position].exchange(true, std::memory_order_relaxed)) return false;
    words_[position].fetch_xor(hash, std::memory_order_relaxed);
    return true;
  }
  // After both sides are done: the first position where they disagree (0: none), and whether
  // an entry was found for it.
  [[nodiscard]] std::pair<std::uint64_t, bool> FirstMismatch(std::uint64_t last) const {
    for (std::uint64_t p = 1; p <= last; ++p) {
      if (words_[p].load(std::memory_order_relaxed) != 0) {
        return {p, found_[p].load(std::memory_order_relaxed)};
      }
    }
    return {0, false};
  }

 private:
  std::vector<std::atomic<std::uint64_t>> words_;
  std::vector<std::atomic<bool>> found_;
};

// Stored values of consecutive events, each starting on a word boundary.
struct Chunk {
  struct Slot {
    std::uint64_t position = 0;
    std::size_t offset_words = 0;
    std::size_t value_bytes = 0;
  };
  std::vector<capnp::word> words = std::vector<capnp::word>(kChunkWords);
  std::vector<Slot> slots;
  std::size_t used_words = 0;
  bool hashed = true;  // Guarded by HashChecker::mutex_.

  [[nodiscard]] bool Fits(std::size_t value_bytes) const {
    return slots.size() < kChunkEventsMax &&
           used_words + (value_bytes + 7) / 8 <= words.size();
  }
  void Add(std::uint64_t position, std::string_view value) {
    const std::size_t value_words = (value.size() + 7) / 8;
    // Zero the padding. (memset: clang's capnp::word has no copy assignment.)
    std::memset(&words[used_words + value_words - 1], 0, sizeof(capnp::word));
    std::memcpy(&words[used_words], value.data(), value.size());
    slots.push_back({position, used_words, value.size()});
    used_words += value_words;
  }
  [[nodiscard]] std::string_view Value(const Slot& slot) const {
    return {reinterpret_cast<const char*>(&words[slot.offset_words]), slot.value_bytes};
  }
  void Clear() {
    slots.clear();
    used_words = 0;
  }
};

std::string_view View(capnp::Text::Reader text) { return {text.cStr(), text.size()}; }

// What the checks need from one event, read from the Cap'n Proto message without copies.
struct EventView {
  std::uint64_t position = 0;
  std::string_view stream;
  std::uint64_t stream_version = 0;
  std::string_view idempotency_key;
  capnp::Data::Reader prev_hash;
  std::array<PostingView, kTransferPostingsMax> postings;
  std::size_t posting_count = 0;
  std::optional<std::pair<std::string_view, bool>> opened;  // AccountOpened: account, allow_neg.
};

// Touches every text of a payload (each get validates its bounds and terminator) and returns
// the union member's EventType.
EventType ScanPayload(schema::Event::Payload::Reader payload, EventView& view) {
  auto texts = [](auto... text) { (void)(... + text.size()); };
  auto metadata = [&](capnp::List<schema::KeyValue>::Reader list) {
    for (auto entry : list) texts(entry.getKey(), entry.getValue());
  };
  auto lines = [&](capnp::List<schema::SettlementLine>::Reader list) {
    for (auto line : list) texts(line.getTo(), line.getKind());
  };
  switch (payload.which()) {
    case schema::Event::Payload::ACCOUNT_OPENED: {
      auto r = payload.getAccountOpened();
      metadata(r.getMetadata());
      view.opened.emplace(View(r.getAccount()), r.getAllowNegative());
      return EventType::kAccountOpened;
    }
    case schema::Event::Payload::ASSET_CHANGED: {
      auto r = payload.getAssetChanged();
      texts(r.getAccount(), r.getAsset(), r.getCounterparty(), r.getSource(), r.getReason(),
            r.getRef());
      return EventType::kAssetChanged;
    }
    case schema::Event::Payload::TRANSFERRED: {
      auto r = payload.getTransferred();
      texts(r.getRef());
      metadata(r.getMetadata());
      return EventType::kTransferred;
    }
    case schema::Event::Payload::ORDER_SETTLED: {
      auto r = payload.getOrderSettled();
      texts(r.getOrderId(), r.getMerchant(), r.getPayer(), r.getAsset());
      lines(r.getLines());
      return EventType::kOrderSettled;
    }
    case schema::Event::Payload::ORDER_REFUNDED: {
      auto r = payload.getOrderRefunded();
      texts(r.getOrderId(), r.getRefundId(), r.getMerchant(), r.getPayer(), r.getAsset());
      lines(r.getLines());
      return EventType::kOrderRefunded;
    }
    case schema::Event::Payload::MERCHANT_PAID_OUT: {
      auto r = payload.getMerchantPaidOut();
      texts(r.getPayoutId(), r.getMerchant(), r.getAsset(), r.getBankAccount());
      return EventType::kMerchantPaidOut;
    }
    case schema::Event::Payload::CAMPAIGN_CREATED: {
      auto r = payload.getCampaignCreated();
      texts(r.getCampaignId(), r.getAsset(), r.getFundingAccount(), r.getOwnerClient());
      return EventType::kCampaignCreated;
    }
    case schema::Event::Payload::VOUCHER_GRANTED: {
      auto r = payload.getVoucherGranted();
      texts(r.getCampaignId(), r.getGrantId(), r.getUser(), r.getAsset());
      return EventType::kVoucherGranted;
    }
    case schema::Event::Payload::VOUCHER_REDEEMED: {
      auto r = payload.getVoucherRedeemed();
      texts(r.getCampaignId(), r.getRedemptionId(), r.getUser(), r.getOrderId(), r.getAsset());
      return EventType::kVoucherRedeemed;
    }
  }
  throw std::runtime_error("unknown payload union member");
}

// Decodes the stored bytes (word-aligned, inside a chunk) into `view`; returns what is wrong.
std::optional<std::string> DecodeView(kj::ArrayPtr<const capnp::word> words, EventView& view) {
  std::optional<std::string> problem;
  auto exception = kj::runCatchingExceptions([&] {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = kEventBytesMax / sizeof(capnp::word);
    options.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      problem = "trailing bytes after the event";
      return;
    }
    auto event = reader.getRoot<schema::Event>();
    view.position = event.getPosition();
    view.stream = View(event.getStream());
    view.stream_version = event.getStreamVersion();
    view.idempotency_key = View(event.getIdempotencyKey());
    (void)event.getClientId(), (void)event.getCorrelationId(), (void)event.getCausationId();
    view.prev_hash = event.getPrevHash();
    auto postings = event.getPostings();
    if (postings.size() > view.postings.size()) {
      problem = "more than " + std::to_string(view.postings.size()) + " postings";
      return;
    }
    view.posting_count = postings.size();
    for (unsigned i = 0; i < postings.size(); ++i) {
      auto p = postings[i];
      view.postings[i] = {View(p.getFrom()), View(p.getTo()), View(p.getAsset()), p.getAmount()};
    }
    view.opened.reset();
    std::uint16_t type = event.getType();
    try {
      if (static_cast<std::uint16_t>(ScanPayload(event.getPayload(), view)) != type) {
        problem = "its type " + std::to_string(type) + " does not match its payload";
      }
    } catch (const std::runtime_error& error) {
      problem = error.what();
    }
  });
  KJ_IF_MAYBE(e, exception) { return std::string("does not decode: ") + e->getDescription().cStr(); }
  return problem;
}

// The second thread's share of the per-event checks, beside the hashes: streams are gapless
// per stream, and what the two indexes must hold for each event. (Balancing the work: the
// reading thread has RocksDB, decoding and balances; this one has SHA-256 and the streams.)
class StreamChecker {
 public:
  StreamChecker(std::uint64_t events, const EntryHash& hash)
      : hash_(hash), streams_index_(events), idempotency_index_(events) {
    stream_versions_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(events, kMapsReservedMax)));
  }

  // Checks the event in `bytes` (word-aligned); returns what is wrong.
  std::optional<std::string> Check(std::uint64_t position, kj::ArrayPtr<const capnp::word> bytes) {
    std::optional<std::string> problem;
    auto exception = kj::runCatchingExceptions([&] {
      capnp::ReaderOptions options;
      options.traversalLimitInWords = kEventBytesMax / sizeof(capnp::word);
      options.nestingLimit = 16;
      capnp::FlatArrayMessageReader reader(bytes, options);
      auto event = reader.getRoot<schema::Event>();
      problem = CheckStream(View(event.getStream()), event.getStreamVersion());
      if (problem) return;
      streams_index_.Expect(position, hash_(View(event.getStream()), event.getStreamVersion()));
      const std::string_view key = View(event.getIdempotencyKey());
      if (!key.empty()) idempotency_index_.Expect(position, hash_(key, 0));
    });
    KJ_IF_MAYBE(e, exception) {
      return std::string("does not decode: ") + e->getDescription().cStr();
    }
    return problem;
  }

  [[nodiscard]] IndexMatch& streams_index() { return streams_index_; }
  [[nodiscard]] IndexMatch& idempotency_index() { return idempotency_index_; }
  [[nodiscard]] std::size_t stream_count() const { return stream_versions_.size(); }

 private:
  std::optional<std::string> CheckStream(std::string_view stream, std::uint64_t version) {
    if (stream.empty()) return "it has no stream";
    auto it = stream_versions_.find(stream);
    const std::uint64_t current = it == stream_versions_.end() ? 0 : it->second;
    if (version != current + 1) {
      return "stream '" + std::string(stream) + "' goes from version " + std::to_string(current) +
             " to " + std::to_string(version);
    }
    if (it == stream_versions_.end()) {
      stream_versions_.emplace(std::string(stream), 1);
    } else {
      it->second = version;
    }
    return std::nullopt;
  }

  const EntryHash& hash_;
  std::unordered_map<std::string, std::uint64_t, BalanceBook::KeyHash, std::equal_to<>>
      stream_versions_;
  IndexMatch streams_index_;
  IndexMatch idempotency_index_;
};

// The second thread: checks each submitted chunk's hashes in order.
class HashChecker {
 public:
  explicit HashChecker(StreamChecker& streams) : streams_(streams), thread_([this] { Loop(); }) {}
  ~HashChecker() { Close(); }

  // Waits until `chunk` is no longer being hashed (so it may be refilled).
  void WaitIdle(Chunk& chunk) {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return chunk.hashed; });
  }
  void Submit(Chunk& chunk) {
    {
      std::lock_guard lock(mutex_);
      chunk.hashed = false;
      queue_.push_back(&chunk);
    }
    work_.notify_one();
  }
  // Position of the first hash failure so far (0: none); the reader stops past it.
  [[nodiscard]] std::uint64_t FailedAt() const { return failed_at_.load(std::memory_order_relaxed); }
  // Finishes every submitted chunk and returns the first failure.
  Finding Close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    work_.notify_one();
    if (thread_.joinable()) thread_.join();
    return finding_;
  }

 private:
  void Loop() {
    for (;;) {
      Chunk* chunk = nullptr;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        chunk = queue_.front();
        queue_.erase(queue_.begin());
      }
      if (!finding_.found()) Check(*chunk);
      {
        std::lock_guard lock(mutex_);
        chunk->hashed = true;
      }
      idle_.notify_all();
    }
  }

  void Check(const Chunk& chunk) {
    for (const Chunk::Slot& slot : chunk.slots) {
      const std::string_view value = chunk.Value(slot);
      const std::size_t bytes = value.size() - kHashBytes;
      // The reader reports malformed values.
      if (value.size() <= kHashBytes || bytes % 8 != 0 || bytes > kEventBytesMax) return;
      Hash stored;
      std::memcpy(stored.data(), value.data(), kHashBytes);
      if (ChainHash(previous_, value.substr(kHashBytes)) != stored) {
        finding_ = {slot.position,
                    "its stored hash is not SHA-256(previous hash || its bytes): the event or "
                    "the one before it was altered after it was written"};
        failed_at_.store(slot.position, std::memory_order_relaxed);
        return;
      }
      previous_ = stored;
      const auto* words = &chunk.words[slot.offset_words + kHashBytes / 8];
      if (auto problem = streams_.Check(slot.position, {words, (value.size() - kHashBytes) / 8})) {
        finding_ = {slot.position, *problem};
        failed_at_.store(slot.position, std::memory_order_relaxed);
        return;
      }
    }
  }

  StreamChecker& streams_;
  std::mutex mutex_;
  std::condition_variable work_;
  std::condition_variable idle_;
  std::vector<Chunk*> queue_;  // Guarded by mutex_.
  bool closed_ = false;        // Guarded by mutex_.
  Hash previous_{};            // Checker thread only.
  Finding finding_;            // Checker thread only until joined.
  std::atomic<std::uint64_t> failed_at_{0};
  std::thread thread_;
};

// The reading thread's checks, event by event.
class LogChecker {
 public:
  explicit LogChecker(std::uint64_t events) {
    book_.Reserve(static_cast<std::size_t>(std::min<std::uint64_t>(events, kMapsReservedMax)));
  }

  // Checks the event stored under `position`; returns what is wrong.
  std::optional<std::string> Check(std::uint64_t position, std::string_view value,
                                   const capnp::word* aligned) {
    if (value.size() <= kHashBytes) return "its stored value is too short";
    const std::size_t bytes = value.size() - kHashBytes;
    if (bytes % sizeof(capnp::word) != 0 || bytes > kEventBytesMax) {
      return "its stored bytes have an impossible size " + std::to_string(bytes);
    }
    if (auto problem = DecodeView({aligned + kHashBytes / 8, bytes / 8}, view_)) return problem;
    if (view_.position != position) {
      return "it is stored under position " + std::to_string(position) + " but is event " +
             std::to_string(view_.position) + " (events moved or swapped)";
    }
    if (view_.prev_hash.size() != kHashBytes ||
        std::memcmp(view_.prev_hash.begin(), previous_.data(), kHashBytes) != 0) {
      return "its prev_hash does not link to the hash of the event before it";
    }
    std::memcpy(previous_.data(), value.data(), kHashBytes);
    if (view_.opened) {
      if (auto problem = book_.OpenAccount(view_.opened->first, view_.opened->second)) {
        return problem;
      }
    }
    return book_.Apply({view_.postings.data(), view_.posting_count});
  }

  [[nodiscard]] const Hash& last_hash() const { return previous_; }
  [[nodiscard]] const BalanceBook& book() const { return book_; }
 private:
  EventView view_;
  Hash previous_{};
  BalanceBook book_;
};

struct Summary {
  std::uint64_t events = 0;
  Hash head_hash{};
  std::size_t accounts = 0;
  std::size_t streams = 0;
  std::vector<std::pair<std::string, __int128>> asset_sums;
  double seconds = 0;
};

// The events pass over positions 1..`head` (meta's head; a longer log is a finding). Fills the
// checkers; returns the first problem.
Result<Finding> CheckEvents(Store& store, std::uint64_t head, LogChecker& checker,
                            StreamChecker& streams, Progress& progress,
                            std::uint64_t* last_position) {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = kEventsReadaheadBytes;
  std::unique_ptr<rocksdb::Iterator> it(
      store.db()->NewIterator(options, store.ColumnFamily("events")));
  std::array<Chunk, kChunksInFlight> chunks;
  HashChecker hashes(streams);
  Finding finding;
  std::uint64_t expected = 1;
  it->SeekToFirst();
  for (std::size_t c = 0; it->Valid() && !finding.found(); c = (c + 1) % kChunksInFlight) {
    Chunk& chunk = chunks[c];
    hashes.WaitIdle(chunk);
    chunk.Clear();
    for (; it->Valid(); it->Next(), ++expected) {
      const rocksdb::Slice key = it->key();
      const std::uint64_t position = key.size() == 8 ? ReadBigEndian64(key.data()) : 0;
      if (position != expected) {
        finding = {expected, position > expected
                                 ? "it is missing from the log (the next stored event is " +
                                       std::to_string(position) + ")"
                                 : "a malformed key follows the event before it"};
        break;
      }
      if (position > head) {
        finding = {position, "it is past meta's head " + std::to_string(head)};
        break;
      }
      if (!chunk.Fits(it->value().size())) {
        if (chunk.slots.empty()) finding = {position, "its stored value is impossibly large"};
        break;
      }
      chunk.Add(position, it->value().ToStringView());
    }
    hashes.Submit(chunk);
    for (const Chunk::Slot& slot : chunk.slots) {
      const std::uint64_t hash_failure = hashes.FailedAt();
      if (hash_failure != 0 && slot.position > hash_failure) break;
      if (auto problem = checker.Check(slot.position, chunk.Value(slot),
                                       &chunk.words[slot.offset_words])) {
        finding.Merge({slot.position, *problem});
        break;
      }
      *last_position = slot.position;
      progress.Update(slot.position);
    }
    if (hashes.FailedAt() != 0) break;
  }
  finding.Merge(hashes.Close());
  if (!it->status().ok()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading the log: " + it->status().ToString());
  }
  return finding;
}

// meta's head must be the last event.
Finding CheckHead(Store& store, std::uint64_t last, const Hash& last_hash) {
  const std::uint64_t head = store.HeadPosition();
  if (head > last) {
    return {last + 1, "it is missing from the log: meta's head is " + std::to_string(head) +
                          " but the log ends at " + std::to_string(last)};
  }
  if (head < last) {
    return {head + 1, "it is past meta's head " + std::to_string(head) +
                          " (the log ends at " + std::to_string(last) + ")"};
  }
  if (last != 0 && store.HeadHash() != last_hash) {
    return {last, "meta's head hash differs from the last event's hash"};
  }
  return {};
}

std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text) out.push_back(c == '\0' ? '|' : c);
  return out;
}

// Scans one index column family into `match`. `Entry` splits (key, value) into the text and
// number the log pass hashed, and the position it points at; nullopt if malformed.
template <typename Entry>
Result<Finding> ScanIndex(Store& store, std::string_view family, std::string_view what,
                          std::uint64_t last, const EntryHash& hash, IndexMatch& match,
                          Entry entry) {
  rocksdb::ReadOptions options;
  options.fill_cache = false;
  options.readahead_size = kEventsReadaheadBytes;
  auto it = NewKeyOrderIterator(*store.db(), *store.ColumnFamily(family), options);
  Finding finding;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    auto parsed = entry(key, it->value().ToStringView());
    if (!parsed) {
      finding.Merge({last + 1, std::string(what) + " '" + Printable(key) + "' is malformed"});
      continue;
    }
    const auto [text, number, position] = *parsed;
    const std::string name = std::string(what) + " '" + Printable(text) + "'" +
                             (number == 0 ? "" : " version " + std::to_string(number));
    if (position == 0 || position > last) {
      finding.Merge({position == 0 ? last + 1 : position,
                     name + " points at position " + std::to_string(position) +
                         ", past the last event " + std::to_string(last)});
    } else if (!match.Found(position, hash(text, number))) {
      finding.Merge({position, "more than one " + std::string(what) + " points at it (one is " + name + ")"});
    }
  }
  if (!it->status().ok()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading the " + std::string(family) + " index: " + it->status().ToString());
  }
  return finding;
}

struct IndexEntry {
  std::string_view text;
  std::uint64_t number;
  std::uint64_t position;
};

// Both indexes scanned, each on a thread of its own, while the log pass runs (positions are
// bounded by meta's head; the log pass reports a log that ends elsewhere).
class IndexScans {
 public:
  IndexScans(Store& store, StreamChecker& checker, std::uint64_t head, const EntryHash& hash)
      : streams_thread_([&store, &checker, head, &hash, this] {
          streams_ = ScanIndex(store, "streams", "stream index entry", head, hash,
                               checker.streams_index(), StreamEntry);
        }),
        idempotency_thread_([&store, &checker, head, &hash, this] {
          idempotency_ = ScanIndex(store, "idempotency", "idempotency record", head, hash,
                                   checker.idempotency_index(), IdempotencyEntry);
        }) {}
  ~IndexScans() { (void)Join(); }
  IndexScans(const IndexScans&) = delete;
  IndexScans& operator=(const IndexScans&) = delete;

  // Waits for both scans: their findings, or a storage error.
  Result<Finding> Join() {
    if (streams_thread_.joinable()) streams_thread_.join();
    if (idempotency_thread_.joinable()) idempotency_thread_.join();
    if (!streams_) return streams_;
    if (!idempotency_) return idempotency_;
    Finding finding = *streams_;
    finding.Merge(*idempotency_);
    return finding;
  }

 private:
  static std::optional<IndexEntry> StreamEntry(std::string_view key, std::string_view value) {
    if (key.size() < 9 || key[key.size() - 9] != '\0' || value.size() != 8) return std::nullopt;
    return IndexEntry{key.substr(0, key.size() - 9), ReadBigEndian64(key.data() + key.size() - 8),
                      ReadBigEndian64(value.data())};
  }
  static std::optional<IndexEntry> IdempotencyEntry(std::string_view key, std::string_view value) {
    if (value.size() != kHashBytes + 8) return std::nullopt;
    return IndexEntry{key, 0, ReadBigEndian64(value.data() + kHashBytes)};
  }

  Result<Finding> streams_ = Finding{};
  Result<Finding> idempotency_ = Finding{};
  std::thread streams_thread_;
  std::thread idempotency_thread_;
};

// After a clean log pass: what the scans found, and where index and log disagree.
Finding CheckIndexes(Store& store, StreamChecker& checker, std::uint64_t last, Finding scans) {
  Finding finding = std::move(scans);
  // Name the event's stream and key in the message (the event itself was verified above).
  auto describe = [&](std::uint64_t position) -> std::string {
    auto stored = store.Read(position);
    if (!stored) return "";
    const Envelope& e = stored->event.envelope;
    return " (stream '" + e.stream + "' version " + std::to_string(e.stream_version) +
           ", idempotency key '" + e.idempotency_key + "')";
  };
  if (auto [position, found] = checker.streams_index().FirstMismatch(last); position != 0) {
    finding.Merge({position, (found ? "the stream index entry pointing at it names another "
                                      "stream or version"
                                    : "it has no stream index entry") +
                                 describe(position)});
  }
  if (auto [position, found] = checker.idempotency_index().FirstMismatch(last); position != 0) {
    finding.Merge({position, (found ? "an idempotency record points at it under another key"
                                    : "it has no idempotency record") +
                                 describe(position)});
  }
  return finding;
}

std::string AssetSumText(__int128 sum) {
  if (sum >= std::numeric_limits<std::int64_t>::min() &&
      sum <= std::numeric_limits<std::int64_t>::max()) {
    return std::to_string(static_cast<std::int64_t>(sum));
  }
  return sum < 0 ? "below -2^63" : "above 2^63";
}

void PrintResult(bool json, const Finding& finding, const Summary& summary) {
  const double rate = summary.seconds > 0 ? static_cast<double>(summary.events) / summary.seconds
                                          : 0;
  if (json) {
    rapidjson::StringBuffer buffer;
    transport::JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("ok");
    writer.Bool(!finding.found());
    if (finding.found()) {
      writer.Key("position");
      writer.Uint64(finding.position);
      writer.Key("problem");
      writer.String(finding.what.c_str(), static_cast<rapidjson::SizeType>(finding.what.size()));
    }
    writer.Key("events");
    writer.Uint64(summary.events);
    if (!finding.found()) {
      const std::string hash = HashToHex(summary.head_hash);
      writer.Key("head_position");
      writer.Uint64(summary.events);
      writer.Key("head_hash");
      writer.String(hash.c_str(), static_cast<rapidjson::SizeType>(hash.size()));
      writer.Key("streams");
      writer.Uint64(summary.streams);
      writer.Key("accounts");
      writer.Uint64(summary.accounts);
      writer.Key("assets");
      writer.Uint64(summary.asset_sums.size());
    }
    writer.Key("seconds");
    writer.Double(summary.seconds);
    writer.Key("events_per_second");
    writer.Double(rate);
    writer.EndObject();
    std::printf("%s\n", buffer.GetString());
    return;
  }
  if (finding.found()) {
    std::printf("FAILED at position %llu: %s\n",
                static_cast<unsigned long long>(finding.position), finding.what.c_str());
    std::printf("events verified before it: %llu\n",
                static_cast<unsigned long long>(std::min(finding.position - 1, summary.events)));
    return;
  }
  std::printf("OK: %llu events verified (positions 1..%llu, gapless)\n",
              static_cast<unsigned long long>(summary.events),
              static_cast<unsigned long long>(summary.events));
  std::printf("head: position %llu, hash %s (matches meta)\n",
              static_cast<unsigned long long>(summary.events),
              HashToHex(summary.head_hash).c_str());
  std::printf("hash chain: intact; stream index and idempotency records: agree with the log\n");
  std::printf("streams: %zu, accounts: %zu; no protected account below zero\n", summary.streams,
              summary.accounts);
  for (const auto& [asset, sum] : summary.asset_sums) {
    std::printf("asset %s: balances sum to %s\n", asset.c_str(), AssetSumText(sum).c_str());
  }
  std::printf("took %.2f s, %.0f events/s\n", summary.seconds, rate);
}

// The whole verification; Finding or an error that kept it from running.
Result<Finding> Verify(Store& store, bool quiet, Summary* summary) {
  const std::uint64_t head = store.HeadPosition();
  Progress progress(kVerb, head, quiet);
  const EntryHash hash(std::random_device{}() * 0x100000001ull ^ std::random_device{}());
  // Sized by meta's head; a log longer than that is reported by CheckHead, and the index
  // matches only cover positions up to the head.
  LogChecker checker(head);
  StreamChecker streams(head, hash);
  std::uint64_t last = 0;
  IndexScans scans(store, streams, head, hash);
  auto events = CheckEvents(store, head, checker, streams, progress, &last);
  auto scanned = scans.Join();
  if (!events) return events;
  if (!scanned) return scanned;
  summary->events = last;
  summary->head_hash = checker.last_hash();
  Finding finding = *events;
  if (!finding.found()) finding = CheckHead(store, last, checker.last_hash());
  if (!finding.found()) {
    finding = CheckIndexes(store, streams, last, *scanned);
  }
  if (!finding.found()) {
    summary->asset_sums = checker.book().AssetSums();
    for (const auto& [asset, sum] : summary->asset_sums) {
      if (sum != 0) finding = {last, "the balances of asset " + asset + " sum to " + AssetSumText(sum)};
    }
  }
  summary->accounts = checker.book().accounts().size();
  summary->streams = streams.stream_count();
  progress.Finish(last);
  summary->seconds = progress.ElapsedSeconds();
  return finding;
}

}  // namespace

int RunVerify(std::span<char* const> args) {
  static constexpr std::string_view kWithValue[] = {"--data"};
  static constexpr std::string_view kSwitches[] = {"--json"};
  auto flags = ParseFlags(args, kWithValue, kSwitches);
  if (!flags) return UsageError(kVerb, flags.error());
  if (!flags->Has("--data")) {
    return UsageError(kVerb, MakeError(ErrorKind::kInvalidArgument, "invalid_argument",
                                       "--data DIR is required"));
  }
  const bool json = flags->Has("--json");
  auto audit = AuditStore::Open(flags->Get("--data"), /*skip_head_check=*/true);
  if (!audit) return CannotRun(kVerb, audit.error());
  // A running ledgerd's dir: verify everything durable now, as one consistent prefix.
  if (auto refreshed = (*audit)->Refresh(); !refreshed) {
    return CannotRun(kVerb, refreshed.error());
  }
  Summary summary;
  auto finding = Verify((*audit)->store(), json, &summary);
  if (!finding) return CannotRun(kVerb, finding.error());
  PrintResult(json, *finding, summary);
  return finding->found() ? kExitFinding : kExitOk;
}

}  // namespace ledger::replay
