#include "transport/search_json.h"

#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>

#include <algorithm>
#include <limits>
#include <utility>
#include <variant>

#include "transport/internal/json_write.h"
#include "transport/json_events.h"
#include "transport/rfc3339.h"

namespace ledger::transport {
namespace {

using internal::BoolField;
using internal::Field;
using internal::Key;
using internal::Str;
using internal::UnsignedField;
using projections::SearchAggregation;
using projections::SearchAggregationResult;
using projections::SearchBucket;
using projections::SearchDocument;
using projections::SearchField;
using projections::SearchFieldType;
using projections::SearchValue;

void ShardsField(JsonWriter& writer) {
  Key(writer, "_shards");
  writer.StartObject();
  UnsignedField(writer, "total", 1);
  UnsignedField(writer, "successful", 1);
  UnsignedField(writer, "skipped", 0);
  UnsignedField(writer, "failed", 0);
  writer.EndObject();
}

void WriteValue(JsonWriter& writer, const SearchValue& value) {
  if (const auto* integer = std::get_if<std::int64_t>(&value)) {
    writer.Int64(*integer);
  } else if (const auto* real = std::get_if<double>(&value)) {
    writer.Double(*real);
  } else if (const auto* text = std::get_if<std::string>(&value)) {
    Str(writer, *text);
  } else {
    writer.Null();
  }
}

void OptionalDouble(JsonWriter& writer, std::string_view key, std::optional<double> value) {
  Key(writer, key);
  if (value) {
    writer.Double(*value);
  } else {
    writer.Null();
  }
}

// Every present field the filter keeps, in mapping order; occurred_at with microseconds.
void SourceField(JsonWriter& writer, const SearchDocument& document,
                 const SearchSourceFilter& filter) {
  Key(writer, "_source");
  writer.StartObject();
  for (const projections::SearchFieldInfo& info : projections::SearchFields()) {
    if (!filter.Keeps(info.name)) continue;
    switch (info.field) {
      case SearchField::kAmount:
        Field(writer, info.name, document.amount);
        break;
      case SearchField::kPosition:
        Field(writer, info.name, document.position);
        break;
      case SearchField::kOccurredAt:
        Field(writer, info.name, FormatRfc3339(document.occurred_at_us));
        break;
      default:
        if (const std::string& text = projections::SearchDocumentText(document, info.field);
            !text.empty()) {
          Field(writer, info.name, text);
        }
    }
  }
  writer.EndObject();
}

void HitJson(JsonWriter& writer, const projections::SearchHit& hit, const SearchCall& call) {
  writer.StartObject();
  Field(writer, "_index", projections::SearchIndexName(call.request.index));
  Field(writer, "_type", "_doc");
  Field(writer, "_id", hit.source.record_id);
  OptionalDouble(writer, "_score", hit.score);
  if (call.source.enabled) SourceField(writer, hit.source, call.source);
  if (call.sorted) {
    Key(writer, "sort");
    writer.StartArray();
    for (const SearchValue& value : hit.sort) WriteValue(writer, value);
    writer.EndArray();
  }
  writer.EndObject();
}

void HitsField(JsonWriter& writer, const projections::SearchResult& result,
               const SearchCall& call) {
  Key(writer, "hits");
  writer.StartObject();
  if (call.total_hits_up_to) {
    Key(writer, "total");
    writer.StartObject();
    UnsignedField(writer, "value", std::min(result.total, *call.total_hits_up_to));
    Field(writer, "relation", result.total > *call.total_hits_up_to ? "gte" : "eq");
    writer.EndObject();
  }
  // size 0 collects no top hits: Elasticsearch has no max_score then.
  OptionalDouble(writer, "max_score", call.request.size == 0 ? std::nullopt : result.max_score);
  Key(writer, "hits");
  writer.StartArray();
  for (const projections::SearchHit& hit : result.hits) HitJson(writer, hit, call);
  writer.EndArray();
  writer.EndObject();
}

void AggregationJson(JsonWriter& writer, const SearchAggregationResult& aggregation);

void BucketJson(JsonWriter& writer, const SearchAggregationResult& aggregation,
                const SearchBucket& bucket) {
  writer.StartObject();
  const auto* ms = std::get_if<std::int64_t>(&bucket.key);
  const bool date = aggregation.field_type == SearchFieldType::kDate && ms != nullptr;
  if (aggregation.kind == SearchAggregation::Kind::kDateHistogram && date) {
    Field(writer, "key_as_string", FormatEpochMs(*ms));
  }
  Key(writer, "key");
  WriteValue(writer, bucket.key);
  if (aggregation.kind == SearchAggregation::Kind::kTerms && date) {
    Field(writer, "key_as_string", FormatEpochMs(*ms));
  }
  UnsignedField(writer, "doc_count", bucket.doc_count);
  for (const SearchAggregationResult& sub : bucket.subs) AggregationJson(writer, sub);
  writer.EndObject();
}

void MetricValue(JsonWriter& writer, const SearchAggregationResult& aggregation) {
  using Kind = SearchAggregation::Kind;
  Key(writer, "value");
  if (aggregation.integer_value) {
    writer.Int64(*aggregation.integer_value);
  } else if (aggregation.double_value) {
    writer.Double(*aggregation.double_value);
  } else if (aggregation.kind == Kind::kSum || aggregation.kind == Kind::kValueCount) {
    writer.Int64(0);
  } else {
    writer.Null();
  }
  const bool extreme = aggregation.kind == Kind::kMin || aggregation.kind == Kind::kMax;
  if (extreme && aggregation.field_type == SearchFieldType::kDate && aggregation.integer_value) {
    Field(writer, "value_as_string", FormatEpochMs(*aggregation.integer_value));
  }
}

// "<name>": {...} of one aggregation.
void AggregationJson(JsonWriter& writer, const SearchAggregationResult& aggregation) {
  using Kind = SearchAggregation::Kind;
  Key(writer, aggregation.name);
  writer.StartObject();
  if (aggregation.kind == Kind::kTerms) {
    UnsignedField(writer, "doc_count_error_upper_bound", 0);
    UnsignedField(writer, "sum_other_doc_count", aggregation.sum_other_doc_count);
  }
  if (aggregation.kind == Kind::kTerms || aggregation.kind == Kind::kDateHistogram) {
    Key(writer, "buckets");
    writer.StartArray();
    for (const SearchBucket& bucket : aggregation.buckets) BucketJson(writer, aggregation, bucket);
    writer.EndArray();
  } else {
    MetricValue(writer, aggregation);
  }
  writer.EndObject();
}

// Our generic error codes as Elasticsearch types; the others are kept.
std::string_view ElasticType(std::string_view code) {
  if (code == "invalid_argument") return "illegal_argument_exception";
  if (code == "malformed_json") return "x_content_parse_exception";
  if (code == "unauthenticated" || code == "forbidden") return "security_exception";
  if (code == "too_many_buckets") return "too_many_buckets_exception";
  if (code == "invalid_search_after") return "illegal_argument_exception";
  return code;
}

// The unescaped "error": {"code", "message"} and "position" of a body in our error shape.
bool ReadOurError(const std::string& body, Error* error, std::optional<std::uint64_t>* position) {
  rapidjson::Document document;
  document.Parse(body.data(), body.size());
  if (document.HasParseError() || !document.IsObject()) return false;
  const auto found = document.FindMember("error");
  if (found == document.MemberEnd() || !found->value.IsObject()) return false;
  const rapidjson::Value& value = found->value;
  if (!value.HasMember("code") || !value["code"].IsString() || !value.HasMember("message") ||
      !value["message"].IsString()) {
    return false;
  }
  error->code.assign(value["code"].GetString(), value["code"].GetStringLength());
  error->message.assign(value["message"].GetString(), value["message"].GetStringLength());
  if (document.HasMember("position") && document["position"].IsUint64()) {
    *position = document["position"].GetUint64();
  }
  return true;
}

// The members of one Elasticsearch error object: the root cause and the error itself share them.
void ErrorMembers(JsonWriter& writer, std::string_view type, std::string_view reason,
                  std::string_view index) {
  Field(writer, "type", type);
  Field(writer, "reason", reason);
  if (!index.empty()) {
    Field(writer, "resource.type", "index_or_alias");
    Field(writer, "resource.id", index);
    Field(writer, "index_uuid", "_na_");
    Field(writer, "index", index);
  }
}

// The error body, with our "position" when the error had one (position_not_reached).
std::string ErrorBody(std::string_view type, std::string_view reason, unsigned status,
                      std::string_view index, std::optional<std::uint64_t> position) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, "error");
  writer.StartObject();
  Key(writer, "root_cause");
  writer.StartArray();
  writer.StartObject();
  ErrorMembers(writer, type, reason, index);
  writer.EndObject();
  writer.EndArray();
  ErrorMembers(writer, type, reason, index);
  writer.EndObject();
  UnsignedField(writer, "status", status);
  if (position) UnsignedField(writer, "position", *position);
  writer.EndObject();
  return internal::BufferText(buffer);
}

}  // namespace

