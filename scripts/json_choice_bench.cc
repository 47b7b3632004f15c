// clang-format off
// json_choice_bench: measures the JSON libraries available on Debian 12 for the ledger's HTTP
// decoders and responses: RapidJSON (DOM, kParseIterativeFlag | kParseValidateEncodingFlag, plus
// Writer), nlohmann::json and simdjson (On Demand; simdjson 3.0.1 has no writer). Standalone; not
// part of the CMake build. Results and the decision are in docs/architecture.md ("JSON library
// choice").
//
// Build (packages rapidjson-dev, nlohmann-json3-dev, libsimdjson-dev), from the repository root:
//   g++ -O2 -std=c++23 -Wall -Wextra scripts/json_choice_bench.cc -lsimdjson -o /tmp/json_choice_bench
// Run (default: 1,000,000 iterations per repetition, 5 repetitions, median reported):
//   /tmp/json_choice_bench [iterations] [repetitions]
//
// What is measured, per library:
//   1. parse + decode a ChangeAsset body and a SettleOrder body into C++ structs with the same
//      checks in every decoder (root is an object, every field type-checked, int64 exact, string
//      length limits, unknown and duplicate keys rejected where the library lets us see them,
//      required fields present, at most 16 splits, bps xor amount per split);
//   2. serializing a ~15-field response (strings, int64s, an array of 2 objects) into a string;
//   3. exactness: int64 edges, 1.0, duplicate keys, trailing content;
//   4. a 100,000-deep nested array, each case in a forked child so a stack overflow shows up as
//      a signal instead of killing the benchmark.
// Repetitions run round-robin over all cases; wall and thread-CPU medians are both reported.
// clang-format on
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

#define BENCH_STR2(x) #x
#define BENCH_STR(x) BENCH_STR2(x)

// Same values as ledger/limits.h.
constexpr std::size_t kIdBytesMax = 128;
constexpr std::size_t kTextBytesMax = 512;
constexpr std::size_t kSettlementSplitsMax = 16;
constexpr std::size_t kJsonDepthMax = 16;

// --- Decoded structs (mirror commands/command.h) ----------------------------------------------
struct ChangeAsset {
  std::string account;
  std::string asset;
  std::int64_t amount = 0;
  std::string source;
  std::optional<std::string> counterparty;
  std::string reason;
  std::string ref;
  std::optional<std::uint64_t> expected_version;
  bool operator==(const ChangeAsset&) const = default;
};

struct Split {
  std::string to;
  std::string kind;
  std::optional<std::int64_t> bps;
  std::optional<std::int64_t> amount;
  bool operator==(const Split&) const = default;
};

struct SettleOrder {
  std::string order_id;
  std::string merchant;
  std::string payer;
  std::string asset;
  std::int64_t gross = 0;
  std::vector<Split> splits;
  std::optional<std::int64_t> occurred_at_us;
  bool operator==(const SettleOrder&) const = default;
};

enum class Err {
  kOk,
  kSyntax,
  kNotObject,
  kType,
  kNotInteger,
  kRange,
  kTooLong,
  kTooMany,
  kDuplicate,
  kUnknownField,
  kMissingField,
  kTrailing,
};

const char* ErrName(Err e) {
  switch (e) {
    case Err::kOk:
      return "ok";
    case Err::kSyntax:
      return "syntax";
    case Err::kNotObject:
      return "not_object";
    case Err::kType:
      return "type";
    case Err::kNotInteger:
      return "not_integer";
    case Err::kRange:
      return "out_of_range";
    case Err::kTooLong:
      return "too_long";
    case Err::kTooMany:
      return "too_many";
    case Err::kDuplicate:
      return "duplicate_key";
    case Err::kUnknownField:
      return "unknown_field";
    case Err::kMissingField:
      return "missing_field";
    case Err::kTrailing:
      return "trailing_content";
  }
  return "?";
}

#define BENCH_TRY(expr)                             \
  do {                                              \
    if (Err e_ = (expr); e_ != Err::kOk) return e_; \
  } while (0)

// Marks a field seen; a second occurrence is a duplicate key.
inline Err See(std::uint32_t& seen, std::uint32_t bit) {
  if (seen & bit) return Err::kDuplicate;
  seen |= bit;
  return Err::kOk;
}

// --- Library-independent decoders over an adapter ---------------------------------------------
// A: ForEachMember(obj, f(key, value)), ForEachElement(value, f(value)), AsObject(value, f(obj)),
//    String(value, max, out), Int64(value, out), Uint64(value, out).
template <class A, class Obj>
Err DecodeChangeAssetFields(Obj&& obj, ChangeAsset& out) {
  enum : std::uint32_t {
    kAccount = 1,
    kAsset = 2,
    kAmount = 4,
    kSource = 8,
    kCounterparty = 16,
    kReason = 32,
    kRef = 64,
    kExpectedVersion = 128,
  };
  std::uint32_t seen = 0;
  BENCH_TRY(A::ForEachMember(obj, [&](std::string_view key, auto&& v) -> Err {
    if (key == "account") {
      BENCH_TRY(See(seen, kAccount));
      return A::String(v, kIdBytesMax, out.account);
    }
    if (key == "asset") {
      BENCH_TRY(See(seen, kAsset));
      return A::String(v, kIdBytesMax, out.asset);
    }
    if (key == "amount") {
      BENCH_TRY(See(seen, kAmount));
      return A::Int64(v, out.amount);
    }
    if (key == "source") {
      BENCH_TRY(See(seen, kSource));
      return A::String(v, kIdBytesMax, out.source);
    }
    if (key == "counterparty") {
      BENCH_TRY(See(seen, kCounterparty));
      return A::String(v, kIdBytesMax, out.counterparty.emplace());
    }
    if (key == "reason") {
      BENCH_TRY(See(seen, kReason));
      return A::String(v, kTextBytesMax, out.reason);
    }
    if (key == "ref") {
      BENCH_TRY(See(seen, kRef));
      return A::String(v, kTextBytesMax, out.ref);
    }
    if (key == "expected_version") {
      BENCH_TRY(See(seen, kExpectedVersion));
      return A::Uint64(v, out.expected_version.emplace());
    }
    return Err::kUnknownField;
  }));
  constexpr std::uint32_t kRequired = kAccount | kAsset | kAmount | kSource;
  return (seen & kRequired) == kRequired ? Err::kOk : Err::kMissingField;
}

