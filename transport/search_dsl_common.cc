// Shared pieces of the DSL parser: Elasticsearch error types, field lookup, dates, and the
// bounded JSON parse of a search body.
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ledger/limits.h"
#include "transport/internal/search_dsl_internal.h"
#include "transport/search_dsl.h"

namespace ledger::transport {
namespace internal {
namespace {

using projections::SearchField;

Error EsError(std::string type, std::string reason) {
  return MakeError(ErrorKind::kInvalidArgument, std::move(type), std::move(reason));
}

// Reads `width` digits at `*at`; false if they are not all digits.
bool Digits(std::string_view text, std::size_t* at, std::size_t width, int* value) {
  if (*at + width > text.size()) return false;
  int result = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[*at + i];
    if (c < '0' || c > '9') return false;
    result = result * 10 + (c - '0');
  }
  *at += width;
  *value = result;
  return true;
}

bool Expect(std::string_view text, std::size_t* at, std::string_view choices) {
  if (*at >= text.size() || choices.find(text[*at]) == std::string_view::npos) return false;
  ++*at;
  return true;
}

// What the time part of a date string holds; missing parts round down or up.
struct TimeOfDay {
  int hour = 0, minute = 0, second = 0;
  std::int64_t nanos = 0;
  int given = 0;  // 0 none, 1 hh:mm, 2 hh:mm:ss, 3 with a fraction.
  std::int64_t offset_seconds = 0;
};

// Parses "HH:MM[:SS[.f]][Z|±hh:mm]" from `*at` to the end.
bool ParseTime(std::string_view text, std::size_t at, TimeOfDay* time) {
  if (!Digits(text, &at, 2, &time->hour) || !Expect(text, &at, ":") ||
      !Digits(text, &at, 2, &time->minute)) {
    return false;
  }
  time->given = 1;
  if (at < text.size() && text[at] == ':') {
    ++at;
    if (!Digits(text, &at, 2, &time->second)) return false;
    time->given = 2;
    if (at < text.size() && (text[at] == '.' || text[at] == ',')) {
      std::size_t digits = 0;
      for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++digits) {
        if (digits < 9) time->nanos = time->nanos * 10 + (text[at] - '0');
      }
      if (digits == 0 || digits > 9) return false;
      for (std::size_t i = digits; i < 9; ++i) time->nanos *= 10;
      time->given = 3;
    }
  }
  if (at == text.size()) return time->hour < 24 && time->minute < 60 && time->second < 60;
  if (text[at] == 'Z' || text[at] == 'z') {
    ++at;
  } else {
    const bool negative = text[at] == '-';
    int hours = 0, minutes = 0;
    if (!Expect(text, &at, "+-") || !Digits(text, &at, 2, &hours) || !Expect(text, &at, ":") ||
        !Digits(text, &at, 2, &minutes) || hours > 18 || minutes > 59) {
      return false;
    }
    time->offset_seconds = (negative ? -1 : 1) * (hours * 3600 + minutes * 60);
  }
  return at == text.size() && time->hour < 24 && time->minute < 60 && time->second < 60;
}

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

Error ParsingError(std::string reason) { return EsError("parsing_exception", std::move(reason)); }
Error IllegalArgument(std::string reason) {
  return EsError("illegal_argument_exception", std::move(reason));
}
Error XContentError(std::string reason) {
  return EsError("x_content_parse_exception", std::move(reason));
}
Error QueryShardError(std::string reason) {
  return EsError("query_shard_exception", std::move(reason));
}

std::string_view TokenName(const rapidjson::Value& value) {
  if (value.IsObject()) return "START_OBJECT";
  if (value.IsArray()) return "START_ARRAY";
  if (value.IsString()) return "VALUE_STRING";
  if (value.IsNumber()) return "VALUE_NUMBER";
  if (value.IsBool()) return "VALUE_BOOLEAN";
  return "VALUE_NULL";
}

std::string_view View(const rapidjson::Value& string) {
  return {string.GetString(), string.GetStringLength()};
}

Error UnknownKey(std::string_view key, const rapidjson::Value& value) {
  return ParsingError("Unknown key for a " + std::string(TokenName(value)) + " in [" +
                      std::string(key) + "].");
}

Result<std::optional<SearchField>> QueryField(std::string_view name) {
  if (name == "_id") return SearchField::kRecordId;
  if (name.starts_with('_')) {
    return std::unexpected(ParsingError("queries on the metadata field [" + std::string(name) +
                                        "] are not supported (only _id, as record_id)"));
  }
  return projections::SearchFieldFromName(name);
}

Result<SearchField> MappedField(std::string_view name, std::string_view what) {
  if (name == "_id") return SearchField::kRecordId;
  if (const auto field = projections::SearchFieldFromName(name)) return *field;
  if (what == "sort") {
    return std::unexpected(
        QueryShardError("No mapping found for [" + std::string(name) + "] in order to sort on"));
  }
  return std::unexpected(IllegalArgument("No mapping found for [" + std::string(name) + "] in " +
                                         std::string(what) +
                                         ": aggregations on unmapped fields are refused"));
}

Error TextFieldData(std::string_view name) {
  return IllegalArgument(
      "Text fields are not optimised for operations that require per-document field data like "
      "aggregations and sorting, so these operations are disabled by default. Please use a "
      "keyword field instead. Alternatively, set fielddata=true on [" +
      std::string(name) +
      "] in order to load field data by uninverting the inverted index. Note that this can use "
      "significant memory.");
}

Result<DateBounds> ParseDate(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] {
    return Fail(ErrorKind::kInvalidArgument, "parse_exception",
                "failed to parse date field [" + std::string(text.substr(0, 64)) +
                    "]: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.fraction]][Z|+hh:mm] "
                    "(no date math) or epoch milliseconds");
  };
  std::size_t at = 0;
  int y = 0, m = 0, d = 0;
  if (!Digits(text, &at, 4, &y) || !Expect(text, &at, "-") || !Digits(text, &at, 2, &m) ||
      !Expect(text, &at, "-") || !Digits(text, &at, 2, &d)) {
    return bad();
  }
  const year_month_day date{year{y}, month{static_cast<unsigned>(m)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return bad();
  TimeOfDay time;
  if (at < text.size() && !(Expect(text, &at, "Tt") && ParseTime(text, at, &time))) return bad();
  const std::int64_t day_seconds = sys_days{date}.time_since_epoch().count() * 86'400;
  const std::int64_t seconds =
      day_seconds + time.hour * 3600 + time.minute * 60 + time.second - time.offset_seconds;
  // Rounded up: the missing parts at their maximum (Elasticsearch's round-up parser).
  std::int64_t up_seconds = seconds;
  std::int64_t up_nanos = time.nanos;
  if (time.given == 0) up_seconds += 86'399;
  if (time.given == 1) up_seconds += 59;
  if (time.given < 3) up_nanos = 999'999'999;
  return DateBounds{seconds * 1000 + FloorDiv(time.nanos, 1'000'000),
                    up_seconds * 1000 + FloorDiv(up_nanos, 1'000'000)};
}

}  // namespace internal

namespace {

// Numbers reach ExactNumbers as text, which converts them itself.
constexpr unsigned kParseFlags = rapidjson::kParseIterativeFlag |
                                 rapidjson::kParseValidateEncodingFlag |
                                 rapidjson::kParseNumbersAsStringsFlag;

// Whether a JSON number's magnitude is below one: tells an underflow from an overflow.
bool BelowOne(std::string_view number) {
  long exponent = 0;
  const std::size_t e = number.find_first_of("eE");
  if (e != std::string_view::npos) {
    std::string_view text = number.substr(e + 1);
    if (!text.empty() && text.front() == '+') text.remove_prefix(1);
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), exponent);
    if (error == std::errc::result_out_of_range) {
      exponent = text.front() == '-' ? std::numeric_limits<long>::min() / 2
                                     : std::numeric_limits<long>::max() / 2;
    }
  }
  std::string_view mantissa = number.substr(0, e);
  if (!mantissa.empty() && mantissa.front() == '-') mantissa.remove_prefix(1);
  const std::size_t point = mantissa.find('.');
  const std::string_view integer = mantissa.substr(0, point);
  const std::size_t first = integer.find_first_not_of('0');
  if (first != std::string_view::npos) {
    return exponent + static_cast<long>(integer.size() - first) <= 0;
  }
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : mantissa.substr(point + 1);
  const std::size_t nonzero = fraction.find_first_not_of('0');
  return nonzero == std::string_view::npos || exponent - static_cast<long>(nonzero) <= 0;
}

