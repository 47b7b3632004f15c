#include "projections/search_index.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "ledger/limits.h"
#include "projections/internal/search_index_impl.h"

namespace ledger::projections {
namespace {

using internal::KeywordColumn;
using Kind = SearchQuery::Kind;

// BM25 as Lucene 8 computes it (no (k1 + 1) factor), over the memo field.
constexpr double kBm25K1 = 1.2;
constexpr double kBm25B = 0.75;

bool IsKeyword(SearchField field) {
  return SearchFieldInfoOf(field).type == SearchFieldType::kKeyword;
}

// Leaves answered from postings or dictionaries, cheaper than column scans: a bool evaluates
// them first so that scans run over what they left.
int CostRank(const SearchQuery& query) {
  switch (query.kind) {
    case Kind::kMatchNone:
      return 0;
    case Kind::kTerm:
    case Kind::kTerms:
      return IsKeyword(query.field) ? 1 : 3;
    case Kind::kMatch:
    case Kind::kExists:
      return 1;
    case Kind::kPrefix:
      return 2;
    case Kind::kRange:
      return query.field == SearchField::kPosition ? 1 : 3;
    case Kind::kBool:
      return 4;
    case Kind::kMatchAll:
      return 5;
  }
  return 5;
}

Roaring Within(Roaring bitmap, const Roaring* within) {
  if (within != nullptr) bitmap &= *within;
  return bitmap;
}

Roaring FromVector(const std::vector<std::uint32_t>& docs) {
  return Roaring(docs.size(), docs.data());
}

// Whether every hit of `query` scores the same (so score order is index order).
bool ConstantScore(const SearchQuery& query) {
  if (query.kind == Kind::kMatch) return false;
  if (query.kind != Kind::kBool) return true;
  if (!query.should.empty()) return false;
  return std::all_of(query.must.begin(), query.must.end(), ConstantScore);
}

bool InRange(std::int64_t value, const SearchQuery& query) {
  return (!query.gt || value > *query.gt) && (!query.gte || value >= *query.gte) &&
         (!query.lt || value < *query.lt) && (!query.lte || value <= *query.lte);
}

bool InKeywordRange(std::string_view value, const SearchQuery& query) {
  return (!query.gt_keyword || value > *query.gt_keyword) &&
         (!query.gte_keyword || value >= *query.gte_keyword) &&
         (!query.lt_keyword || value < *query.lt_keyword) &&
         (!query.lte_keyword || value <= *query.lte_keyword);
}

}  // namespace

// --- Documents ---------------------------------------------------------------------------------

Roaring SearchIndex::Impl::All() const {
  Roaring all;
  if (count > 0) all.addRange(0, count);
  return all;
}

std::string_view SearchIndex::Impl::KeywordOf(SearchField field, std::uint32_t doc,
                                              std::string* scratch) const {
  if (field != SearchField::kRecordId) {
    const KeywordColumn& column = keywords[static_cast<std::size_t>(field)];
    return column.terms[column.column[doc]];
  }
  *scratch = std::to_string(position[doc]);
  scratch->push_back('.');
  *scratch += std::to_string(line[doc]);
  return *scratch;
}

const std::vector<std::int64_t>& SearchIndex::Impl::NumberColumn(SearchField field) const {
  switch (field) {
    case SearchField::kAmount:
      return amount;
    case SearchField::kPosition:
      return position;
    case SearchField::kOccurredAt:
      return occurred_at_ms;
    default:
      break;
  }
  LEDGER_ASSERT(false && "not a long or date field");
  return amount;
}

std::int64_t SearchIndex::Impl::NumberOf(SearchField field, std::uint32_t doc) const {
  return NumberColumn(field)[doc];
}

Roaring SearchIndex::Impl::RecordDocuments(std::string_view record_id) const {
  const std::size_t dot = record_id.find('.');
  std::int64_t record_position = 0;
  std::uint32_t record_line = 0;
  if (dot == std::string_view::npos) return Roaring();
  const auto [p_end, p_error] =
      std::from_chars(record_id.data(), record_id.data() + dot, record_position);
  const auto [l_end, l_error] =
      std::from_chars(record_id.data() + dot + 1, record_id.data() + record_id.size(), record_line);
  if (p_error != std::errc() || p_end != record_id.data() + dot || l_error != std::errc() ||
      l_end != record_id.data() + record_id.size()) {
    return Roaring();
  }
  const auto first = std::lower_bound(position.begin(), position.end(), record_position);
  const auto doc = static_cast<std::size_t>(first - position.begin()) + record_line;
  Roaring found;
  if (doc < count && position[doc] == record_position && line[doc] == record_line) {
    std::string scratch;
    // Canonical spelling only ("7.01" is not "7.1"), like a keyword term.
    if (KeywordOf(SearchField::kRecordId, static_cast<std::uint32_t>(doc), &scratch) == record_id) {
      found.add(static_cast<std::uint32_t>(doc));
    }
  }
  return found;
}

// --- Queries -----------------------------------------------------------------------------------

Roaring SearchIndex::Impl::Evaluate(const SearchQuery& query, const Roaring* within,
                                    Evaluation* nodes) const {
  Roaring matched =
      query.kind == Kind::kBool ? EvaluateBool(query, within, nodes) : EvaluateLeaf(query, within);
  if (nodes != nullptr) {
    nodes->bitmaps[&query] = matched;
    if (query.kind == Kind::kMatch) nodes->match_terms[&query] = MatchTerms(query);
  }
  return matched;
}

Roaring SearchIndex::Impl::EvaluateLeaf(const SearchQuery& query, const Roaring* within) const {
  switch (query.kind) {
    case Kind::kMatchAll:
      return within != nullptr ? *within : All();
    case Kind::kMatchNone:
      return Roaring();
    case Kind::kTerm:
    case Kind::kTerms:
      if (IsKeyword(query.field)) return Within(EvaluateKeywordTerms(query), within);
      return EvaluateNumbers(query, within);
    case Kind::kRange:
      if (IsKeyword(query.field)) {
        return KeywordsWhere(query.field, within, [&query](std::string_view value) {
          return InKeywordRange(value, query);
        });
      }
      return EvaluateNumbers(query, within);
    case Kind::kPrefix:
      return KeywordsWhere(query.field, within, [&query](std::string_view value) {
        return value.starts_with(query.keywords.front());
      });
    case Kind::kExists:
      if (query.field == SearchField::kMemo) return Within(memo.present, within);
      if (IsKeyword(query.field) && query.field != SearchField::kRecordId) {
        return Within(keywords[static_cast<std::size_t>(query.field)].present, within);
      }
      return within != nullptr ? *within : All();
    case Kind::kMatch:
      return Within(EvaluateMatch(query), within);
    case Kind::kBool:
      break;
  }
  LEDGER_ASSERT(false && "not a leaf query");
  return Roaring();
}

Roaring SearchIndex::Impl::EvaluateKeywordTerms(const SearchQuery& query) const {
  Roaring matched;
  for (const std::string& term : query.keywords) {
    if (query.field == SearchField::kRecordId) {
      matched |= RecordDocuments(term);
      continue;
    }
    const KeywordColumn& column = keywords[static_cast<std::size_t>(query.field)];
    if (const std::uint32_t ordinal = column.OrdinalOf(term); ordinal != 0) {
      matched |= column.postings[ordinal];
    }
  }
  return matched;
}

Roaring SearchIndex::Impl::EvaluateNumbers(const SearchQuery& query, const Roaring* within) const {
  if (query.kind == Kind::kRange) {
    return NumbersWhere(query.field, within,
                        [&query](std::int64_t value) { return InRange(value, query); });
  }
  std::vector<std::int64_t> values = query.numbers;
  std::sort(values.begin(), values.end());
  return NumbersWhere(query.field, within, [&values](std::int64_t value) {
    return std::binary_search(values.begin(), values.end(), value);
  });
}

Roaring SearchIndex::Impl::EvaluateMatch(const SearchQuery& query) const {
  const std::vector<std::string> tokens = SearchTokens(query.text);
  if (tokens.empty()) return Roaring();  // Elasticsearch's zero_terms_query: none.
  Roaring matched;
  bool first = true;
  for (const std::string& token : tokens) {
    const auto it = memo.ordinals.find(token);
    if (it == memo.ordinals.end()) {
      if (query.match_all_tokens) return Roaring();
      continue;
    }
    const Roaring& postings = memo.postings[it->second];
    if (!query.match_all_tokens || first) {
      matched |= postings;
    } else {
      matched &= postings;
    }
    first = false;
  }
  return matched;
}

Roaring SearchIndex::Impl::KeywordsWhere(
    SearchField field, const Roaring* within,
    const std::function<bool(std::string_view)>& predicate) const {
  std::vector<std::uint32_t> docs;
  if (field == SearchField::kRecordId) {
    std::string scratch;
    const Roaring scope = within != nullptr ? *within : All();
    for (const std::uint32_t doc : scope) {
      if (predicate(KeywordOf(field, doc, &scratch))) docs.push_back(doc);
    }
    return FromVector(docs);
  }
  const KeywordColumn& column = keywords[static_cast<std::size_t>(field)];
  Roaring matched;
  for (std::uint32_t ordinal = 1; ordinal < column.terms.size(); ++ordinal) {
    if (predicate(column.terms[ordinal])) matched |= column.postings[ordinal];
  }
  return Within(std::move(matched), within);
}

Roaring SearchIndex::Impl::NumbersWhere(SearchField field, const Roaring* within,
                                        const std::function<bool(std::int64_t)>& predicate) const {
  const std::vector<std::int64_t>& values = NumberColumn(field);
  std::vector<std::uint32_t> docs;
  if (within != nullptr && within->cardinality() < count / 8) {
    for (const std::uint32_t doc : *within) {
      if (predicate(values[doc])) docs.push_back(doc);
    }
    return FromVector(docs);
  }
  for (std::uint32_t doc = 0; doc < count; ++doc) {
    if (predicate(values[doc])) docs.push_back(doc);
  }
  return Within(FromVector(docs), within);
}

Roaring SearchIndex::Impl::EvaluateBool(const SearchQuery& query, const Roaring* within,
                                        Evaluation* nodes) const {
  std::vector<const SearchQuery*> required;
  for (const auto* clauses : {&query.must, &query.filter}) {
    for (const SearchQuery& clause : *clauses) required.push_back(&clause);
  }
  std::stable_sort(
      required.begin(), required.end(),
      [](const SearchQuery* a, const SearchQuery* b) { return CostRank(*a) < CostRank(*b); });
  Roaring current = within != nullptr ? *within : All();
  for (const SearchQuery* clause : required) current = Evaluate(*clause, &current, nodes);
  for (const SearchQuery& clause : query.must_not) current -= Evaluate(clause, &current, nodes);
  if (query.should.empty()) {
    // More clauses required than there are: nothing matches (Lucene's minimumNumberShouldMatch).
    // A bool without any clause is match_all, whatever its minimum (Elasticsearch's rewrite).
    const bool empty = required.empty() && query.must_not.empty();
    return !empty && query.minimum_should_match.value_or(0) > 0 ? Roaring() : current;
  }
  const std::uint32_t minimum = query.minimum_should_match.value_or(required.empty() ? 1u : 0u);
  std::vector<Roaring> shoulds;
  for (const SearchQuery& clause : query.should)
    shoulds.push_back(Evaluate(clause, &current, nodes));
  if (minimum == 0) return current;
  if (minimum > shoulds.size()) return Roaring();
  if (minimum == 1) {
    Roaring any;
    for (const Roaring& should : shoulds) any |= should;
    return any;
  }
  std::unordered_map<std::uint32_t, std::uint32_t> hits;
  for (const Roaring& should : shoulds) {
    for (const std::uint32_t doc : should) ++hits[doc];
  }
  std::vector<std::uint32_t> docs;
  for (const auto& [doc, matched] : hits) {
    if (matched >= minimum) docs.push_back(doc);
  }
  std::sort(docs.begin(), docs.end());
  return FromVector(docs);
}

std::vector<SearchIndex::Impl::MatchTerm> SearchIndex::Impl::MatchTerms(
    const SearchQuery& query) const {
  std::vector<MatchTerm> terms;
  const auto field_docs = static_cast<double>(memo.present.cardinality());
  for (const std::string& token : SearchTokens(query.text)) {
    const auto it = memo.ordinals.find(token);
    if (it == memo.ordinals.end()) continue;
    const auto with_token = static_cast<double>(memo.postings[it->second].cardinality());
    terms.push_back(
        {it->second, std::log(1 + (field_docs - with_token + 0.5) / (with_token + 0.5))});
  }
  return terms;
}

double SearchIndex::Impl::MatchScore(const std::vector<MatchTerm>& terms, std::uint32_t doc) const {
  const auto field_docs = static_cast<double>(memo.present.cardinality());
  if (field_docs == 0) return 0;
  const double average_length = static_cast<double>(memo.total_tokens) / field_docs;
  const double length_norm =
      kBm25K1 * (1 - kBm25B + kBm25B * static_cast<double>(memo.lengths[doc]) / average_length);
  double score = 0;
  for (const MatchTerm& term : terms) {
    if (!memo.postings[term.ordinal].contains(doc)) continue;
    const auto frequency = static_cast<double>(memo.FrequencyOf(term.ordinal, doc));
    score += term.idf * frequency / (frequency + length_norm);
  }
  return score;
}

double SearchIndex::Impl::Score(const SearchQuery& query, std::uint32_t doc,
                                const Evaluation& nodes) const {
  switch (query.kind) {
    case Kind::kMatchNone:
      return 0;
    case Kind::kMatch:
      return query.boost * MatchScore(nodes.match_terms.at(&query), doc);
    case Kind::kBool: {
      if (query.must.empty() && query.filter.empty() && query.should.empty() &&
          query.must_not.empty()) {
        return query.boost;  // An empty bool is match_all, and scores like it.
      }
      double score = 0;
      for (const SearchQuery& clause : query.must) score += Score(clause, doc, nodes);
      for (const SearchQuery& clause : query.should) {
        const auto it = nodes.bitmaps.find(&clause);
        if (it != nodes.bitmaps.end() && it->second.contains(doc))
          score += Score(clause, doc, nodes);
      }
      return query.boost * score;
    }
    default:
      return query.boost;
  }
}

// --- Search ------------------------------------------------------------------------------------

namespace {

// Orders documents by a request's sort keys, and compares them with search_after values.
class SortOrder {
 public:
  SortOrder(const SearchIndex::Impl& index, const std::vector<SearchSort>& keys,
            const std::unordered_map<std::uint32_t, double>* scores)
      : index_(index), keys_(keys), scores_(scores) {}