template <class A, class Obj>
Err DecodeSplitFields(Obj&& obj, Split& out) {
  enum : std::uint32_t { kTo = 1, kKind = 2, kBps = 4, kAmount = 8 };
  std::uint32_t seen = 0;
  BENCH_TRY(A::ForEachMember(obj, [&](std::string_view key, auto&& v) -> Err {
    if (key == "to") {
      BENCH_TRY(See(seen, kTo));
      return A::String(v, kIdBytesMax, out.to);
    }
    if (key == "kind") {
      BENCH_TRY(See(seen, kKind));
      return A::String(v, kIdBytesMax, out.kind);
    }
    if (key == "bps") {
      BENCH_TRY(See(seen, kBps));
      return A::Int64(v, out.bps.emplace());
    }
    if (key == "amount") {
      BENCH_TRY(See(seen, kAmount));
      return A::Int64(v, out.amount.emplace());
    }
    return Err::kUnknownField;
  }));
  if ((seen & (kTo | kKind)) != (kTo | kKind)) return Err::kMissingField;
  // Exactly one of bps / amount.
  if (((seen & kBps) != 0) == ((seen & kAmount) != 0)) return Err::kMissingField;
  return Err::kOk;
}

template <class A, class Obj>
Err DecodeSettleOrderFields(Obj&& obj, SettleOrder& out) {
  enum : std::uint32_t {
    kOrderId = 1,
    kMerchant = 2,
    kPayer = 4,
    kAsset = 8,
    kGross = 16,
    kSplits = 32,
    kOccurredAt = 64,
  };
  std::uint32_t seen = 0;
  BENCH_TRY(A::ForEachMember(obj, [&](std::string_view key, auto&& v) -> Err {
    if (key == "order_id") {
      BENCH_TRY(See(seen, kOrderId));
      return A::String(v, kIdBytesMax, out.order_id);
    }
    if (key == "merchant") {
      BENCH_TRY(See(seen, kMerchant));
      return A::String(v, kIdBytesMax, out.merchant);
    }
    if (key == "payer") {
      BENCH_TRY(See(seen, kPayer));
      return A::String(v, kIdBytesMax, out.payer);
    }
    if (key == "asset") {
      BENCH_TRY(See(seen, kAsset));
      return A::String(v, kIdBytesMax, out.asset);
    }
    if (key == "gross") {
      BENCH_TRY(See(seen, kGross));
      return A::Int64(v, out.gross);
    }
    if (key == "occurred_at_us") {
      BENCH_TRY(See(seen, kOccurredAt));
      return A::Int64(v, out.occurred_at_us.emplace());
    }
    if (key == "splits") {
      BENCH_TRY(See(seen, kSplits));
      out.splits.reserve(4);
      return A::ForEachElement(v, [&](auto&& element) -> Err {
        if (out.splits.size() == kSettlementSplitsMax) return Err::kTooMany;
        Split& split = out.splits.emplace_back();
        return A::AsObject(element, [&](auto&& split_obj) -> Err {
          return DecodeSplitFields<A>(split_obj, split);
        });
      });
    }
    return Err::kUnknownField;
  }));
  constexpr std::uint32_t kRequired = kOrderId | kMerchant | kPayer | kAsset | kGross | kSplits;
  return (seen & kRequired) == kRequired ? Err::kOk : Err::kMissingField;
}

// --- RapidJSON --------------------------------------------------------------------------------
constexpr unsigned kRjFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
using RjValue = rapidjson::Value;  // GenericValue<UTF8<>, MemoryPoolAllocator<>>

struct RjAdapter {
  template <class F>
  static Err ForEachMember(const RjValue& obj, F&& f) {
    for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
      BENCH_TRY(f(std::string_view(it->name.GetString(), it->name.GetStringLength()), it->value));
    }
    return Err::kOk;
  }
  template <class F>
  static Err ForEachElement(const RjValue& v, F&& f) {
    if (!v.IsArray()) return Err::kType;
    for (const RjValue& element : v.GetArray()) BENCH_TRY(f(element));
    return Err::kOk;
  }
  template <class F>
  static Err AsObject(const RjValue& v, F&& f) {
    if (!v.IsObject()) return Err::kType;
    return f(v);
  }
  static Err String(const RjValue& v, std::size_t max, std::string& out) {
    if (!v.IsString()) return Err::kType;
    if (v.GetStringLength() > max) return Err::kTooLong;
    out.assign(v.GetString(), v.GetStringLength());
    return Err::kOk;
  }
  static Err Int64(const RjValue& v, std::int64_t& out) {
    if (v.IsInt64()) {
      out = v.GetInt64();
      return Err::kOk;
    }
    if (v.IsUint64()) return Err::kRange;       // 2^63 .. 2^64-1
    if (v.IsDouble()) return Err::kNotInteger;  // 1.0, 1e2, or any integer beyond uint64
    return Err::kType;
  }
  static Err Uint64(const RjValue& v, std::uint64_t& out) {
    if (v.IsUint64()) {
      out = v.GetUint64();
      return Err::kOk;
    }
    if (v.IsInt64()) return Err::kRange;
    if (v.IsDouble()) return Err::kNotInteger;
    return Err::kType;
  }
};

template <class Doc>
Err RjParseRoot(Doc& doc, std::string_view body) {
  doc.template Parse<kRjFlags>(body.data(), body.size());
  if (doc.HasParseError()) return Err::kSyntax;
  if (!doc.IsObject()) return Err::kNotObject;
  return Err::kOk;
}

