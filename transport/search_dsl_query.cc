// The query part of the DSL parser: bool, term, terms, range, match, prefix, exists, match_all,
// match_none, each typed against the mapping (docs/search.md).
#include <algorithm>
#include <cmath>
#include <utility>

#include "ledger/limits.h"
#include "transport/internal/search_dsl_internal.h"
#include "transport/url.h"

namespace ledger::transport::internal {
namespace {

using projections::SearchField;
using projections::SearchFieldInfoOf;
using projections::SearchFieldType;
using projections::SearchQuery;
using Kind = SearchQuery::Kind;
using rapidjson::Value;

std::string Quoted(std::string_view text) { return "[" + std::string(text) + "]"; }

SearchQuery Leaf(Kind kind, SearchField field = SearchField::kRecordId) {
  SearchQuery query;
  query.kind = kind;
  query.field = field;
  return query;
}

SearchFieldType TypeOf(SearchField field) { return SearchFieldInfoOf(field).type; }

std::string_view NameOf(SearchField field) { return SearchFieldInfoOf(field).name; }

// "boost": a finite number >= 0.
Result<double> Boost(std::string_view clause, const Value& value) {
  if (!value.IsNumber() || !std::isfinite(value.GetDouble())) {
    return std::unexpected(XContentError(Quoted(clause) + " query: [boost] must be a number"));
  }
  if (value.GetDouble() < 0) {
    return std::unexpected(IllegalArgument("negative [boost] are not allowed."));
  }
  return value.GetDouble();
}

// A keyword value: a string, or an integer (as its decimal text, like Elasticsearch).
Result<std::string> KeywordValue(std::string_view clause, std::string_view field,
                                 const Value& value) {
  if (value.IsString()) return std::string(View(value));
  if (value.IsInt64()) return std::to_string(value.GetInt64());
  if (value.IsUint64()) return std::to_string(value.GetUint64());
  return std::unexpected(XContentError(Quoted(clause) + " query on keyword field " + Quoted(field) +
                                       " takes a string, not a " + std::string(TokenName(value))));
}

// A long value: an integer or a string holding one.
Result<std::int64_t> LongValue(std::string_view clause, std::string_view field,
                               const Value& value) {
  if (value.IsInt64()) return value.GetInt64();
  if (value.IsString()) {
    std::string_view text = View(value);
    const bool negative = text.starts_with('-');
    if (negative) text.remove_prefix(1);
    std::uint64_t magnitude = 0;
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    if (ParseUnsigned(text, &magnitude) && magnitude <= limit) {
      return negative ? static_cast<std::int64_t>(0 - magnitude)
                      : static_cast<std::int64_t>(magnitude);
    }
  }
  return std::unexpected(XContentError(Quoted(clause) + " query on long field " + Quoted(field) +
                                       " takes an integer within int64 (or a string of one)"));
}

// A date value: an ISO-8601 string (with its rounding bounds) or epoch milliseconds.
Result<DateBounds> DateValue(std::string_view clause, std::string_view field, const Value& value) {
  if (value.IsInt64()) return DateBounds{value.GetInt64(), value.GetInt64()};
  if (value.IsString()) {
    auto bounds = ParseDate(View(value));
    if (!bounds) {
      return std::unexpected(ParsingError(Quoted(clause) + " query on date field " + Quoted(field) +
                                          ": " + bounds.error().message));
    }
    return *bounds;
  }
  return std::unexpected(XContentError(Quoted(clause) + " query on date field " + Quoted(field) +
                                       " takes a date string or epoch milliseconds"));
}

// The one "<field>": value member of a term-level clause body; `extras` may appear besides it.
Result<const Value::Member*> FieldMember(std::string_view clause, const Value& body,
                                         std::initializer_list<std::string_view> extras = {}) {
  if (!body.IsObject()) {
    return std::unexpected(
        ParsingError(Quoted(clause) + " query malformed, no start_object after query name"));
  }
  const Value::Member* found = nullptr;
  for (const auto& member : body.GetObject()) {
    const std::string_view name = View(member.name);
    if (std::find(extras.begin(), extras.end(), name) != extras.end()) continue;
    if (found != nullptr) {
      return std::unexpected(ParsingError(Quoted(clause) +
                                          " query doesn't support multiple fields, found " +
                                          Quoted(View(found->name)) + " and " + Quoted(name)));
    }
    found = &member;
  }
  if (found == nullptr) {
    return std::unexpected(ParsingError(Quoted(clause) + " query malformed, no field specified"));
  }
  return found;
}

// The options object of a clause's long form ({"value": .., "boost": ..}): every key must be in
// `allowed`.
Status CheckOptions(std::string_view clause, const Value& options,
                    std::initializer_list<std::string_view> allowed) {
  for (const auto& member : options.GetObject()) {
    const std::string_view name = View(member.name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return std::unexpected(
          ParsingError(Quoted(clause) + " query does not support " + Quoted(name)));
    }
  }
  return Ok();
}

// A term-level value on `field` as a query: keyword and long fields compare equal; a date
// string covers its rounding interval, as Elasticsearch's date term query does; a text field
// holds the value only if it is exactly one of its tokens.
Result<SearchQuery> TermOn(std::string_view clause, SearchField field, const Value& value) {
  const std::string_view name = NameOf(field);
  switch (TypeOf(field)) {
    case SearchFieldType::kKeyword: {
      auto keyword = KeywordValue(clause, name, value);
      if (!keyword) return std::unexpected(keyword.error());
      SearchQuery query = Leaf(Kind::kTerm, field);
      query.keywords.push_back(std::move(*keyword));
      return query;
    }
    case SearchFieldType::kLong: {
      auto number = LongValue(clause, name, value);
      if (!number) return std::unexpected(number.error());
      SearchQuery query = Leaf(Kind::kTerm, field);
      query.numbers.push_back(*number);
      return query;
    }
    case SearchFieldType::kDate: {
      auto bounds = DateValue(clause, name, value);
      if (!bounds) return std::unexpected(bounds.error());
      SearchQuery query =
          Leaf(bounds->down_ms == bounds->up_ms ? Kind::kTerm : Kind::kRange, field);
      if (query.kind == Kind::kTerm) {
        query.numbers.push_back(bounds->down_ms);
      } else {
        query.gte = bounds->down_ms;
        query.lte = bounds->up_ms;
      }
      return query;
    }
    case SearchFieldType::kText:
      break;
  }
  auto text = KeywordValue(clause, name, value);
  if (!text) return std::unexpected(text.error());
  const std::vector<std::string> tokens = projections::SearchTokens(*text);
  if (tokens.size() != 1 || tokens.front() != *text) return Leaf(Kind::kMatchNone);
  SearchQuery query = Leaf(Kind::kMatch, field);
  query.text = std::move(*text);
  return query;
}

class QueryParser {
 public:
  explicit QueryParser(std::size_t* clauses) : clauses_(*clauses) {}