std::string SearchResponseJson(const projections::SearchResult& result, const SearchCall& call,
                               std::int64_t took_ms) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "took", took_ms);
  BoolField(writer, "timed_out", false);
  ShardsField(writer);
  HitsField(writer, result, call);
  if (!call.request.aggregations.empty()) {
    Key(writer, "aggregations");
    writer.StartObject();
    for (const SearchAggregationResult& aggregation : result.aggregations) {
      AggregationJson(writer, aggregation);
    }
    writer.EndObject();
  }
  UnsignedField(writer, "position", result.position);
  writer.EndObject();
  return internal::BufferText(buffer);
}

std::string CountResponseJson(std::uint64_t count, std::uint64_t position) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  UnsignedField(writer, "count", count);
  ShardsField(writer);
  UnsignedField(writer, "position", position);
  writer.EndObject();
  return internal::BufferText(buffer);
}

std::string MappingJson(projections::SearchIndexId index) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, projections::SearchIndexName(index));
  writer.StartObject();
  Key(writer, "mappings");
  writer.StartObject();
  Key(writer, "properties");
  writer.StartObject();
  for (const projections::SearchFieldInfo& info : projections::SearchFields()) {
    Key(writer, info.name);
    writer.StartObject();
    Field(writer, "type", projections::SearchFieldTypeName(info.type));
    writer.EndObject();
  }
  writer.EndObject();
  writer.EndObject();
  writer.EndObject();
  writer.EndObject();
  return internal::BufferText(buffer);
}