// Default Document: allocates its memory pool and parse stack on the heap.
Err RjDecodeChangeAsset(std::string_view body, ChangeAsset& out) {
  rapidjson::Document doc;
  BENCH_TRY(RjParseRoot(doc, body));
  return DecodeChangeAssetFields<RjAdapter>(static_cast<const RjValue&>(doc), out);
}
Err RjDecodeSettleOrder(std::string_view body, SettleOrder& out) {
  rapidjson::Document doc;
  BENCH_TRY(RjParseRoot(doc, body));
  return DecodeSettleOrderFields<RjAdapter>(static_cast<const RjValue&>(doc), out);
}

// Document whose value pool and parse stack start in stack buffers (falls back to the heap when
// they overflow); the usual RapidJSON tuning for small bodies.
using RjPoolDoc = rapidjson::GenericDocument<rapidjson::UTF8<>, rapidjson::MemoryPoolAllocator<>,
                                             rapidjson::MemoryPoolAllocator<>>;
template <class F>
Err WithRjPoolDoc(std::string_view body, F&& f) {
  char value_buffer[4096];
  char parse_buffer[1024];
  rapidjson::MemoryPoolAllocator<> value_allocator(value_buffer, sizeof value_buffer);
  rapidjson::MemoryPoolAllocator<> parse_allocator(parse_buffer, sizeof parse_buffer);
  RjPoolDoc doc(&value_allocator, sizeof parse_buffer, &parse_allocator);
  BENCH_TRY(RjParseRoot(doc, body));
  return f(static_cast<const RjValue&>(doc));
}
Err RjPoolDecodeChangeAsset(std::string_view body, ChangeAsset& out) {
  return WithRjPoolDoc(
      body, [&](const RjValue& root) { return DecodeChangeAssetFields<RjAdapter>(root, out); });
}
Err RjPoolDecodeSettleOrder(std::string_view body, SettleOrder& out) {
  return WithRjPoolDoc(
      body, [&](const RjValue& root) { return DecodeSettleOrderFields<RjAdapter>(root, out); });
}

// SAX handler that forwards to a Document but stops the parse beyond a nesting depth.
template <class Doc>
struct RjDepthLimiter {
  Doc& doc;
  std::size_t max_depth;
  std::size_t depth = 0;
  bool Null() { return doc.Null(); }
  bool Bool(bool b) { return doc.Bool(b); }
  bool Int(int i) { return doc.Int(i); }
  bool Uint(unsigned u) { return doc.Uint(u); }
  bool Int64(std::int64_t i) { return doc.Int64(i); }
  bool Uint64(std::uint64_t u) { return doc.Uint64(u); }
  bool Double(double d) { return doc.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc.RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc.String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc.Key(s, n, copy); }
  bool StartObject() { return ++depth <= max_depth && doc.StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth;
    return doc.EndObject(n);
  }
  bool StartArray() { return ++depth <= max_depth && doc.StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth;
    return doc.EndArray(n);
  }
};

// Parses into `doc` with a depth limit; returns the reader's result.
rapidjson::ParseResult RjParseDepthLimited(rapidjson::Document& doc, std::string_view body,
                                           std::size_t max_depth) {
  rapidjson::ParseResult result;
  auto generator = [&](rapidjson::Document& d) {
    RjDepthLimiter<rapidjson::Document> limiter{d, max_depth};
    rapidjson::MemoryStream ms(body.data(), body.size());
    rapidjson::Reader reader;
    result = reader.Parse<kRjFlags>(ms, limiter);
    return !result.IsError();
  };
  doc.Populate(generator);
  return result;
}

// --- nlohmann::json ---------------------------------------------------------------------------
using njson = nlohmann::json;

struct NlAdapter {
  template <class F>
  static Err ForEachMember(const njson& obj, F&& f) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
      BENCH_TRY(f(std::string_view(it.key()), *it));
    return Err::kOk;
  }
  template <class F>
  static Err ForEachElement(const njson& v, F&& f) {
    if (!v.is_array()) return Err::kType;
    for (const njson& element : v) BENCH_TRY(f(element));
    return Err::kOk;
  }
  template <class F>
  static Err AsObject(const njson& v, F&& f) {
    if (!v.is_object()) return Err::kType;
    return f(v);
  }
  static Err String(const njson& v, std::size_t max, std::string& out) {
    if (!v.is_string()) return Err::kType;
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > max) return Err::kTooLong;
    out = s;
    return Err::kOk;
  }
  static Err Int64(const njson& v, std::int64_t& out) {
    // nlohmann stores 2^63..2^64-1 as number_unsigned; get<int64_t>() would wrap it silently.
    if (v.is_number_unsigned()) {
      const auto u = v.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        return Err::kRange;
      out = static_cast<std::int64_t>(u);
      return Err::kOk;
    }
    if (v.is_number_integer()) {
      out = v.get<std::int64_t>();
      return Err::kOk;
    }
    if (v.is_number_float()) return Err::kNotInteger;
    return Err::kType;
  }
  static Err Uint64(const njson& v, std::uint64_t& out) {
    if (v.is_number_unsigned()) {
      out = v.get<std::uint64_t>();
      return Err::kOk;
    }
    if (v.is_number_integer()) return Err::kRange;  // Negative.
    if (v.is_number_float()) return Err::kNotInteger;
    return Err::kType;
  }
};

Err NlParseRoot(njson& doc, std::string_view body) {
  doc = njson::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Err::kSyntax;
  if (!doc.is_object()) return Err::kNotObject;
  return Err::kOk;
}
Err NlDecodeChangeAsset(std::string_view body, ChangeAsset& out) {
  njson doc;
  BENCH_TRY(NlParseRoot(doc, body));
  return DecodeChangeAssetFields<NlAdapter>(std::as_const(doc), out);
}
Err NlDecodeSettleOrder(std::string_view body, SettleOrder& out) {
  njson doc;
  BENCH_TRY(NlParseRoot(doc, body));
  return DecodeSettleOrderFields<NlAdapter>(std::as_const(doc), out);
}

// --- simdjson On Demand -----------------------------------------------------------------------
namespace od = simdjson::ondemand;