  [[nodiscard]] SearchValue ValueOf(const SearchSort& key, std::uint32_t doc) const {
    switch (key.kind) {
      case SearchSort::Kind::kScore:
        return scores_->at(doc);
      case SearchSort::Kind::kDoc:
        return std::int64_t{doc};
      case SearchSort::Kind::kField:
        break;
    }
    if (!IsKeyword(key.field)) return index_.NumberOf(key.field, doc);
    std::string scratch;
    const std::string_view value = index_.KeywordOf(key.field, doc, &scratch);
    if (value.empty()) return std::monostate();
    return std::string(value);
  }

  // <0, 0, >0 as `doc` sorts before, with, after the values `after`.
  [[nodiscard]] int CompareWith(std::uint32_t doc, const std::vector<SearchValue>& after) const {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const int order = Compare(keys_[i], ValueOf(keys_[i], doc), after[i]);
      if (order != 0) return order;
    }
    return 0;
  }

  [[nodiscard]] bool Before(std::uint32_t a, std::uint32_t b) const {
    for (const SearchSort& key : keys_) {
      const int order = CompareDocs(key, a, b);
      if (order != 0) return order < 0;
    }
    return a < b;
  }

 private:
  // Missing values sort last in either direction, like Elasticsearch's default "_last".
  static int Compare(const SearchSort& key, const SearchValue& a, const SearchValue& b) {
    const bool a_missing = std::holds_alternative<std::monostate>(a);
    const bool b_missing = std::holds_alternative<std::monostate>(b);
    if (a_missing || b_missing) return a_missing == b_missing ? 0 : (a_missing ? 1 : -1);
    int order = 0;
    if (const auto* text = std::get_if<std::string>(&a)) {
      order = text->compare(std::get<std::string>(b));
      order = order < 0 ? -1 : (order > 0 ? 1 : 0);
    } else {
      const double x = std::holds_alternative<double>(a)
                           ? std::get<double>(a)
                           : static_cast<double>(std::get<std::int64_t>(a));
      if (std::holds_alternative<std::int64_t>(a) && std::holds_alternative<std::int64_t>(b)) {
        const std::int64_t p = std::get<std::int64_t>(a), q = std::get<std::int64_t>(b);
        order = p < q ? -1 : (p > q ? 1 : 0);
      } else {
        const double y = std::holds_alternative<double>(b)
                             ? std::get<double>(b)
                             : static_cast<double>(std::get<std::int64_t>(b));
        order = x < y ? -1 : (x > y ? 1 : 0);
      }
    }
    return key.descending ? -order : order;
  }