// Builds the document as rapidjson::Document::Parse<kParseFullPrecisionFlag> would, with the
// same types (Int, Uint, Int64, Uint64, else double), but converts numbers with
// std::from_chars, which is exact for every input. RapidJSON 1.1.0's full-precision strtod has
// undefined behaviour on extreme inputs, found by the search_dsl fuzzer: clz(0) and a shift by
// an arbitrary amount for 0e-30, a signed overflow for 0.(500 zeros)875; it can return garbage
// for them (fixed upstream after 1.1.0). A number too small for a double is zero, as in
// RapidJSON; one too large is refused (RapidJSON itself refuses most of them).
class ExactNumbers {
 public:
  using Ch = char;
  explicit ExactNumbers(rapidjson::Document* target) : target_(target) {}

  bool RawNumber(const char* text, rapidjson::SizeType length, bool /*copy*/) {
    const std::string_view number(text, length);
    const char* end = text + length;
    if (number.find_first_of(".eE") == std::string_view::npos) {
      if (number.front() == '-') {
        std::int64_t value = 0;
        const auto [at, error] = std::from_chars(text, end, value);
        if (error == std::errc() && at == end) {
          return value >= std::numeric_limits<std::int32_t>::min()
                     ? target_->Int(static_cast<int>(value))
                     : target_->Int64(value);
        }
      } else {
        std::uint64_t value = 0;
        const auto [at, error] = std::from_chars(text, end, value);
        if (error == std::errc() && at == end) {
          return value <= std::numeric_limits<std::uint32_t>::max()
                     ? target_->Uint(static_cast<unsigned>(value))
                     : target_->Uint64(value);
        }
      }
      // Beyond 64 bits: a double, as in RapidJSON.
    }
    double value = 0;
    const auto [at, error] = std::from_chars(text, end, value);
    if (error == std::errc::result_out_of_range) {
      if (!BelowOne(number)) {
        out_of_range_ = std::string(number.substr(0, 40)) + (number.size() > 40 ? "..." : "");
        return false;
      }
      return target_->Double(number.front() == '-' ? -0.0 : 0.0);
    }
    // The outer parse checked the syntax, which from_chars accepts whole.
    LEDGER_ASSERT(error == std::errc() && at == end);
    return target_->Double(value);
  }
  bool Null() { return target_->Null(); }
  bool Bool(bool value) { return target_->Bool(value); }
  bool Int(int value) { return target_->Int(value); }
  bool Uint(unsigned value) { return target_->Uint(value); }
  bool Int64(std::int64_t value) { return target_->Int64(value); }
  bool Uint64(std::uint64_t value) { return target_->Uint64(value); }
  bool Double(double value) { return target_->Double(value); }
  bool String(const char* text, rapidjson::SizeType length, bool copy) {
    return target_->String(text, length, copy);
  }
  bool StartObject() { return target_->StartObject(); }
  bool Key(const char* text, rapidjson::SizeType length, bool copy) {
    return target_->Key(text, length, copy);
  }
  bool EndObject(rapidjson::SizeType members) { return target_->EndObject(members); }
  bool StartArray() { return target_->StartArray(); }
  bool EndArray(rapidjson::SizeType elements) { return target_->EndArray(elements); }

