#include "projections/search_projection.h"

#include <mutex>
#include <variant>

#include "projections/internal/encoding.h"

namespace ledger::projections {
namespace {

using internal::AppendFixed;
using internal::AppendSized;
using internal::ReadFixed;
using internal::ReadSized;

constexpr char kDocumentFormat = 1;
constexpr std::string_view kIncome = "income";
constexpr std::string_view kOther = "other";
constexpr std::string_view kExpenditure = "expenditure";

constexpr std::array<char, kSearchIndexCount> kIndexKeyBytes = {'s', 'e'};
constexpr std::size_t kLoadReadaheadBytes = 4 << 20;

Error Corruption(std::string message) {
  return MakeError(ErrorKind::kCorruption, "corruption",
                   "search projection: " + std::move(message));
}

// The string fields of a document in stored order.
template <typename Document>
auto StringFields(Document& document) {
  return std::array{&document.record_id, &document.type,     &document.order_id,
                    &document.merchant,  &document.account,  &document.counterparty,
                    &document.kind,      &document.category, &document.asset,
                    &document.ref,       &document.memo};
}

// A document of event `envelope` with the fields every document of it shares.
SearchDocument BaseDocument(const Envelope& envelope, std::size_t index, TimestampUs occurred_at) {
  SearchDocument document;
  document.record_id = std::to_string(envelope.position) + "." + std::to_string(index);
  document.type = std::string(EventTypeName(envelope.type));
  document.position = static_cast<std::int64_t>(envelope.position);
  document.occurred_at_us = occurred_at;
  return document;
}

// The kind of the first line of `lines` paid to `account` other than the merchant's own.
std::string_view SplitKindOf(const std::vector<SettlementLine>& lines, std::string_view account) {
  for (const SettlementLine& line : lines) {
    if (line.kind != kMerchantLineKind && line.to == account) return line.kind;
  }
  return kOther;
}

// One document per line of an OrderSettled or OrderRefunded: the line's account gets `sign`
// times its amount.
template <typename Order>
void LineDocuments(const Envelope& envelope, const Order& order, TimestampUs occurred_at,
                   std::string_view ref, std::int64_t sign, std::vector<SearchDocument>* out) {
  constexpr bool kSettled = std::is_same_v<Order, OrderSettled>;
  for (std::size_t i = 0; i < order.lines.size(); ++i) {
    const SettlementLine& line = order.lines[i];
    SearchDocument document = BaseDocument(envelope, i, occurred_at);
    document.order_id = order.order_id;
    document.merchant = order.merchant;
    document.account = line.to;
    document.counterparty = order.payer;
    document.kind = line.kind;
    document.category = std::string(kSettled && line.kind == kMerchantLineKind ? kIncome : kOther);
    document.asset = order.asset;
    document.amount = sign * line.amount;
    document.ref = ref;
    out->push_back(std::move(document));
  }
}

// Settlement-record documents (index settlements) of the events that have them.
void SettlementDocuments(const Event& event, TimestampUs occurred_at,
                         std::vector<SearchDocument>* out) {
  const Envelope& envelope = event.envelope;
  if (const auto* settled = std::get_if<OrderSettled>(&event.payload)) {
    LineDocuments(envelope, *settled, occurred_at, settled->order_id, 1, out);
  } else if (const auto* refunded = std::get_if<OrderRefunded>(&event.payload)) {
    LineDocuments(envelope, *refunded, occurred_at, refunded->refund_id, -1, out);
  } else if (const auto* paid = std::get_if<MerchantPaidOut>(&event.payload)) {
    SearchDocument document = BaseDocument(envelope, 0, occurred_at);
    document.merchant = paid->merchant;
    document.account = paid->merchant;
    document.counterparty = paid->bank_account;
    document.kind = "payout";
    document.category = std::string(kExpenditure);
    document.asset = paid->asset;
    document.amount = -paid->amount;
    document.ref = paid->payout_id;
    out->push_back(std::move(document));
  }
}

// The fields of an entries document that depend on the event's payload and the posting.
struct EntryTraits {
  std::string_view kind;
  std::string_view category = kOther;
  std::string_view merchant, order_id, ref, memo;
};

EntryTraits EntryTraitsOf(const Event& event, const Posting& posting) {
  return std::visit(
      [&posting](const auto& payload) -> EntryTraits {
        using T = std::decay_t<decltype(payload)>;
        if constexpr (std::is_same_v<T, AssetChanged>) {
          return {.kind = payload.source.empty() ? std::string_view("asset_change")
                                                 : std::string_view(payload.source),
                  .ref = payload.ref,
                  .memo = payload.reason};
        } else if constexpr (std::is_same_v<T, Transferred>) {
          std::string_view memo;
          for (const auto& [key, value] : payload.metadata) {
            if (key == "memo") memo = value;
          }
          return {.kind = "transfer", .ref = payload.ref, .memo = memo};
        } else if constexpr (std::is_same_v<T, OrderSettled>) {
          const bool payment = posting.from == payload.payer && posting.to == payload.merchant;
          return {.kind = payment ? std::string_view("payment")
                                  : SplitKindOf(payload.lines, posting.to),
                  .category = payment ? kIncome : kOther,
                  .merchant = payload.merchant,
                  .order_id = payload.order_id,
                  .ref = payload.order_id};
        } else if constexpr (std::is_same_v<T, OrderRefunded>) {
          const bool refund = posting.from == payload.merchant && posting.to == payload.payer;
          return {.kind = refund ? std::string_view("refund")
                                 : SplitKindOf(payload.lines, posting.from),
                  .merchant = payload.merchant,
                  .order_id = payload.order_id,
                  .ref = payload.refund_id};
        } else if constexpr (std::is_same_v<T, MerchantPaidOut>) {
          return {.kind = "payout",
                  .category = kExpenditure,
                  .merchant = payload.merchant,
                  .ref = payload.payout_id};
        } else if constexpr (std::is_same_v<T, VoucherGranted>) {
          return {.kind = "voucher_grant", .ref = payload.grant_id};
        } else if constexpr (std::is_same_v<T, VoucherRedeemed>) {
          return {.kind = "voucher_redemption",
                  .order_id = payload.order_id,
                  .ref = payload.redemption_id};
        } else {
          return {.kind = EventTypeName(PayloadType(T{}))};
        }
      },
      event.payload);
}

void EntryDocuments(const Event& event, TimestampUs occurred_at, std::vector<SearchDocument>* out) {
  for (std::size_t j = 0; j < event.postings.size(); ++j) {
    const Posting& posting = event.postings[j];
    const EntryTraits traits = EntryTraitsOf(event, posting);
    SearchDocument document = BaseDocument(event.envelope, j, occurred_at);
    document.order_id = traits.order_id;
    document.merchant = traits.merchant;
    document.account = posting.to;
    document.counterparty = posting.from;
    document.kind = traits.kind;
    document.category = traits.category;
    document.asset = posting.asset;
    document.amount = posting.amount;
    document.ref = traits.ref;
    document.memo = traits.memo;
    out->push_back(std::move(document));
  }
}

TimestampUs OccurredAt(const Event& event) {
  if (const auto* settled = std::get_if<OrderSettled>(&event.payload)) {
    if (settled->occurred_at_us != 0) return settled->occurred_at_us;
  }
  return event.envelope.recorded_at_us;
}

}  // namespace

void SetSearchDocumentKey(SearchIndexId index, std::uint32_t number, std::string* key) {
  key->assign(1, 'd');
  key->push_back(kIndexKeyBytes[static_cast<std::size_t>(index)]);
  internal::AppendBigEndian32(number, key);
}

std::string SearchDocumentKey(SearchIndexId index, std::uint32_t number) {
  std::string key;
  SetSearchDocumentKey(index, number, &key);
  return key;
}

void EncodeSearchDocument(const SearchDocument& document, std::string* out) {
  out->clear();
  out->push_back(kDocumentFormat);
  for (const std::string* field : StringFields(document)) AppendSized<std::uint32_t>(*field, out);
  AppendFixed(document.amount, out);
  AppendFixed(document.position, out);
  AppendFixed(document.occurred_at_us, out);
}

bool DecodeSearchDocument(std::string_view bytes, SearchDocument* document) {
  if (bytes.empty() || bytes.front() != kDocumentFormat) return false;
  bytes.remove_prefix(1);
  for (std::string* field : StringFields(*document)) {
    if (!ReadSized<std::uint32_t>(&bytes, field)) return false;
  }
  return ReadFixed(&bytes, &document->amount) && ReadFixed(&bytes, &document->position) &&
         ReadFixed(&bytes, &document->occurred_at_us) && bytes.empty();
}

void SearchDocumentsOf(const Event& event, std::vector<SearchDocument>* settlements,
                       std::vector<SearchDocument>* entries) {
  const TimestampUs occurred_at = OccurredAt(event);
  SettlementDocuments(event, occurred_at, settlements);
  EntryDocuments(event, occurred_at, entries);
}

SearchProjection::SearchProjection() {
  for (auto& index : indexes_) index = std::make_unique<SearchIndex>();
}

SearchProjection::~SearchProjection() = default;

Status SearchProjection::Apply(const Event& event, ViewWriter& view) {
  scratch_settlements_.clear();
  scratch_entries_.clear();
  SearchDocumentsOf(event, &scratch_settlements_, &scratch_entries_);
  const std::array<std::vector<SearchDocument>*, kSearchIndexCount> produced = {
      &scratch_settlements_, &scratch_entries_};
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    for (SearchDocument& document : *produced[i]) {
      if (next_document_[i] == std::numeric_limits<std::uint32_t>::max()) {
        return Fail(ErrorKind::kOverloaded, "search_index_full",
                    "search index " + std::string(SearchIndexName(SearchIndexId(i))) +
                        " holds the most documents it can number (2^32 - 1)");
      }
      EncodeSearchDocument(document, &value_);
      SetSearchDocumentKey(SearchIndexId(i), next_document_[i]++, &key_);
      view.PutWriteOnly(key_, value_);
      staged_[i].push_back(std::move(document));
    }
  }
  return Ok();
}