  int CompareDocs(const SearchSort& key, std::uint32_t a, std::uint32_t b) const {
    if (key.kind == SearchSort::Kind::kField && IsKeyword(key.field) &&
        key.field != SearchField::kRecordId) {
      const KeywordColumn& column = index_.keywords[static_cast<std::size_t>(key.field)];
      const std::uint32_t x = column.column[a], y = column.column[b];
      if (x == y) return 0;
      return Compare(key, x == 0 ? SearchValue() : SearchValue(column.terms[x]),
                     y == 0 ? SearchValue() : SearchValue(column.terms[y]));
    }
    if (key.kind == SearchSort::Kind::kField && !IsKeyword(key.field)) {
      const std::int64_t x = index_.NumberOf(key.field, a), y = index_.NumberOf(key.field, b);
      const int order = x < y ? -1 : (x > y ? 1 : 0);
      return key.descending ? -order : order;
    }
    return Compare(key, ValueOf(key, a), ValueOf(key, b));
  }

  const SearchIndex::Impl& index_;
  const std::vector<SearchSort>& keys_;
  const std::unordered_map<std::uint32_t, double>* scores_;
};

// Whether `value` can stand for a value of sort key `key`.
bool FitsKey(const SearchSort& key, const SearchValue& value) {
  if (std::holds_alternative<std::monostate>(value)) {
    return key.kind == SearchSort::Kind::kField && IsKeyword(key.field);
  }
  switch (key.kind) {
    case SearchSort::Kind::kScore:
      return !std::holds_alternative<std::string>(value);
    case SearchSort::Kind::kDoc:
      return std::holds_alternative<std::int64_t>(value);
    case SearchSort::Kind::kField:
      break;
  }
  return IsKeyword(key.field) ? std::holds_alternative<std::string>(value)
                              : std::holds_alternative<std::int64_t>(value);
}

Error InvalidSearchAfter(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_search_after", std::move(message));
}

}  // namespace

