// The search projection: an Elasticsearch-compatible index over settlement records (index
// "settlements": one document per OrderSettled line, OrderRefunded line and MerchantPaidOut) and
// postings (index "entries": one document per posting of any event). docs/search.md defines each
// document's fields per event type.
//
// Durable form, in its column family, written with the checkpoint in the runner's one write:
//   "d" + index byte ('s' | 'e') + BE32(document number) -> the document (EncodeSearchDocument)
// Documents are numbered from 0 per index, in log order, and never change: the index is
// append-only, so a document number below the published count always names the same document.
// The searchable structures (posting bitmaps per keyword term, numeric and date columns, the
// memo field's token postings with term frequencies and lengths) live in memory and are built
// from the documents: by Apply's batches as they commit, and by Load from the stored documents
// at start (docs/search.md gives the load rate and the memory per document). So the stored
// bytes depend on the log alone (replay reproduces them key for key) and indexing costs one
// RocksDB put per document.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"
#include "projections/search_index.h"
#include "projections/search_query.h"

namespace ledger::projections {

// The bytes of `document` in the document store, and back. DecodeSearchDocument returns false
// on malformed bytes.
void EncodeSearchDocument(const SearchDocument& document, std::string* out);
[[nodiscard]] bool DecodeSearchDocument(std::string_view bytes, SearchDocument* document);

// The documents `event` adds to each index, in document order (docs/search.md).
void SearchDocumentsOf(const Event& event, std::vector<SearchDocument>* settlements,
                       std::vector<SearchDocument>* entries);

class SearchProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "search";

  SearchProjection();
  ~SearchProjection() override;
  SearchProjection(const SearchProjection&) = delete;
  SearchProjection& operator=(const SearchProjection&) = delete;

  [[nodiscard]] std::string_view Name() const override { return kName; }
  // Worker thread only. Writes the event's documents to the store and stages them for the
  // in-memory index.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;
  // Worker thread only. Rebuilds the in-memory indexes from the stored documents and the
  // checkpoint (one snapshot); forgets staged documents. kUnavailable on a storage error,
  // kCorruption if a document does not decode or the numbering has a gap.
  [[nodiscard]] Status Load(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) override;
  // Worker thread only. Adds the staged documents to the indexes and publishes `checkpoint`.
  void BatchCommitted(std::uint64_t checkpoint) override;

  // --- Readers: any thread, concurrently with the worker. ---
  // Runs `request` against the published state. Errors: kInvalidArgument for a request the
  // engine cannot run (the parser checks types first, so these are bugs or limits:
  // "too_many_buckets", "invalid_search_after"), kUnavailable/kCorruption reading a hit's
  // document.
  [[nodiscard]] Result<SearchResult> Search(const SearchRequest& request) const;
  // The number of documents `query` matches in `index`, and the position it reflects.
  [[nodiscard]] Result<std::pair<std::uint64_t, std::uint64_t>> Count(
      SearchIndexId index, const SearchQuery& query) const;
  // The published checkpoint.
  [[nodiscard]] std::uint64_t Position() const;
  // Published documents in `index`.
  [[nodiscard]] std::uint64_t DocumentCount(SearchIndexId index) const;
  // Approximate heap bytes of the in-memory index of `index`.
  [[nodiscard]] std::size_t MemoryBytes(SearchIndexId index) const;

 private:
  // --- Worker thread only. ---
  rocksdb::DB* db_ = nullptr;  // Set by Load; hits' documents are read from it.
  rocksdb::ColumnFamilyHandle* family_ = nullptr;
  std::array<std::uint32_t, kSearchIndexCount> next_document_{};  // Staged included.
  // Documents applied but not yet committed, per index.
  std::array<std::vector<SearchDocument>, kSearchIndexCount> staged_;
  std::vector<SearchDocument> scratch_settlements_, scratch_entries_;
  std::string key_, value_;  // Scratch: no allocation per document once warm.

  // --- Published: guarded by mutex_. ---
  mutable std::shared_mutex mutex_;
  std::array<std::unique_ptr<SearchIndex>, kSearchIndexCount> indexes_;
  std::uint64_t position_ = 0;
};

// The document-store key of document `number` of `index`, returned or written over `*key`.
[[nodiscard]] std::string SearchDocumentKey(SearchIndexId index, std::uint32_t number);
void SetSearchDocumentKey(SearchIndexId index, std::uint32_t number, std::string* key);

}  // namespace ledger::projections