Status SearchProjection::Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
  rocksdb::ManagedSnapshot snapshot(&db);
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  std::array<std::unique_ptr<SearchIndex>, kSearchIndexCount> loaded;
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    loaded[i] = std::make_unique<SearchIndex>();
    const std::string prefix = SearchDocumentKey(SearchIndexId(i), 0).substr(0, 2);
    rocksdb::ReadOptions options = ReadAt(snapshot);
    options.readahead_size = kLoadReadaheadBytes;  // One sequential pass: read ahead, do not
    options.fill_cache = false;                    // evict what queries need from the cache.
    auto iterator = NewKeyOrderIterator(db, family, options);
    SearchDocument document;
    for (iterator->Seek(prefix); iterator->Valid() && iterator->key().starts_with(prefix);
         iterator->Next()) {
      const std::uint32_t expected = loaded[i]->DocumentCount();
      if (iterator->key().ToStringView() != SearchDocumentKey(SearchIndexId(i), expected)) {
        return std::unexpected(Corruption("document " + std::to_string(expected) + " of " +
                                          std::string(SearchIndexName(SearchIndexId(i))) +
                                          " is missing or a key is malformed"));
      }
      if (!DecodeSearchDocument(iterator->value().ToStringView(), &document)) {
        return std::unexpected(Corruption("document " + std::to_string(expected) + " of " +
                                          std::string(SearchIndexName(SearchIndexId(i))) +
                                          " does not decode"));
      }
      loaded[i]->Add(document);
    }
    if (!iterator->status().ok()) {
      return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                  "search projection: " + iterator->status().ToString());
    }
    next_document_[i] = loaded[i]->DocumentCount();
    staged_[i].clear();
  }
  std::unique_lock lock(mutex_);
  indexes_ = std::move(loaded);
  position_ = *checkpoint;
  db_ = &db;
  family_ = &family;
  return Ok();
}