SearchIndex::SearchIndex() : impl_(std::make_unique<Impl>()) {}
SearchIndex::~SearchIndex() = default;

std::uint32_t SearchIndex::DocumentCount() const { return impl_->count; }

void SearchIndex::Add(const SearchDocument& document) {
  Impl& index = *impl_;
  const std::uint32_t doc = index.count;
  LEDGER_ASSERT(doc < std::numeric_limits<std::uint32_t>::max());
  // record_id is "<position>.<line>": keep the line, check the position.
  const char* begin = document.record_id.data();
  const char* end = begin + document.record_id.size();
  std::int64_t record_position = -1;
  std::uint32_t line = 0;
  const auto [dot, position_error] = std::from_chars(begin, end, record_position);
  LEDGER_ASSERT(position_error == std::errc() && record_position == document.position &&
                dot != end && *dot == '.');
  const auto [line_end, line_error] = std::from_chars(dot + 1, end, line);
  LEDGER_ASSERT(line_error == std::errc() && line_end == end);
  LEDGER_ASSERT(index.position.empty() || index.position.back() <= document.position);
  index.position.push_back(document.position);
  index.line.push_back(line);
  index.amount.push_back(document.amount);
  // Floor division: a date before 1970 falls in the millisecond that contains it.
  const std::int64_t ms =
      document.occurred_at_us / 1000 - (document.occurred_at_us % 1000 < 0 ? 1 : 0);
  index.occurred_at_ms.push_back(ms);

  for (const SearchFieldInfo& info : SearchFields()) {
    if (info.type != SearchFieldType::kKeyword || info.field == SearchField::kRecordId) continue;
    const SearchField field = info.field;
    const std::string* value = &SearchDocumentText(document, field);
    KeywordColumn& column = index.keywords[static_cast<std::size_t>(field)];
    std::uint32_t ordinal = 0;
    if (!value->empty() && column.terms[column.last_ordinal] == *value) {
      // The documents of one event mostly share their terms: no hash lookup for a repeat.
      ordinal = column.last_ordinal;
      column.postings[ordinal].add(doc);
      column.present.add(doc);
    } else if (!value->empty()) {
      auto [it, inserted] =
          column.ordinals.try_emplace(*value, static_cast<std::uint32_t>(column.terms.size()));
      if (inserted) {
        column.terms.push_back(*value);
        column.postings.emplace_back();
      }
      ordinal = it->second;
      column.postings[ordinal].add(doc);
      column.present.add(doc);
      column.last_ordinal = ordinal;
    }
    column.column.push_back(ordinal);
  }

  internal::TextColumn& memo = index.memo;
  const std::vector<std::string> tokens = SearchTokens(document.memo);
  memo.lengths.push_back(static_cast<std::uint32_t>(tokens.size()));
  memo.total_tokens += tokens.size();
  if (!tokens.empty()) memo.present.add(doc);
  for (const std::string& token : tokens) {
    auto [it, inserted] =
        memo.ordinals.try_emplace(token, static_cast<std::uint32_t>(memo.postings.size()));
    if (inserted) memo.postings.emplace_back();
    Roaring& postings = memo.postings[it->second];
    if (postings.contains(doc)) {
      const std::uint64_t key = (std::uint64_t{it->second} << 32) | doc;
      auto [frequency, first] = memo.frequencies.try_emplace(key, 1);
      ++frequency->second;
    } else {
      postings.add(doc);
    }
  }
  ++index.count;
}

