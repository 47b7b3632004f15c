// The in-memory search index of one index (settlements or entries): everything a query needs
// except _source, which the caller reads from the document store. Append-only: documents are
// numbered 0, 1, ... as added and never change. Not thread-safe: SearchProjection guards it
// (one writer, many readers under a shared lock).
//
// Per keyword field: a dictionary of terms (term -> ordinal) and per term a CRoaring bitmap of
// the documents holding it, plus a column of ordinals (sorting, terms aggregations); record_id
// is not stored: it is derived from the position column and a line column. Per long/date field:
// a column of values. The memo text field: per token a bitmap, term frequencies above 1, and
// each document's token count (BM25).
#pragma once

#include <cstdint>
#include <memory>
#include <roaring/roaring.hh>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"
#include "projections/search_query.h"

namespace ledger::projections {

class SearchIndex {
 public:
  SearchIndex();
  ~SearchIndex();
  SearchIndex(const SearchIndex&) = delete;
  SearchIndex& operator=(const SearchIndex&) = delete;

  // Adds `document` as number DocumentCount(). Its record_id must be "<position>.<n>" with
  // `position` its position field (asserted).
  void Add(const SearchDocument& document);
  [[nodiscard]] std::uint32_t DocumentCount() const;

  // Runs `request` (its index field is ignored) up to the hits' document numbers, scores and
  // sort values and the aggregations; the caller fills each hit's source and the position.
  // Errors: kInvalidArgument "too_many_buckets" (kSearchBucketsMax), "invalid_search_after"
  // (wrong number or type of values).
  [[nodiscard]] Result<SearchResult> Search(const SearchRequest& request) const;
  // The number of documents `query` matches.
  [[nodiscard]] std::uint64_t Count(const SearchQuery& query) const;
  // The documents `query` matches.
  [[nodiscard]] Roaring Match(const SearchQuery& query) const;

  [[nodiscard]] std::size_t MemoryBytes() const;

  // Defined in projections/internal/search_index_impl.h, for the engine's own files only.
  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::projections
