// The inside of SearchIndex (projections/search_index.h), shared by search_index.cc (storage,
// queries, hits) and search_aggregations.cc. Internal to projections/.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <roaring/roaring.hh>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ledger/status.h"
#include "projections/search_index.h"
#include "projections/search_query.h"

namespace ledger::projections::internal {

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
};
using TermOrdinals =
    std::unordered_map<std::string, std::uint32_t, TransparentHash, std::equal_to<>>;

// A dictionary-encoded keyword field. Ordinal 0 means "absent" (empty string).
struct KeywordColumn {
  TermOrdinals ordinals;                        // term -> ordinal (from 1)
  std::vector<std::string> terms = {""};        // ordinal -> term
  std::vector<Roaring> postings = {Roaring()};  // ordinal -> documents
  std::vector<std::uint32_t> column;            // document -> ordinal
  Roaring present;                              // documents with the field
  std::uint32_t last_ordinal = 0;               // Of the last document added with the field.

  std::uint32_t OrdinalOf(std::string_view term) const {
    const auto it = ordinals.find(term);
    return it == ordinals.end() ? 0 : it->second;
  }
};

// The memo text field: token postings, term frequencies above 1, token counts (BM25).
struct TextColumn {
  TermOrdinals ordinals;
  std::vector<Roaring> postings;                                 // ordinal (from 0) -> documents
  std::unordered_map<std::uint64_t, std::uint32_t> frequencies;  // (ordinal << 32 | doc) -> tf > 1
  std::vector<std::uint32_t> lengths;                            // document -> token count
  std::uint64_t total_tokens = 0;
  Roaring present;

  std::uint32_t FrequencyOf(std::uint32_t ordinal, std::uint32_t doc) const {
    const auto it = frequencies.find((std::uint64_t{ordinal} << 32) | doc);
    return it == frequencies.end() ? 1 : it->second;
  }
};

}  // namespace ledger::projections::internal

namespace ledger::projections {

struct SearchIndex::Impl {
  std::uint32_t count = 0;
  // Keyword fields by SearchField (record_id's slot stays empty: it is derived).
  std::array<internal::KeywordColumn, kSearchFieldCount> keywords;
  std::vector<std::int64_t> amount, position, occurred_at_ms;
  std::vector<std::uint32_t> line;  // record_id = position "." line
  internal::TextColumn memo;

  // --- Documents. ---
  [[nodiscard]] Roaring All() const;
  // The keyword value of `doc` (record_id is formatted into `*scratch`).
  [[nodiscard]] std::string_view KeywordOf(SearchField field, std::uint32_t doc,
                                           std::string* scratch) const;
  [[nodiscard]] std::int64_t NumberOf(SearchField field, std::uint32_t doc) const;
  [[nodiscard]] const std::vector<std::int64_t>& NumberColumn(SearchField field) const;
  // The documents of record `record_id` (at most one).
  [[nodiscard]] Roaring RecordDocuments(std::string_view record_id) const;

  // --- Queries (search_index.cc). ---
  // A memo token of a match query, with its BM25 idf.
  struct MatchTerm {
    std::uint32_t ordinal;
    double idf;
  };
  // What scoring needs of an evaluated query, computed once per search, not per document: the
  // bitmap of every node (each exact within the documents it was evaluated within, which contain
  // every document that can be a hit) and the known tokens of every match node.
  struct Evaluation {
    std::unordered_map<const SearchQuery*, Roaring> bitmaps;
    std::unordered_map<const SearchQuery*, std::vector<MatchTerm>> match_terms;
  };
  // The documents `query` matches among `within` (nullptr: all); records its nodes in
  // `*nodes` unless null.
  [[nodiscard]] Roaring Evaluate(const SearchQuery& query, const Roaring* within,
                                 Evaluation* nodes) const;
  [[nodiscard]] double Score(const SearchQuery& query, std::uint32_t doc,
                             const Evaluation& nodes) const;

  // --- Aggregations (search_aggregations.cc). ---
  [[nodiscard]] Result<std::vector<SearchAggregationResult>> Aggregate(
      const std::vector<SearchAggregation>& aggregations, const Roaring& documents) const;

 private:
  [[nodiscard]] Roaring EvaluateLeaf(const SearchQuery& query, const Roaring* within) const;
  [[nodiscard]] Roaring EvaluateBool(const SearchQuery& query, const Roaring* within,
                                     Evaluation* nodes) const;
  [[nodiscard]] Roaring EvaluateKeywordTerms(const SearchQuery& query) const;
  [[nodiscard]] Roaring EvaluateNumbers(const SearchQuery& query, const Roaring* within) const;
  [[nodiscard]] Roaring EvaluateMatch(const SearchQuery& query) const;
  // Documents among `within` whose keyword value satisfies `predicate`: over the dictionary
  // for stored fields, over the documents for record_id.
  [[nodiscard]] Roaring KeywordsWhere(SearchField field, const Roaring* within,
                                      const std::function<bool(std::string_view)>& predicate) const;
  // Documents among `within` whose value of `field` satisfies `predicate` (a column scan; the
  // position column, which never decreases, is cut by binary search when `range` is set).
  [[nodiscard]] Roaring NumbersWhere(SearchField field, const Roaring* within,
                                     const std::function<bool(std::int64_t)>& predicate) const;
  // The query's tokens the memo field knows, with their idf (a token given twice counts twice).
  [[nodiscard]] std::vector<MatchTerm> MatchTerms(const SearchQuery& query) const;
  [[nodiscard]] double MatchScore(const std::vector<MatchTerm>& terms, std::uint32_t doc) const;

  Result<SearchAggregationResult> AggregateOne(const SearchAggregation& aggregation,
                                               const Roaring& documents,
                                               std::size_t* buckets) const;
  Result<SearchAggregationResult> Terms(const SearchAggregation& aggregation,
                                        const Roaring& documents, std::size_t* buckets) const;
  Result<SearchAggregationResult> DateHistogram(const SearchAggregation& aggregation,
                                                const Roaring& documents,
                                                std::size_t* buckets) const;
  SearchAggregationResult Metric(const SearchAggregation& aggregation,
                                 const Roaring& documents) const;
};

}  // namespace ledger::projections