  Result<SearchQuery> Parse(const Value& value);

 private:
  Result<SearchQuery> Clause(std::string_view clause, const Value& body);
  Result<SearchQuery> Bool(const Value& body);
  Status BoolOccur(std::string_view occur, const Value& value, std::vector<SearchQuery>* out);
  Result<SearchQuery> Term(const Value& body);
  Result<SearchQuery> Terms(const Value& body);
  Result<SearchQuery> Range(const Value& body);
  Result<SearchQuery> Match(const Value& body);
  Result<SearchQuery> Prefix(const Value& body);
  Result<SearchQuery> Exists(const Value& body);
  Result<SearchQuery> MatchAllOrNone(std::string_view clause, const Value& body);
  Status Count(std::size_t clauses);

  std::size_t& clauses_;
};

Status QueryParser::Count(std::size_t clauses) {
  clauses_ += clauses;
  if (clauses_ > kSearchClausesMax) {
    return Fail(ErrorKind::kInvalidArgument, "too_many_clauses",
                "too many clauses in the query: more than " + std::to_string(kSearchClausesMax) +
                    " (indices.query.bool.max_clause_count)");
  }
  return Ok();
}

Result<SearchQuery> QueryParser::Parse(const Value& value) {
  if (!value.IsObject()) {
    return std::unexpected(
        ParsingError("[_na] query malformed, must start with start_object, found " +
                     std::string(TokenName(value))));
  }
  if (value.ObjectEmpty()) {
    return std::unexpected(ParsingError("query malformed, empty clause found"));
  }
  const auto first = value.MemberBegin();
  if (value.MemberCount() > 1) {
    return std::unexpected(ParsingError(Quoted(View(first->name)) +
                                        " malformed query, expected [END_OBJECT] but found "
                                        "[FIELD_NAME] " +
                                        Quoted(View((first + 1)->name))));
  }
  if (auto counted = Count(1); !counted) return std::unexpected(counted.error());
  return Clause(View(first->name), first->value);
}

Result<SearchQuery> QueryParser::Clause(std::string_view clause, const Value& body) {
  if (clause == "bool") return Bool(body);
  if (clause == "term") return Term(body);
  if (clause == "terms") return Terms(body);
  if (clause == "range") return Range(body);
  if (clause == "match") return Match(body);
  if (clause == "prefix") return Prefix(body);
  if (clause == "exists") return Exists(body);
  if (clause == "match_all" || clause == "match_none") return MatchAllOrNone(clause, body);
  return std::unexpected(ParsingError("unknown query " + Quoted(clause) +
                                      " (supported: bool, term, terms, range, match, prefix, "
                                      "exists, match_all, match_none)"));
}

Status QueryParser::BoolOccur(std::string_view occur, const Value& value,
                              std::vector<SearchQuery>* out) {
  if (value.IsObject()) {
    auto query = Parse(value);
    if (!query) return std::unexpected(query.error());
    out->push_back(std::move(*query));
    return Ok();
  }
  if (!value.IsArray()) {
    return std::unexpected(ParsingError("[bool] query does not support " + Quoted(occur) + " as " +
                                        std::string(TokenName(value))));
  }
  for (const Value& element : value.GetArray()) {
    auto query = Parse(element);
    if (!query) return std::unexpected(query.error());
    out->push_back(std::move(*query));
  }
  return Ok();
}

// Elasticsearch's Queries.calculateMinShouldMatch for "N", "-N", "N%", "-N%" (not clamped to
// the should count: more than there are matches nothing).
Result<std::uint32_t> MinimumShouldMatch(const Value& value, std::size_t should) {
  std::string spec;
  if (value.IsInt64()) {
    spec = std::to_string(value.GetInt64());
  } else if (value.IsString()) {
    spec = std::string(View(value));
  } else {
    return std::unexpected(
        XContentError("[bool] query: [minimum_should_match] must be an integer or a string"));
  }
  const bool percent = spec.ends_with('%');
  std::string_view digits(spec.data(), spec.size() - (percent ? 1 : 0));
  const bool negative = digits.starts_with('-');
  if (negative) digits.remove_prefix(1);
  std::uint64_t number = 0;
  if (!ParseUnsigned(digits, &number) || number > (percent ? 100u : 1u << 30)) {
    return std::unexpected(
        IllegalArgument("[minimum_should_match] " + Quoted(spec) +
                        " is not supported: use an integer, a negative integer, N% or -N%"));
  }
  const auto count = static_cast<std::int64_t>(should);
  std::int64_t result = 0;
  if (percent) {
    const std::int64_t part = count * static_cast<std::int64_t>(number) / 100;
    result = negative ? count - part : part;
  } else {
    result =
        negative ? count - static_cast<std::int64_t>(number) : static_cast<std::int64_t>(number);
  }
  return static_cast<std::uint32_t>(std::max<std::int64_t>(result, 0));
}

Result<SearchQuery> QueryParser::Bool(const Value& body) {
  if (!body.IsObject()) {
    return std::unexpected(
        ParsingError("[bool] query malformed, no start_object after query name"));
  }
  SearchQuery query = Leaf(Kind::kBool);
  const Value* minimum = nullptr;
  for (const auto& member : body.GetObject()) {
    const std::string_view name = View(member.name);
    Status status = Ok();
    if (name == "must") {
      status = BoolOccur(name, member.value, &query.must);
    } else if (name == "filter") {
      status = BoolOccur(name, member.value, &query.filter);
    } else if (name == "should") {
      status = BoolOccur(name, member.value, &query.should);
    } else if (name == "must_not") {
      status = BoolOccur(name, member.value, &query.must_not);
    } else if (name == "minimum_should_match") {
      minimum = &member.value;
    } else if (name == "boost") {
      auto boost = Boost("bool", member.value);
      if (!boost) return std::unexpected(boost.error());
      query.boost = *boost;
    } else {
      return std::unexpected(ParsingError("[bool] query does not support " + Quoted(name)));
    }
    if (!status) return std::unexpected(status.error());
  }
  if (minimum != nullptr) {
    auto resolved = MinimumShouldMatch(*minimum, query.should.size());
    if (!resolved) return std::unexpected(resolved.error());
    query.minimum_should_match = *resolved;
    // Lucene: without a must or filter clause, at least one should clause must match, whatever
    // minimum_should_match says (Elasticsearch answers so).
    if (*resolved == 0 && !query.should.empty() && query.must.empty() && query.filter.empty()) {
      query.minimum_should_match = 1;
    }
  }
  return query;
}

Result<SearchQuery> QueryParser::Term(const Value& body) {
  auto member = FieldMember("term", body);
  if (!member) return std::unexpected(member.error());
  const Value* value = &(*member)->value;
  double boost = 1.0;
  if (value->IsObject()) {
    if (auto checked = CheckOptions("term", *value, {"value", "boost"}); !checked) {
      return std::unexpected(checked.error());
    }
    if (const auto it = value->FindMember("boost"); it != value->MemberEnd()) {
      auto parsed = Boost("term", it->value);
      if (!parsed) return std::unexpected(parsed.error());
      boost = *parsed;
    }
    const auto found = value->FindMember("value");
    if (found == value->MemberEnd()) {
      return std::unexpected(ParsingError("[term] query: no value specified for term query"));
    }
    value = &found->value;
  }
  auto field = QueryField(View((*member)->name));
  if (!field) return std::unexpected(field.error());
  if (!field->has_value()) return Leaf(Kind::kMatchNone);
  auto query = TermOn("term", **field, *value);
  if (query) query->boost = boost;
  return query;
}

// Date values of a terms query: their rounding intervals merged; single instants become one
// kTerms, wider intervals a bool of ranges (disjoint, so a match scores once, like terms).
Result<SearchQuery> DateTerms(SearchField field, const Value& values, double boost) {
  std::vector<DateBounds> bounds;
  for (const Value& value : values.GetArray()) {
    auto parsed = DateValue("terms", NameOf(field), value);
    if (!parsed) return std::unexpected(parsed.error());
    bounds.push_back(*parsed);
  }
  std::sort(bounds.begin(), bounds.end(),
            [](const DateBounds& a, const DateBounds& b) { return a.down_ms < b.down_ms; });
  std::vector<DateBounds> merged;
  for (const DateBounds& next : bounds) {
    if (!merged.empty() && next.down_ms <= merged.back().up_ms) {
      merged.back().up_ms = std::max(merged.back().up_ms, next.up_ms);
    } else {
      merged.push_back(next);
    }
  }
  const bool instants = std::all_of(merged.begin(), merged.end(),
                                    [](const DateBounds& b) { return b.down_ms == b.up_ms; });
  SearchQuery query = Leaf(instants ? Kind::kTerms : Kind::kBool, field);
  for (const DateBounds& interval : merged) {
    if (instants) {
      query.numbers.push_back(interval.down_ms);
      continue;
    }
    SearchQuery range = Leaf(Kind::kRange, field);
    range.gte = interval.down_ms;
    range.lte = interval.up_ms;
    range.boost = boost;
    query.should.push_back(std::move(range));
  }
  if (instants) {
    query.boost = boost;
  } else {
    query.minimum_should_match = 1;
  }
  return query;
}

Result<SearchQuery> QueryParser::Terms(const Value& body) {
  auto member = FieldMember("terms", body, {"boost"});
  if (!member) return std::unexpected(member.error());
  double boost = 1.0;
  if (const auto it = body.FindMember("boost"); it != body.MemberEnd()) {
    auto parsed = Boost("terms", it->value);
    if (!parsed) return std::unexpected(parsed.error());
    boost = *parsed;
  }
  const Value& values = (*member)->value;
  if (!values.IsArray()) {
    return std::unexpected(ParsingError(
        "[terms] query does not support " + Quoted(View((*member)->name)) + " as " +
        std::string(TokenName(values)) + " (only an array of values; no terms lookup)"));
  }
  if (values.Size() > kSearchTermsMax) {
    return std::unexpected(IllegalArgument(
        "The number of terms [" + std::to_string(values.Size()) +
        "] used in the Terms Query request has exceeded the allowed maximum of [" +
        std::to_string(kSearchTermsMax) +
        "]. This maximum can be set by changing the [index.max_terms_count] index level "
        "setting."));
  }
  auto field = QueryField(View((*member)->name));
  if (!field) return std::unexpected(field.error());
  if (!field->has_value() || values.Empty()) return Leaf(Kind::kMatchNone);
  const SearchField target = **field;
  if (TypeOf(target) == SearchFieldType::kText) {
    return std::unexpected(ParsingError("[terms] query on the text field " +
                                        Quoted(NameOf(target)) + " is not supported: use match"));
  }
  if (TypeOf(target) == SearchFieldType::kDate) return DateTerms(target, values, boost);
  SearchQuery query = Leaf(Kind::kTerms, target);
  query.boost = boost;
  for (const Value& value : values.GetArray()) {
    auto term = TermOn("terms", target, value);
    if (!term) return std::unexpected(term.error());
    query.keywords.insert(query.keywords.end(), term->keywords.begin(), term->keywords.end());
    query.numbers.insert(query.numbers.end(), term->numbers.begin(), term->numbers.end());
  }
  return query;
}

// Sets one bound of a long or date range. Dates round as Elasticsearch does: gt and lte use
// the value's upper end (a date-only lte includes the whole day).
Status NumberBound(SearchField field, std::string_view bound, const Value& value,
                   SearchQuery* query) {
  std::int64_t down = 0;
  std::int64_t up = 0;
  if (TypeOf(field) == SearchFieldType::kLong) {
    auto number = LongValue("range", NameOf(field), value);
    if (!number) return std::unexpected(number.error());
    down = up = *number;
  } else {
    auto bounds = DateValue("range", NameOf(field), value);
    if (!bounds) return std::unexpected(bounds.error());
    down = bounds->down_ms;
    up = bounds->up_ms;
  }
  if (bound == "gt") query->gt = up;
  if (bound == "gte") query->gte = down;
  if (bound == "lt") query->lt = down;
  if (bound == "lte") query->lte = up;
  return Ok();
}

Status KeywordBound(SearchField field, std::string_view bound, const Value& value,
                    SearchQuery* query) {
  auto keyword = KeywordValue("range", NameOf(field), value);
  if (!keyword) return std::unexpected(keyword.error());
  if (bound == "gt") query->gt_keyword = std::move(*keyword);
  if (bound == "gte") query->gte_keyword = std::move(*keyword);
  if (bound == "lt") query->lt_keyword = std::move(*keyword);
  if (bound == "lte") query->lte_keyword = std::move(*keyword);
  return Ok();
}

Result<SearchQuery> QueryParser::Range(const Value& body) {
  auto member = FieldMember("range", body);
  if (!member) return std::unexpected(member.error());
  const Value& options = (*member)->value;
  if (!options.IsObject()) {
    return std::unexpected(
        ParsingError("[range] query malformed, after field missing start object"));
  }
  if (auto checked = CheckOptions("range", options, {"gt", "gte", "lt", "lte", "boost"});
      !checked) {
    return std::unexpected(checked.error());
  }
  auto field = QueryField(View((*member)->name));
  if (!field) return std::unexpected(field.error());
  if (field->has_value() && TypeOf(**field) == SearchFieldType::kText) {
    return std::unexpected(ParsingError("[range] query on the text field " +
                                        Quoted(NameOf(**field)) + " is not supported"));
  }
  SearchQuery query = Leaf(Kind::kRange, field->value_or(SearchField::kRecordId));
  bool bounded = false;
  for (const auto& option : options.GetObject()) {
    const std::string_view name = View(option.name);
    if (name == "boost") {
      auto boost = Boost("range", option.value);
      if (!boost) return std::unexpected(boost.error());
      query.boost = *boost;
      continue;
    }
    if (option.value.IsNull() || !field->has_value()) continue;  // null: unbounded.
    bounded = true;
    const Status status = TypeOf(query.field) == SearchFieldType::kKeyword
                              ? KeywordBound(query.field, name, option.value, &query)
                              : NumberBound(query.field, name, option.value, &query);
    if (!status) return std::unexpected(status.error());
  }
  if (!field->has_value()) return Leaf(Kind::kMatchNone);
  if (!bounded) query.kind = Kind::kExists;  // No bound: every document with the field.
  return query;
}

Result<SearchQuery> QueryParser::Match(const Value& body) {
  auto member = FieldMember("match", body);
  if (!member) return std::unexpected(member.error());
  const Value* value = &(*member)->value;
  double boost = 1.0;
  bool all_tokens = false;
  if (value->IsObject()) {
    if (auto checked = CheckOptions("match", *value, {"query", "operator", "boost"}); !checked) {
      return std::unexpected(checked.error());
    }
    if (const auto it = value->FindMember("boost"); it != value->MemberEnd()) {
      auto parsed = Boost("match", it->value);
      if (!parsed) return std::unexpected(parsed.error());
      boost = *parsed;
    }
    if (const auto it = value->FindMember("operator"); it != value->MemberEnd()) {
      std::string op = it->value.IsString() ? std::string(View(it->value)) : std::string();
      for (char& c : op) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
      if (op != "or" && op != "and") {
        return std::unexpected(IllegalArgument("[match] query: [operator] must be or or and"));
      }
      all_tokens = op == "and";
    }
    const auto query = value->FindMember("query");
    if (query == value->MemberEnd()) {
      return std::unexpected(ParsingError("No text specified for text query"));
    }
    value = &query->value;
  }
  auto field = QueryField(View((*member)->name));
  if (!field) return std::unexpected(field.error());
  if (!field->has_value()) return Leaf(Kind::kMatchNone);
  if (TypeOf(**field) != SearchFieldType::kText) {
    auto term = TermOn("match", **field, *value);  // Keyword/long/date: the whole value.
    if (term) term->boost = boost;
    return term;
  }
  auto text = KeywordValue("match", NameOf(**field), *value);
  if (!text) return std::unexpected(text.error());
  if (projections::SearchTokens(*text).empty()) return Leaf(Kind::kMatchNone);
  SearchQuery query = Leaf(Kind::kMatch, **field);
  query.text = std::move(*text);
  query.match_all_tokens = all_tokens;
  query.boost = boost;
  return query;
}

Result<SearchQuery> QueryParser::Prefix(const Value& body) {
  auto member = FieldMember("prefix", body);
  if (!member) return std::unexpected(member.error());
  const Value* value = &(*member)->value;
  double boost = 1.0;
  if (value->IsObject()) {
    if (auto checked = CheckOptions("prefix", *value, {"value", "boost"}); !checked) {
      return std::unexpected(checked.error());
    }
    if (const auto it = value->FindMember("boost"); it != value->MemberEnd()) {
      auto parsed = Boost("prefix", it->value);
      if (!parsed) return std::unexpected(parsed.error());
      boost = *parsed;
    }
    const auto found = value->FindMember("value");
    if (found == value->MemberEnd()) {
      return std::unexpected(ParsingError("[prefix] query: no value specified for prefix query"));
    }
    value = &found->value;
  }
  auto field = QueryField(View((*member)->name));
  if (!field) return std::unexpected(field.error());
  if (!field->has_value()) return Leaf(Kind::kMatchNone);
  const SearchFieldType type = TypeOf(**field);
  if (type == SearchFieldType::kText) {
    return std::unexpected(ParsingError("[prefix] query on the text field " +
                                        Quoted(NameOf(**field)) + " is not supported"));
  }
  if (type != SearchFieldType::kKeyword) {
    return std::unexpected(
        QueryShardError("Can only use prefix queries on keyword and text fields - not on " +
                        Quoted(NameOf(**field)) + " which is of type " +
                        Quoted(projections::SearchFieldTypeName(type))));
  }
  auto prefix = KeywordValue("prefix", NameOf(**field), *value);
  if (!prefix) return std::unexpected(prefix.error());
  SearchQuery query = Leaf(Kind::kPrefix, **field);
  query.keywords.push_back(std::move(*prefix));
  query.boost = boost;
  return query;
}

Result<SearchQuery> QueryParser::Exists(const Value& body) {
  if (!body.IsObject()) {
    return std::unexpected(
        ParsingError("[exists] query malformed, no start_object after query name"));
  }
  if (auto checked = CheckOptions("exists", body, {"field", "boost"}); !checked) {
    return std::unexpected(checked.error());
  }
  const auto name = body.FindMember("field");
  if (name == body.MemberEnd() || !name->value.IsString()) {
    return std::unexpected(ParsingError("[exists] must be provided with a [field]"));
  }
  double boost = 1.0;
  if (const auto it = body.FindMember("boost"); it != body.MemberEnd()) {
    auto parsed = Boost("exists", it->value);
    if (!parsed) return std::unexpected(parsed.error());
    boost = *parsed;
  }
  auto field = QueryField(View(name->value));
  if (!field) return std::unexpected(field.error());
  if (!field->has_value()) return Leaf(Kind::kMatchNone);
  SearchQuery query = Leaf(Kind::kExists, **field);
  query.boost = boost;
  return query;
}

Result<SearchQuery> QueryParser::MatchAllOrNone(std::string_view clause, const Value& body) {
  if (!body.IsObject()) {
    return std::unexpected(
        ParsingError(Quoted(clause) + " query malformed, no start_object after query name"));
  }
  if (auto checked = CheckOptions(clause, body, {"boost"}); !checked) {
    return std::unexpected(checked.error());
  }
  SearchQuery query = Leaf(clause == "match_all" ? Kind::kMatchAll : Kind::kMatchNone);
  if (const auto it = body.FindMember("boost"); it != body.MemberEnd()) {
    auto parsed = Boost(clause, it->value);
    if (!parsed) return std::unexpected(parsed.error());
    query.boost = *parsed;
  }
  return query;
}

}  // namespace

Result<SearchQuery> ParseQueryClause(const Value& value, std::size_t* clauses) {
  return QueryParser(clauses).Parse(value);
}

}  // namespace ledger::transport::internal