void SearchProjection::BatchCommitted(std::uint64_t checkpoint) {
  std::unique_lock lock(mutex_);
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    for (const SearchDocument& document : staged_[i]) indexes_[i]->Add(document);
    staged_[i].clear();
  }
  position_ = checkpoint;
}

Result<SearchResult> SearchProjection::Search(const SearchRequest& request) const {
  std::shared_lock lock(mutex_);
  auto result = indexes_[static_cast<std::size_t>(request.index)]->Search(request);
  if (!result) return result;
  result->position = position_;
  std::string value;
  for (SearchHit& hit : result->hits) {
    const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family_,
                                            SearchDocumentKey(request.index, hit.doc), &value);
    if (!status.ok()) {
      return Fail(status.IsNotFound() ? ErrorKind::kCorruption : ErrorKind::kUnavailable,
                  status.IsNotFound() ? "corruption" : "storage_unavailable",
                  "search projection: reading document " + std::to_string(hit.doc) + ": " +
                      status.ToString());
    }
    if (!DecodeSearchDocument(value, &hit.source)) {
      return std::unexpected(
          Corruption("document " + std::to_string(hit.doc) + " does not decode"));
    }
  }
  return result;
}

Result<std::pair<std::uint64_t, std::uint64_t>> SearchProjection::Count(
    SearchIndexId index, const SearchQuery& query) const {
  std::shared_lock lock(mutex_);
  return std::pair{indexes_[static_cast<std::size_t>(index)]->Count(query), position_};
}

std::uint64_t SearchProjection::Position() const {
  std::shared_lock lock(mutex_);
  return position_;
}

std::uint64_t SearchProjection::DocumentCount(SearchIndexId index) const {
  std::shared_lock lock(mutex_);
  return indexes_[static_cast<std::size_t>(index)]->DocumentCount();
}

std::size_t SearchProjection::MemoryBytes(SearchIndexId index) const {
  std::shared_lock lock(mutex_);
  return indexes_[static_cast<std::size_t>(index)]->MemoryBytes();
}

}  // namespace ledger::projections