  // The number that stopped the parse for being too large for a double, if one did.
  [[nodiscard]] const std::optional<std::string>& out_of_range() const { return out_of_range_; }

 private:
  rapidjson::Document* target_;
  std::optional<std::string> out_of_range_;
};

std::optional<std::string_view> DuplicateKey(const rapidjson::Value& object) {
  std::vector<std::string_view> names;
  names.reserve(object.MemberCount());
  for (const auto& member : object.GetObject()) names.push_back(internal::View(member.name));
  std::sort(names.begin(), names.end());
  const auto repeated = std::adjacent_find(names.begin(), names.end());
  if (repeated == names.end()) return std::nullopt;
  return *repeated;
}

// Depth and duplicate keys, without recursion.
Status CheckStructure(const rapidjson::Value& root) {
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> stack{{&root, 1}};
  while (!stack.empty()) {
    const auto [value, depth] = stack.back();
    stack.pop_back();
    if (depth > kSearchJsonDepthMax) {
      return std::unexpected(internal::XContentError(
          "the body nests deeper than " + std::to_string(kSearchJsonDepthMax) + " levels"));
    }
    if (value->IsObject()) {
      if (auto key = DuplicateKey(*value)) {
        return std::unexpected(
            internal::XContentError("Duplicate field '" + std::string(*key) + "'"));
      }
      for (const auto& member : value->GetObject()) {
        if (member.value.IsObject() || member.value.IsArray()) {
          stack.emplace_back(&member.value, depth + 1);
        }
      }
    } else if (value->IsArray()) {
      for (const auto& element : value->GetArray()) {
        if (element.IsObject() || element.IsArray()) stack.emplace_back(&element, depth + 1);
      }
    }
  }
  return Ok();
}

}  // namespace

Result<rapidjson::Document> ParseSearchJson(std::string_view body) {
  if (body.size() > kSearchBodyBytesMax) {
    return Fail(ErrorKind::kTooLarge, "content_too_long",
                "request body larger than " + std::to_string(kSearchBodyBytesMax) + " bytes");
  }
  rapidjson::Document document;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    document.SetObject();
    return document;
  }
  rapidjson::ParseResult parsed;
  ExactNumbers handler(&document);
  auto generate = [&](rapidjson::Document&) {
    rapidjson::Reader reader;
    rapidjson::MemoryStream memory(body.data(), body.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
    parsed = reader.Parse<kParseFlags>(stream, handler);
    return !parsed.IsError();
  };
  document.Populate(generate);
  if (parsed.IsError()) {
    const std::string reason = handler.out_of_range()
                                   ? "number " + *handler.out_of_range() +
                                         " is out of the range of a double"
                                   : rapidjson::GetParseError_En(parsed.Code());
    return std::unexpected(internal::XContentError("Failed to parse the request body at offset " +
                                                   std::to_string(parsed.Offset()) + ": " +
                                                   reason));
  }
  if (auto status = CheckStructure(document); !status) return std::unexpected(status.error());
  return document;
}

}  // namespace ledger::transport
