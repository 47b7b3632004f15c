#include "projections/search_query.h"

#include <array>

#include "ledger/limits.h"
#include "ledger/status.h"

namespace ledger::projections {
namespace {

constexpr std::array<SearchFieldInfo, kSearchFieldCount> kFields = {{
    {SearchField::kRecordId, "record_id", SearchFieldType::kKeyword},
    {SearchField::kType, "type", SearchFieldType::kKeyword},
    {SearchField::kOrderId, "order_id", SearchFieldType::kKeyword},
    {SearchField::kMerchant, "merchant", SearchFieldType::kKeyword},
    {SearchField::kAccount, "account", SearchFieldType::kKeyword},
    {SearchField::kCounterparty, "counterparty", SearchFieldType::kKeyword},
    {SearchField::kKind, "kind", SearchFieldType::kKeyword},
    {SearchField::kCategory, "category", SearchFieldType::kKeyword},
    {SearchField::kAsset, "asset", SearchFieldType::kKeyword},
    {SearchField::kRef, "ref", SearchFieldType::kKeyword},
    {SearchField::kAmount, "amount", SearchFieldType::kLong},
    {SearchField::kPosition, "position", SearchFieldType::kLong},
    {SearchField::kOccurredAt, "occurred_at", SearchFieldType::kDate},
    {SearchField::kMemo, "memo", SearchFieldType::kText},
}};

constexpr std::array<std::string_view, kSearchIndexCount> kIndexNames = {"settlements", "entries"};

bool IsWordByte(unsigned char byte) {
  return (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
         (byte >= 'A' && byte <= 'Z') || byte >= 0x80;
}

}  // namespace

std::string_view SearchIndexName(SearchIndexId index) {
  return kIndexNames[static_cast<std::size_t>(index)];
}

std::optional<SearchIndexId> SearchIndexFromName(std::string_view name) {
  for (std::size_t i = 0; i < kSearchIndexCount; ++i) {
    if (kIndexNames[i] == name) return static_cast<SearchIndexId>(i);
  }
  return std::nullopt;
}

std::string_view SearchFieldTypeName(SearchFieldType type) {
  switch (type) {
    case SearchFieldType::kKeyword:
      return "keyword";
    case SearchFieldType::kLong:
      return "long";
    case SearchFieldType::kDate:
      return "date";
    case SearchFieldType::kText:
      return "text";
  }
  LEDGER_ASSERT(false && "unknown field type");
  return "";
}

std::span<const SearchFieldInfo> SearchFields() { return kFields; }

const SearchFieldInfo& SearchFieldInfoOf(SearchField field) {
  const SearchFieldInfo& info = kFields[static_cast<std::size_t>(field)];
  LEDGER_ASSERT(info.field == field);
  return info;
}

std::optional<SearchField> SearchFieldFromName(std::string_view name) {
  for (const SearchFieldInfo& info : kFields) {
    if (info.name == name) return info.field;
  }
  return std::nullopt;
}

const std::string& SearchDocumentText(const SearchDocument& document, SearchField field) {
  switch (field) {
    case SearchField::kRecordId:
      return document.record_id;
    case SearchField::kType:
      return document.type;
    case SearchField::kOrderId:
      return document.order_id;
    case SearchField::kMerchant:
      return document.merchant;
    case SearchField::kAccount:
      return document.account;
    case SearchField::kCounterparty:
      return document.counterparty;
    case SearchField::kKind:
      return document.kind;
    case SearchField::kCategory:
      return document.category;
    case SearchField::kAsset:
      return document.asset;
    case SearchField::kRef:
      return document.ref;
    case SearchField::kMemo:
      return document.memo;
    default:
      break;
  }
  LEDGER_ASSERT(false && "not a keyword or text field");
  return document.memo;
}

std::vector<std::string> SearchTokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && !IsWordByte(static_cast<unsigned char>(text[at]))) ++at;
    const std::size_t start = at;
    while (at < text.size() && IsWordByte(static_cast<unsigned char>(text[at]))) ++at;
    if (at == start) continue;
    std::size_t length = std::min(at - start, kSearchTokenBytesMax);
    // Never cut inside a UTF-8 sequence: back off over continuation bytes.
    while (length < at - start && length > 0 &&
           (static_cast<unsigned char>(text[start + length]) & 0xc0) == 0x80) {
      --length;
    }
    if (length == 0) length = std::min(at - start, kSearchTokenBytesMax);  // Not UTF-8 at all.
    std::string token(text.substr(start, length));
    for (char& c : token) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace ledger::projections