std::string InfoJson() {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "name", "ledgerd");
  Field(writer, "cluster_name", "ledger");
  Field(writer, "cluster_uuid", "bGVkZ2VyLXNlYXJjaA");
  Key(writer, "version");
  writer.StartObject();
  Field(writer, "number", "7.17.0");
  Field(writer, "build_flavor", "default");
  Field(writer, "build_type", "deb");
  Field(writer, "build_hash", "ledgerd-search-projection");
  Field(writer, "build_date", "2026-01-01T00:00:00.000Z");
  BoolField(writer, "build_snapshot", false);
  Field(writer, "lucene_version", "8.11.1");
  Field(writer, "minimum_wire_compatibility_version", "6.8.0");
  Field(writer, "minimum_index_compatibility_version", "6.0.0-beta1");
  writer.EndObject();
  Field(writer, "tagline", "You Know, for Search");
  writer.EndObject();
  return internal::BufferText(buffer);
}

std::string ElasticErrorJson(std::string_view type, std::string_view reason, unsigned status,
                             std::string_view index) {
  return ErrorBody(type, reason, status, index, std::nullopt);
}

HttpResponse ElasticErrorResponse(const Error& error) {
  const HttpStatus status = HttpStatusFor(error.kind);
  return JsonResponse(status, ErrorBody(ElasticType(error.code), error.message,
                                        static_cast<unsigned>(status), {}, std::nullopt));
}

HttpResponse ToElasticResponse(HttpResponse response) {
  Error error;
  std::optional<std::uint64_t> position;
  if (response.result_int() >= 400 && ReadOurError(response.body(), &error, &position)) {
    response.body() =
        ErrorBody(ElasticType(error.code), error.message, response.result_int(), {}, position);
    response.prepare_payload();
  }
  response.set(std::string(kElasticProductHeader), std::string(kElasticProduct));
  return response;
}

std::string PrettyJson(std::string_view json) {
  rapidjson::StringBuffer buffer;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> writer(buffer);
  writer.SetIndent(' ', 2);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(json.data(), json.size());
  const auto parsed = reader.Parse<rapidjson::kParseFullPrecisionFlag>(stream, writer);
  LEDGER_ASSERT(!parsed.IsError());
  return internal::BufferText(buffer);
}

std::string FormatEpochMs(std::int64_t ms) {
  // Years 0000..9999 (what FormatRfc3339 covers); beyond, the bare number.
  constexpr std::int64_t kMinMs = -62'167'219'200'000;
  constexpr std::int64_t kMaxMs = 253'402'300'799'999;
  if (ms < kMinMs || ms > kMaxMs) return std::to_string(ms);
  std::string text = FormatRfc3339(ms * 1000);  // "...SS.ffffffZ"
  text.erase(text.size() - 4, 3);               // "...SS.fffZ"
  return text;
}

}  // namespace ledger::transport