struct SjAdapter {
  template <class F>
  static Err ForEachMember(od::object obj, F&& f) {
    for (auto field_result : obj) {
      od::field field;
      if (std::move(field_result).get(field)) return Err::kSyntax;
      std::string_view key;
      if (field.unescaped_key().get(key)) return Err::kSyntax;
      od::value v = field.value();
      BENCH_TRY(f(key, v));
    }
    return Err::kOk;
  }
  template <class F>
  static Err ForEachElement(od::value& v, F&& f) {
    od::array array;
    if (auto e = v.get_array().get(array); e)
      return e == simdjson::INCORRECT_TYPE ? Err::kType : Err::kSyntax;
    for (auto element_result : array) {
      od::value element;
      if (std::move(element_result).get(element)) return Err::kSyntax;
      BENCH_TRY(f(element));
    }
    return Err::kOk;
  }
  template <class F>
  static Err AsObject(od::value& v, F&& f) {
    od::object obj;
    if (auto e = v.get_object().get(obj); e)
      return e == simdjson::INCORRECT_TYPE ? Err::kType : Err::kSyntax;
    return f(obj);
  }
  static Err FromError(simdjson::error_code e) {
    switch (e) {
      case simdjson::SUCCESS:
        return Err::kOk;
      case simdjson::INCORRECT_TYPE:
        return Err::kType;
      case simdjson::NUMBER_OUT_OF_RANGE:
        return Err::kRange;
      default:
        return Err::kSyntax;
    }
  }
  static Err String(od::value& v, std::size_t max, std::string& out) {
    std::string_view s;
    BENCH_TRY(FromError(v.get_string().get(s)));
    if (s.size() > max) return Err::kTooLong;
    out.assign(s);
    return Err::kOk;
  }
  static Err Int64(od::value& v, std::int64_t& out) {
    const auto e = v.get_int64().get(out);
    // A failed get_int64() does not consume the value, so its type can still be asked.
    if (e == simdjson::INCORRECT_TYPE) {
      od::json_type t;
      if (!v.type().get(t) && t == od::json_type::number) return Err::kNotInteger;
    }
    return FromError(e);
  }
  static Err Uint64(od::value& v, std::uint64_t& out) { return FromError(v.get_uint64().get(out)); }
};

// Root must be an object and nothing may follow it.
template <class F>
Err SjWithRoot(od::parser& parser, simdjson::padded_string_view body, F&& f,
               bool check_end = true) {
  od::document doc;
  if (parser.iterate(body).get(doc)) return Err::kSyntax;
  od::object obj;
  if (auto e = doc.get_object().get(obj); e)
    return e == simdjson::INCORRECT_TYPE ? Err::kNotObject : Err::kSyntax;
  BENCH_TRY(f(obj));
  // simdjson 3.0.1's document has no at_end(); current_location() is OUT_OF_BOUNDS at the end.
  if (check_end && doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return Err::kTrailing;
  return Err::kOk;
}
Err SjDecodeChangeAsset(od::parser& parser, simdjson::padded_string_view body, ChangeAsset& out) {
  return SjWithRoot(parser, body,
                    [&](od::object obj) { return DecodeChangeAssetFields<SjAdapter>(obj, out); });
}
Err SjDecodeChangeAssetNoEndCheck(od::parser& parser, simdjson::padded_string_view body,
                                  ChangeAsset& out) {
  return SjWithRoot(
      parser, body, [&](od::object obj) { return DecodeChangeAssetFields<SjAdapter>(obj, out); },
      /*check_end=*/false);
}
Err SjDecodeSettleOrder(od::parser& parser, simdjson::padded_string_view body, SettleOrder& out) {
  return SjWithRoot(parser, body,
                    [&](od::object obj) { return DecodeSettleOrderFields<SjAdapter>(obj, out); });
}

// --- Response serialization -------------------------------------------------------------------
struct PostingOut {
  std::string account;
  std::string kind;
  std::int64_t amount;
};
struct Response {
  std::string event_id = "01J0Z5M3V8Q3K5Y9X7T2R4N6PB";
  std::string type = "OrderSettled";
  std::uint64_t seq = 123456789;
  std::int64_t occurred_at_us = 1718000000123456;
  std::int64_t recorded_at_us = 1718000000234567;
  std::string order_id = "ord-98765";
  std::string merchant = "merchant:42";
  std::string payer = "user:7";
  std::string asset = "CNY";
  std::int64_t gross = 10000;
  std::int64_t net = 8440;
  std::string correlation_id = "c0ffee00-1234-4abc-9def-0123456789ab";
  std::string idempotency_key = "idem-7f3a9c";
  std::string reason = "\u8ba2\u5355\u652f\u4ed8";  // Non-ASCII text, written as UTF-8.
  std::vector<PostingOut> postings = {{"host:9", "host_commission", 1000},
                                      {"platform:fees", "platform_share", 500}};
};

std::string RjSerialize(const Response& r) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto str = [&](const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  };
  w.StartObject();
  w.Key("event_id");
  str(r.event_id);
  w.Key("type");
  str(r.type);
  w.Key("seq");
  w.Uint64(r.seq);
  w.Key("occurred_at_us");
  w.Int64(r.occurred_at_us);
  w.Key("recorded_at_us");
  w.Int64(r.recorded_at_us);
  w.Key("order_id");
  str(r.order_id);
  w.Key("merchant");
  str(r.merchant);
  w.Key("payer");
  str(r.payer);
  w.Key("asset");
  str(r.asset);
  w.Key("gross");
  w.Int64(r.gross);
  w.Key("net");
  w.Int64(r.net);
  w.Key("correlation_id");
  str(r.correlation_id);
  w.Key("idempotency_key");
  str(r.idempotency_key);
  w.Key("reason");
  str(r.reason);
  w.Key("postings");
  w.StartArray();
  for (const PostingOut& p : r.postings) {
    w.StartObject();
    w.Key("account");
    str(p.account);
    w.Key("kind");
    str(p.kind);
    w.Key("amount");
    w.Int64(p.amount);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string NlSerialize(const Response& r) {
  njson j;
  j["event_id"] = r.event_id;
  j["type"] = r.type;
  j["seq"] = r.seq;
  j["occurred_at_us"] = r.occurred_at_us;
  j["recorded_at_us"] = r.recorded_at_us;
  j["order_id"] = r.order_id;
  j["merchant"] = r.merchant;
  j["payer"] = r.payer;
  j["asset"] = r.asset;
  j["gross"] = r.gross;
  j["net"] = r.net;
  j["correlation_id"] = r.correlation_id;
  j["idempotency_key"] = r.idempotency_key;
  j["reason"] = r.reason;
  njson postings = njson::array();
  for (const PostingOut& p : r.postings) {
    postings.push_back({{"account", p.account}, {"kind", p.kind}, {"amount", p.amount}});
  }
  j["postings"] = std::move(postings);
  return j.dump();  // Keys come out sorted (std::map); output differs in order, not in content.
}

// --- Timing -----------------------------------------------------------------------------------
// Cases are registered first and then run round-robin: repetition r of every case, then r+1, so a
// burst of load from other processes hits all libraries alike instead of one of them.
struct Case {
  std::string section;
  std::string label;  // Short section name for the summary table.
  std::string name;
  std::function<std::size_t(long)> run;  // Runs the operation n times; returns a checksum.
  std::vector<double> wall_ns;           // Per repetition, per operation.
  std::vector<double> cpu_ns;  // Same, thread CPU time (excludes time the thread waited for a CPU).
  double wall_median = 0;
  double cpu_median = 0;
};
std::vector<Case> g_cases;
std::string g_section;
std::string g_label;
volatile std::size_t g_sink;

template <class F>
void Add(const std::string& name, F f) {
  g_cases.push_back({g_section,
                     g_label,
                     name,
                     [f](long n) {
                       std::size_t sink = 0;
                       for (long i = 0; i < n; ++i) sink += f();
                       return sink;
                     },
                     {},
                     {}});
}

double ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void RunAll(long iterations, int repetitions) {
  for (Case& c : g_cases) g_sink = c.run(iterations / 10 + 1);  // Warm-up.
  for (int r = 0; r < repetitions; ++r) {
    for (Case& c : g_cases) {
      const double cpu0 = ThreadCpuNs();
      const auto t0 = std::chrono::steady_clock::now();
      g_sink = c.run(iterations);
      const auto t1 = std::chrono::steady_clock::now();
      const double cpu1 = ThreadCpuNs();
      c.wall_ns.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count() / iterations);
      c.cpu_ns.push_back((cpu1 - cpu0) / iterations);
    }
  }
  std::string section;
  for (Case& c : g_cases) {
    c.wall_median = Median(c.wall_ns);
    c.cpu_median = Median(c.cpu_ns);
    if (c.section != section) std::printf("### %s\n", (section = c.section).c_str());
    std::printf("  %-58s median %7.1f ns/op wall, %7.1f ns/op cpu (wall runs:", c.name.c_str(),
                c.wall_median, c.cpu_median);
    for (double v : c.wall_ns) std::printf(" %.0f", v);
    std::printf(")\n");
  }
  std::fflush(stdout);
}

std::string LoadAverage() {
  char buf[128] = {};
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "FATAL: %s\n", what);
  std::exit(1);
}