std::uint64_t SearchIndex::Count(const SearchQuery& query) const {
  return impl_->Evaluate(query, nullptr, nullptr).cardinality();
}

Roaring SearchIndex::Match(const SearchQuery& query) const {
  return impl_->Evaluate(query, nullptr, nullptr);
}

Result<SearchResult> SearchIndex::Search(const SearchRequest& request) const {
  const Impl& index = *impl_;
  if (!request.search_after.empty()) {
    if (request.search_after.size() != request.sort.size()) {
      return std::unexpected(
          InvalidSearchAfter("search_after has " + std::to_string(request.search_after.size()) +
                             " values, the sort " + std::to_string(request.sort.size()) + " keys"));
    }
    for (std::size_t i = 0; i < request.sort.size(); ++i) {
      if (!FitsKey(request.sort[i], request.search_after[i])) {
        return std::unexpected(InvalidSearchAfter("search_after value " + std::to_string(i) +
                                                  " does not fit its sort key's type"));
      }
    }
  }
  const bool default_sort = request.sort.empty();
  const bool by_score = default_sort || std::any_of(request.sort.begin(), request.sort.end(),
                                                    [](const SearchSort& k) {
                                                      return k.kind == SearchSort::Kind::kScore;
                                                    });
  const bool want_scores = by_score || request.track_scores;
  Impl::Evaluation nodes;  // Kept only to score.
  const Roaring matched = index.Evaluate(request.query, nullptr, want_scores ? &nodes : nullptr);
  SearchResult result;
  result.total = matched.cardinality();
  auto aggregations = index.Aggregate(request.aggregations, matched);
  if (!aggregations) return std::unexpected(aggregations.error());
  result.aggregations = std::move(*aggregations);
  const std::size_t window = std::size_t{request.from} + request.size;

  // Index order is the answer when scores cannot differ (or are not the order) and the sort is
  // the default or _doc ascending: no per-document work beyond the window.
  const bool index_order =
      (default_sort && ConstantScore(request.query)) ||
      (request.sort.size() == 1 && request.sort[0].kind == SearchSort::Kind::kDoc &&
       !request.sort[0].descending);
  std::vector<std::uint32_t> ordered;
  std::unordered_map<std::uint32_t, double> scores;
  if (index_order) {
    auto it = matched.begin();
    if (!request.search_after.empty()) {
      const auto after = std::get<std::int64_t>(request.search_after[0]);
      if (after >= 0) {
        it.equalorlarger(static_cast<std::uint32_t>(std::min<std::int64_t>(after, UINT32_MAX)));
        if (it != matched.end() && static_cast<std::int64_t>(*it) == after) ++it;
      }
    }
    for (; it != matched.end() && ordered.size() < window; ++it) ordered.push_back(*it);
    if (want_scores) {
      for (const std::uint32_t doc : ordered) scores[doc] = index.Score(request.query, doc, nodes);
      if (result.total > 0 && ConstantScore(request.query)) {
        result.max_score = index.Score(request.query, matched.minimum(), nodes);
      } else if (result.total > 0) {  // _doc order with track_scores: every hit may differ.
        double max_score = -std::numeric_limits<double>::infinity();
        for (const std::uint32_t doc : matched) {
          max_score = std::max(max_score, index.Score(request.query, doc, nodes));
        }
        result.max_score = max_score;
      }
    }
  } else {
    if (want_scores) {
      scores.reserve(result.total);
      double max_score = -std::numeric_limits<double>::infinity();
      for (const std::uint32_t doc : matched) {
        const double score = index.Score(request.query, doc, nodes);
        scores.emplace(doc, score);
        max_score = std::max(max_score, score);
      }
      if (result.total > 0) result.max_score = max_score;
    }
    std::vector<SearchSort> keys = request.sort;
    if (default_sort) keys.push_back({.kind = SearchSort::Kind::kScore, .descending = true});
    const SortOrder order(index, keys, &scores);
    ordered.reserve(result.total);
    for (const std::uint32_t doc : matched) {
      if (request.search_after.empty() || order.CompareWith(doc, request.search_after) > 0) {
        ordered.push_back(doc);
      }
    }
    const std::size_t kept = std::min(window, ordered.size());
    std::partial_sort(ordered.begin(), ordered.begin() + static_cast<std::ptrdiff_t>(kept),
                      ordered.end(),
                      [&order](std::uint32_t a, std::uint32_t b) { return order.Before(a, b); });
    ordered.resize(kept);
  }
  if (!by_score && !request.track_scores) result.max_score.reset();

  const SortOrder order(index, request.sort, &scores);
  for (std::size_t i = request.from; i < ordered.size(); ++i) {
    SearchHit hit;
    hit.doc = ordered[i];
    if (want_scores) hit.score = scores.at(hit.doc);
    for (const SearchSort& key : request.sort) hit.sort.push_back(order.ValueOf(key, hit.doc));
    result.hits.push_back(std::move(hit));
  }
  return result;
}

std::size_t SearchIndex::MemoryBytes() const {
  const Impl& index = *impl_;
  std::size_t bytes = index.count * (3 * sizeof(std::int64_t) + 2 * sizeof(std::uint32_t));
  auto postings_bytes = [](const std::vector<Roaring>& postings) {
    std::size_t total = 0;
    for (const Roaring& bitmap : postings) total += bitmap.getSizeInBytes(false) + sizeof(Roaring);
    return total;
  };
  for (const KeywordColumn& column : index.keywords) {
    bytes += column.column.size() * sizeof(std::uint32_t) + postings_bytes(column.postings) +
             column.present.getSizeInBytes(false);
    for (const std::string& term : column.terms) bytes += term.capacity() + 64;
  }
  bytes += postings_bytes(index.memo.postings) + index.memo.frequencies.size() * 32 +
           index.memo.lengths.size() * sizeof(std::uint32_t) + index.memo.ordinals.size() * 64;
  return bytes;
}

}  // namespace ledger::projections
