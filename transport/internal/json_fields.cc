#include "transport/internal/json_fields.h"

#include <rapidjson/error/en.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "ledger/limits.h"
#include "transport/rfc3339.h"

namespace ledger::transport::internal {
namespace {

constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

std::string_view NameOf(const rapidjson::Value& name) {
  return {name.GetString(), name.GetStringLength()};
}

// The first key that appears twice in `object`, if any. O(n log n) so a body of many keys
// cannot make this quadratic.
std::optional<std::string_view> DuplicateKey(const rapidjson::Value& object) {
  std::vector<std::string_view> names;
  names.reserve(object.MemberCount());
  for (const auto& member : object.GetObject()) names.push_back(NameOf(member.name));
  std::sort(names.begin(), names.end());
  const auto repeated = std::adjacent_find(names.begin(), names.end());
  if (repeated == names.end()) return std::nullopt;
  return *repeated;
}

// Walks the document without recursion (it may be deeper than the stack allows).
Status CheckStructure(const rapidjson::Value& root) {
  struct Frame {
    const rapidjson::Value* value;
    std::size_t depth;
  };
  std::vector<Frame> stack{{&root, 1}};
  while (!stack.empty()) {
    const Frame frame = stack.back();
    stack.pop_back();
    if (frame.depth > kJsonDepthMax) {
      return ledger::Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                          "JSON nesting is deeper than " + std::to_string(kJsonDepthMax));
    }
    if (frame.value->IsObject()) {
      if (auto key = DuplicateKey(*frame.value)) {
        return ledger::Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                            "duplicate key '" + std::string(*key) + "'");
      }
      for (const auto& member : frame.value->GetObject()) {
        if (member.value.IsObject() || member.value.IsArray()) {
          stack.push_back({&member.value, frame.depth + 1});
        }
      }
    } else if (frame.value->IsArray()) {
      for (const auto& element : frame.value->GetArray()) {
        if (element.IsObject() || element.IsArray()) stack.push_back({&element, frame.depth + 1});
      }
    }
  }
  return Ok();
}

}  // namespace

Result<rapidjson::Document> ParseJsonDocument(std::string_view body) {
  rapidjson::Document document;
  document.Parse<kParseFlags>(body.data(), body.size());
  if (document.HasParseError()) {
    return ledger::Fail(ErrorKind::kInvalidArgument, "malformed_json",
                        std::string("malformed JSON at offset ") +
                            std::to_string(document.GetErrorOffset()) + ": " +
                            rapidjson::GetParseError_En(document.GetParseError()));
  }
  if (auto status = CheckStructure(document); !status) return std::unexpected(status.error());
  return document;
}

JsonFields::JsonFields(const rapidjson::Value& value, std::string prefix,
                       std::initializer_list<std::string_view> allowed, std::optional<Error>& error)
    : value_(value), prefix_(std::move(prefix)), error_(error) {
  if (!value_.IsObject()) {
    Fail(prefix_.empty() ? "request body must be a JSON object"
                         : "'" + prefix_.substr(0, prefix_.size() - 1) + "' must be an object");
    return;
  }
  for (const auto& member : value_.GetObject()) {
    const std::string_view name = NameOf(member.name);
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      Fail("unknown field '" + FieldName(name) + "'");
      return;
    }
  }
}

std::string JsonFields::FieldName(std::string_view name) const {
  return prefix_ + std::string(name);
}