// std::string with SIMDJSON_PADDING spare capacity, as simdjson needs (padded_string_view).
std::string Padded(std::string_view s) {
  std::string out;
  out.reserve(s.size() + simdjson::SIMDJSON_PADDING);
  out.assign(s);
  return out;
}

// --- Exactness --------------------------------------------------------------------------------
void ExactnessRow(const std::string& literal) {
  const std::string body = Padded("{\"amount\":" + literal + "}");
  // RapidJSON.
  std::string rj;
  {
    rapidjson::Document d;
    d.Parse<kRjFlags>(body.data(), body.size());
    if (d.HasParseError()) {
      rj = std::string("parse error: ") + rapidjson::GetParseError_En(d.GetParseError());
    } else {
      const RjValue& v = d["amount"];
      std::int64_t x = 0;
      const Err e = RjAdapter::Int64(v, x);
      rj = std::string(v.IsInt64()    ? "Int64"
                       : v.IsUint64() ? "Uint64"
                       : v.IsDouble() ? "Double"
                                      : "other");
      if (v.IsDouble()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, " %.17g", v.GetDouble());
        rj += buf;
      }
      rj += e == Err::kOk ? " -> " + std::to_string(x)
                          : std::string(" -> IsInt64()=false: ") + ErrName(e);
    }
  }
  // nlohmann.
  std::string nl;
  {
    njson j = njson::parse(body.begin(), body.end(), nullptr, false);
    if (j.is_discarded()) {
      nl = "parse error";
    } else {
      const njson& v = j["amount"];
      std::int64_t x = 0;
      const Err e = NlAdapter::Int64(v, x);
      nl = v.is_number_unsigned()  ? "unsigned"
           : v.is_number_integer() ? "integer"
           : v.is_number_float()   ? "float"
                                   : "other";
      if (v.is_number()) nl += "; get<int64_t>()=" + std::to_string(v.get<std::int64_t>());
      nl += e == Err::kOk ? " -> " + std::to_string(x) : std::string(" -> checked: ") + ErrName(e);
    }
  }
  // simdjson.
  std::string sj;
  {
    od::parser parser;
    od::document doc;
    if (auto e = parser.iterate(simdjson::padded_string_view(body)).get(doc); e) {
      sj = std::string("iterate error: ") + simdjson::error_message(e);
    } else {
      std::int64_t x = 0;
      auto e2 = doc["amount"].get_int64().get(x);
      sj = e2 ? std::string("get_int64: ") + simdjson::error_message(e2)
              : "get_int64 -> " + std::to_string(x);
    }
  }
  std::printf("| `%s` | %s | %s | %s |\n", literal.c_str(), rj.c_str(), nl.c_str(), sj.c_str());
}

void Exactness() {
  std::printf("\n## Exactness: value of \"amount\" in {\"amount\":X}, decoded as int64\n\n");
  std::printf(
      "| X | RapidJSON (type; IsInt64 check) | nlohmann (type; naive get<int64_t>(); checked) | "
      "simdjson ondemand |\n");
  std::printf("|---|---|---|---|\n");
  for (const char* lit : {"9223372036854775807", "9223372036854775808", "-9223372036854775808",
                          "-9223372036854775809", "18446744073709551615", "18446744073709551616",
                          "1.0", "1e2", "-0"}) {
    ExactnessRow(lit);
  }

  std::printf("\n## Duplicate keys and trailing content\n\n");
  // Duplicate keys: {"amount":1,"amount":2}.
  {
    const std::string body = Padded(R"({"amount":1,"amount":2})");
    rapidjson::Document d;
    d.Parse<kRjFlags>(body.data(), body.size());
    std::printf(
        "- RapidJSON DOM, %s: parse %s, MemberCount()=%u, FindMember(\"amount\")=%d (first);"
        " member iteration sees both\n",
        body.c_str(), d.HasParseError() ? "error" : "ok", d.MemberCount(),
        d.FindMember("amount")->value.GetInt());
    njson j = njson::parse(body.begin(), body.end(), nullptr, false);
    std::printf(
        "- nlohmann, %s: parse %s, size()=%zu, [\"amount\"]=%d (last wins, first lost: not"
        " detectable from the DOM)\n",
        body.c_str(), j.is_discarded() ? "error" : "ok", j.size(), j["amount"].get<int>());
    od::parser p;
    od::document doc = p.iterate(simdjson::padded_string_view(body)).value();
    const std::int64_t first = doc["amount"].get_int64().value();
    std::printf(
        "- simdjson ondemand, %s: iterate ok, [\"amount\"]=%lld (first); field iteration sees "
        "both\n",
        body.c_str(), static_cast<long long>(first));
    ChangeAsset c1, c2, c3;
    const std::string dup =
        Padded(R"({"account":"a","account":"b","asset":"CNY","amount":1,"source":"s"})");
    od::parser p2;
    std::printf(
        "- ChangeAsset decoder on a duplicated \"account\": RapidJSON %s, nlohmann %s "
        "(account=\"%s\"),"
        " simdjson %s\n",
        ErrName(RjDecodeChangeAsset(dup, c1)), ErrName(NlDecodeChangeAsset(dup, c2)),
        c2.account.c_str(),
        ErrName(SjDecodeChangeAsset(p2, simdjson::padded_string_view(dup), c3)));
  }
  // Trailing content after the root object.
  for (const char* raw : {R"({"account":"a","asset":"CNY","amount":1,"source":"s"} x)",
                          R"({"account":"a","asset":"CNY","amount":1,"source":"s"}})",
                          R"({"account":"a","asset":"CNY","amount":1,"source":"s"} {})"}) {
    const std::string body = Padded(raw);
    ChangeAsset c1, c2, c3, c4;
    od::parser p;
    std::printf(
        "- ChangeAsset decoder on `%s`: RapidJSON %s, nlohmann %s, simdjson %s"
        " (without the explicit end check: %s)\n",
        raw, ErrName(RjDecodeChangeAsset(body, c1)), ErrName(NlDecodeChangeAsset(body, c2)),
        ErrName(SjDecodeChangeAsset(p, simdjson::padded_string_view(body), c3)),
        ErrName(SjDecodeChangeAssetNoEndCheck(p, simdjson::padded_string_view(body), c4)));
  }
  std::fflush(stdout);
}

// --- Deep nesting -----------------------------------------------------------------------------
// Runs `f` in a forked child (it prints its own result) and reports how the child ended.
void InChild(const char* name, const std::function<void()>& f) {
  std::fflush(stdout);
  const pid_t pid = fork();
  if (pid < 0) Die("fork");
  if (pid == 0) {
    std::printf("- %s: ", name);
    f();
    std::printf("\n");
    std::fflush(stdout);
    _exit(0);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) Die("waitpid");
  if (WIFSIGNALED(status)) {
    std::printf("- %s: CRASHED, child killed by signal %d (%s)\n", name, WTERMSIG(status),
                strsignal(WTERMSIG(status)));
  } else if (WEXITSTATUS(status) != 0) {
    std::printf("- %s: child exited with status %d\n", name, WEXITSTATUS(status));
  }
  std::fflush(stdout);
}