void JsonFields::Fail(std::string message) {
  if (!error_)
    error_ = MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

const rapidjson::Value* JsonFields::Find(std::string_view name, bool required) {
  if (!ok()) return nullptr;
  const rapidjson::Value key(rapidjson::StringRef(name.data(), name.size()));
  const auto member = value_.FindMember(key);
  if (member == value_.MemberEnd() || member->value.IsNull()) {
    if (required) Fail("missing required field '" + FieldName(name) + "'");
    return nullptr;
  }
  return &member->value;
}

std::string JsonFields::String(std::string_view name) {
  if (Find(name, true) == nullptr) return {};
  return OptionalString(name).value_or(std::string());
}

std::optional<std::string> JsonFields::OptionalString(std::string_view name) {
  const rapidjson::Value* value = Find(name, false);
  if (value == nullptr) return std::nullopt;
  if (!value->IsString()) {
    Fail("field '" + FieldName(name) + "' must be a string");
    return std::nullopt;
  }
  return std::string(value->GetString(), value->GetStringLength());
}

std::optional<std::int64_t> JsonFields::ReadInt64(std::string_view name, bool required,
                                                  std::string_view requirement) {
  const rapidjson::Value* value = Find(name, required);
  if (value == nullptr) return std::nullopt;
  if (!value->IsInt64()) {
    Fail("field '" + FieldName(name) + "' must be " + std::string(requirement));
    return std::nullopt;
  }
  return value->GetInt64();
}

std::int64_t JsonFields::Amount(std::string_view name) {
  return ReadInt64(name, true, "an integer in minor units within int64").value_or(0);
}

std::optional<std::int64_t> JsonFields::OptionalAmount(std::string_view name) {
  return ReadInt64(name, false, "an integer in minor units within int64");
}

std::int64_t JsonFields::Int64(std::string_view name) {
  return ReadInt64(name, true, "an integer within int64").value_or(0);
}

std::optional<std::int64_t> JsonFields::OptionalInt64(std::string_view name) {
  return ReadInt64(name, false, "an integer within int64");
}

std::optional<std::uint64_t> JsonFields::OptionalUint64(std::string_view name) {
  const rapidjson::Value* value = Find(name, false);
  if (value == nullptr) return std::nullopt;
  if (!value->IsUint64()) {
    Fail("field '" + FieldName(name) + "' must be a non-negative integer within uint64");
    return std::nullopt;
  }
  return value->GetUint64();
}

bool JsonFields::OptionalBool(std::string_view name, bool absent_value) {
  const rapidjson::Value* value = Find(name, false);
  if (value == nullptr) return absent_value;
  if (!value->IsBool()) {
    Fail("field '" + FieldName(name) + "' must be true or false");
    return absent_value;
  }
  return value->GetBool();
}

TimestampUs JsonFields::Timestamp(std::string_view name) {
  if (Find(name, true) == nullptr) return 0;
  return OptionalTimestamp(name).value_or(0);
}

std::optional<TimestampUs> JsonFields::OptionalTimestamp(std::string_view name) {
  const rapidjson::Value* value = Find(name, false);
  if (value == nullptr) return std::nullopt;
  if (!value->IsString()) {
    Fail("field '" + FieldName(name) + "' must be an RFC 3339 timestamp string");
    return std::nullopt;
  }
  auto parsed = ParseRfc3339({value->GetString(), value->GetStringLength()});
  if (!parsed) {
    Fail("field '" + FieldName(name) + "': " + parsed.error().message);
    return std::nullopt;
  }
  return *parsed;
}

Metadata JsonFields::OptionalMetadata(std::string_view name) {
  Metadata metadata;
  const rapidjson::Value* value = OptionalObject(name);
  if (value == nullptr) return metadata;
  for (const auto& member : value->GetObject()) {
    if (!member.value.IsString()) {
      Fail("field '" + FieldName(name) + "." + std::string(NameOf(member.name)) +
           "' must be a string");
      return {};
    }
    metadata.emplace_back(std::string(NameOf(member.name)),
                          std::string(member.value.GetString(), member.value.GetStringLength()));
  }
  return metadata;
}

const rapidjson::Value* JsonFields::Array(std::string_view name) {
  const rapidjson::Value* value = Find(name, true);
  if (value == nullptr) return nullptr;
  if (!value->IsArray()) {
    Fail("field '" + FieldName(name) + "' must be an array");
    return nullptr;
  }
  return value;
}

const rapidjson::Value* JsonFields::OptionalObject(std::string_view name) {
  const rapidjson::Value* value = Find(name, false);
  if (value == nullptr) return nullptr;
  if (!value->IsObject()) {
    Fail("field '" + FieldName(name) + "' must be an object");
    return nullptr;
  }
  return value;
}

}  // namespace ledger::transport::internal