void DeepNesting(std::size_t depth) {
  std::printf("\n## %zu-deep nested array [[[...]]] (main-thread stack limit: ", depth);
  rlimit stack{};
  getrlimit(RLIMIT_STACK, &stack);
  std::printf("%s)\n\n", stack.rlim_cur == RLIM_INFINITY
                             ? "unlimited"
                             : (std::to_string(stack.rlim_cur / 1024) + " KiB").c_str());
  std::string deep;
  deep.reserve(2 * depth + simdjson::SIMDJSON_PADDING);
  deep.append(depth, '[');
  deep.append(depth, ']');
  std::string deep_in_body =
      "{\"account\":\"a\",\"asset\":\"CNY\",\"amount\":1,\"source\":\"s\",\"reason\":";
  deep_in_body.append(depth, '[');
  deep_in_body.append(depth, ']');
  deep_in_body += "}";
  deep_in_body = Padded(deep_in_body);

  InChild("RapidJSON Document, kParseIterativeFlag|kParseValidateEncodingFlag", [&] {
    rapidjson::Document d;
    d.Parse<kRjFlags>(deep.data(), deep.size());
    std::printf(
        "parse %s, root IsArray()=%d; document destroyed without recursion (pool allocator)",
        d.HasParseError() ? rapidjson::GetParseError_En(d.GetParseError()) : "ok", d.IsArray());
  });
  InChild("RapidJSON Document, iterative + depth-limit SAX wrapper (max 16)", [&] {
    rapidjson::Document d;
    const rapidjson::ParseResult r = RjParseDepthLimited(d, deep, kJsonDepthMax);
    std::printf("%s at offset %zu", r.IsError() ? rapidjson::GetParseError_En(r.Code()) : "ok",
                r.Offset());
  });
  InChild("RapidJSON Document, default (recursive) parser, kParseValidateEncodingFlag only", [&] {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(deep.data(), deep.size());
    std::printf("parse %s",
                d.HasParseError() ? rapidjson::GetParseError_En(d.GetParseError()) : "ok");
  });
  InChild("RapidJSON ChangeAsset decoder, deep array as \"reason\"", [&] {
    ChangeAsset c;
    std::printf("%s", ErrName(RjDecodeChangeAsset(deep_in_body, c)));
  });
  InChild("nlohmann::json::parse", [&] {
    njson j = njson::parse(deep.begin(), deep.end(), nullptr, false);
    std::printf("parse %s, is_array()=%d; destroyed (3.11 destructor is iterative)",
                j.is_discarded() ? "error" : "ok", j.is_array());
  });
  InChild("nlohmann::json::parse with a callback that throws beyond depth 16", [&] {
    struct TooDeep {};
    try {
      njson j =
          njson::parse(deep.begin(), deep.end(), [](int d, nlohmann::json::parse_event_t, njson&) {
            if (d > static_cast<int>(kJsonDepthMax)) throw TooDeep{};
            return true;
          });
      std::printf("parse ok");
    } catch (const TooDeep&) {
      std::printf("rejected (callback threw)");
    }
  });
  InChild("nlohmann ChangeAsset decoder, deep array as \"reason\"", [&] {
    ChangeAsset c;
    std::printf("%s", ErrName(NlDecodeChangeAsset(deep_in_body, c)));
  });
  InChild("simdjson ondemand iterate + get_array + count_elements", [&] {
    od::parser p;
    od::document doc;
    auto e = p.iterate(simdjson::padded_string_view(deep)).get(doc);
    std::printf("iterate: %s", simdjson::error_message(e));
    if (!e) {
      od::array a;
      auto e2 = doc.get_array().get(a);
      std::size_t n = 0;
      auto e3 = e2 ? e2 : a.count_elements().get(n);
      std::printf(
          "; get_array: %s; count_elements: %s (n=%zu); parser max_depth()=%zu is only checked"
          " with SIMDJSON_DEVELOPMENT_CHECKS",
          simdjson::error_message(e2), simdjson::error_message(e3), n, p.max_depth());
    }
  });
  InChild("simdjson ondemand ChangeAsset decoder, deep array as \"reason\"", [&] {
    od::parser p;
    ChangeAsset c;
    std::printf("%s",
                ErrName(SjDecodeChangeAsset(p, simdjson::padded_string_view(deep_in_body), c)));
  });
  InChild("simdjson DOM parser (default max_depth 1024)", [&] {
    simdjson::dom::parser p;
    simdjson::dom::element el;
    auto e = p.parse(simdjson::padded_string_view(deep)).get(el);
    std::printf("parse: %s", simdjson::error_message(e));
  });

  // Ten times deeper: where RapidJSON's recursive parser runs out of stack.
  const std::size_t deeper = depth * 10;
  std::string very_deep(deeper, '[');
  very_deep.append(deeper, ']');
  std::printf("\n%zu-deep:\n", deeper);
  InChild("RapidJSON Document, default (recursive) parser", [&] {
    rapidjson::Document d;
    d.Parse<rapidjson::kParseValidateEncodingFlag>(very_deep.data(), very_deep.size());
    std::printf("parse %s",
                d.HasParseError() ? rapidjson::GetParseError_En(d.GetParseError()) : "ok");
  });
  InChild("RapidJSON Document, kParseIterativeFlag|kParseValidateEncodingFlag", [&] {
    rapidjson::Document d;
    d.Parse<kRjFlags>(very_deep.data(), very_deep.size());
    std::printf("parse %s",
                d.HasParseError() ? rapidjson::GetParseError_En(d.GetParseError()) : "ok");
  });
  InChild("nlohmann::json::parse", [&] {
    njson j = njson::parse(very_deep.begin(), very_deep.end(), nullptr, false);
    std::printf("parse %s", j.is_discarded() ? "error" : "ok");
  });
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  const int repetitions = argc > 2 ? std::atoi(argv[2]) : 5;
  if (iterations <= 0 || repetitions <= 0)
    Die("usage: json_choice_bench [iterations] [repetitions]");

  std::printf("# json_choice_bench\n\n");
  std::printf("- compiler: g++ %s, __cplusplus=%ld, %s\n", __VERSION__, __cplusplus,
#ifdef __OPTIMIZE__
              "optimized"
#else
              "NOT optimized"
#endif
  );
  // On Demand is compiled for one implementation chosen by the compiler flags (-march); the DOM
  // API dispatches at run time.
  std::printf(
      "- RapidJSON %s, nlohmann::json %d.%d.%d, simdjson %s (On Demand compiled for: %s;"
      " runtime-dispatched DOM: %s)\n",
      RAPIDJSON_VERSION_STRING, NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
      NLOHMANN_JSON_VERSION_PATCH, BENCH_STR(SIMDJSON_VERSION),
      simdjson::builtin_implementation()->name().c_str(),
      simdjson::get_active_implementation()->name().c_str());
  std::printf("- online CPUs: %ld; %ld iterations x %d repetitions per measurement\n",
              sysconf(_SC_NPROCESSORS_ONLN), iterations, repetitions);
  std::fflush(stdout);

  const std::string change_body = Padded(
      R"({"account":"user:123456","asset":"CNY","amount":-1250,"source":"wallet","reason":"order payment","ref":"ord-98765"})");
  const std::string settle_body = Padded(
      R"({"order_id":"o-1","merchant":"merchant:42","payer":"user:7","asset":"CNY","gross":10000,"splits":[{"to":"host:9","kind":"host_commission","bps":1000},{"to":"platform:fees","kind":"platform_share","bps":500},{"to":"platform:tech","kind":"technical_service_fee","bps":60}]})");

  // Every decoder must agree before anything is timed.
  od::parser sj_parser;
  {
    ChangeAsset want{.account = "user:123456",
                     .asset = "CNY",
                     .amount = -1250,
                     .source = "wallet",
                     .counterparty = std::nullopt,
                     .reason = "order payment",
                     .ref = "ord-98765",
                     .expected_version = std::nullopt};
    ChangeAsset a, b, c, d;
    if (RjDecodeChangeAsset(change_body, a) != Err::kOk || !(a == want))
      Die("RapidJSON ChangeAsset");
    if (RjPoolDecodeChangeAsset(change_body, b) != Err::kOk || !(b == want))
      Die("RapidJSON pool ChangeAsset");
    if (NlDecodeChangeAsset(change_body, c) != Err::kOk || !(c == want))
      Die("nlohmann ChangeAsset");
    if (SjDecodeChangeAsset(sj_parser, simdjson::padded_string_view(change_body), d) != Err::kOk ||
        !(d == want))
      Die("simdjson ChangeAsset");
    SettleOrder s1, s2, s3, s4;
    if (RjDecodeSettleOrder(settle_body, s1) != Err::kOk || s1.splits.size() != 3 ||
        s1.gross != 10000 || s1.splits[2].kind != "technical_service_fee" || s1.splits[2].bps != 60)
      Die("RapidJSON SettleOrder");
    if (RjPoolDecodeSettleOrder(settle_body, s2) != Err::kOk || !(s2 == s1))
      Die("RapidJSON pool SettleOrder");
    if (NlDecodeSettleOrder(settle_body, s3) != Err::kOk || !(s3 == s1))
      Die("nlohmann SettleOrder");
    if (SjDecodeSettleOrder(sj_parser, simdjson::padded_string_view(settle_body), s4) != Err::kOk ||
        !(s4 == s1))
      Die("simdjson SettleOrder");
    // Serializers must produce the same JSON value (key order may differ).
    const Response r;
    const std::string rj_out = RjSerialize(r), nl_out = NlSerialize(r);
    rapidjson::Document x, y;
    x.Parse(rj_out.c_str());
    y.Parse(nl_out.c_str());
    if (x.HasParseError() || y.HasParseError() || x != y || x.MemberCount() != 15)
      Die("serializers disagree");
    std::printf("- response: %zu bytes (RapidJSON Writer), %zu bytes (nlohmann dump)\n  %s\n",
                rj_out.size(), nl_out.size(), rj_out.c_str());
  }

  std::printf("\n## Timings\n\n");
  g_section = "1a. ChangeAsset parse + decode (" + std::to_string(change_body.size()) + " bytes)";
  g_label = "ChangeAsset decode";
  Add("RapidJSON DOM (iterative+validate), new Document", [&] {
    ChangeAsset c;
    return static_cast<std::size_t>(RjDecodeChangeAsset(change_body, c)) + c.account.size();
  });
  Add("RapidJSON DOM (iterative+validate), stack-buffer pool", [&] {
    ChangeAsset c;
    return static_cast<std::size_t>(RjPoolDecodeChangeAsset(change_body, c)) + c.account.size();
  });
  Add("nlohmann::json::parse", [&] {
    ChangeAsset c;
    return static_cast<std::size_t>(NlDecodeChangeAsset(change_body, c)) + c.account.size();
  });
  Add("simdjson ondemand, reused parser, pre-padded input", [&] {
    ChangeAsset c;
    return static_cast<std::size_t>(
               SjDecodeChangeAsset(sj_parser, simdjson::padded_string_view(change_body), c)) +
           c.account.size();
  });
  Add("simdjson ondemand, reused parser, copy into padded_string", [&] {
    ChangeAsset c;
    simdjson::padded_string padded(change_body.data(), change_body.size());
    return static_cast<std::size_t>(SjDecodeChangeAsset(sj_parser, padded, c)) + c.account.size();
  });

  g_section =
      "1b. SettleOrder parse + decode (" + std::to_string(settle_body.size()) + " bytes, 3 splits)";
  g_label = "SettleOrder decode";
  Add("RapidJSON DOM (iterative+validate), new Document", [&] {
    SettleOrder s;
    return static_cast<std::size_t>(RjDecodeSettleOrder(settle_body, s)) + s.splits.size();
  });
  Add("RapidJSON DOM (iterative+validate), stack-buffer pool", [&] {
    SettleOrder s;
    return static_cast<std::size_t>(RjPoolDecodeSettleOrder(settle_body, s)) + s.splits.size();
  });
  Add("nlohmann::json::parse", [&] {
    SettleOrder s;
    return static_cast<std::size_t>(NlDecodeSettleOrder(settle_body, s)) + s.splits.size();
  });
  Add("simdjson ondemand, reused parser, pre-padded input", [&] {
    SettleOrder s;
    return static_cast<std::size_t>(
               SjDecodeSettleOrder(sj_parser, simdjson::padded_string_view(settle_body), s)) +
           s.splits.size();
  });
  Add("simdjson ondemand, reused parser, copy into padded_string", [&] {
    SettleOrder s;
    simdjson::padded_string padded(settle_body.data(), settle_body.size());
    return static_cast<std::size_t>(SjDecodeSettleOrder(sj_parser, padded, s)) + s.splits.size();
  });

  g_section = "2. serialize a 15-field response into std::string";
  g_label = "Response serialize";
  const Response response;
  Add("RapidJSON Writer<StringBuffer> + copy to std::string",
      [&] { return RjSerialize(response).size(); });
  Add("nlohmann::json build + dump()", [&] { return NlSerialize(response).size(); });
  std::printf("load average before: %s\n\n", LoadAverage().c_str());
  std::fflush(stdout);
  RunAll(iterations, repetitions);
  std::printf(
      "  (simdjson 3.0.1: no serializer for building JSON; to_string() only re-emits a parsed "
      "DOM)\n");
  std::printf("\nload average after: %s\n", LoadAverage().c_str());

  Exactness();
  DeepNesting(100'000);

  std::printf(
      "\n## Summary (median of %d repetitions x %ld iterations)\n\n"
      "| measurement | library / variant | median ns/op (wall) | ops/s (wall) | median ns/op "
      "(thread CPU) |\n"
      "|---|---|---:|---:|---:|\n",
      repetitions, iterations);
  for (const Case& c : g_cases) {
    std::printf("| %s | %s | %.0f | %.0f | %.0f |\n", c.label.c_str(), c.name.c_str(),
                c.wall_median, 1e9 / c.wall_median, c.cpu_median);
  }
  return 0;
}
