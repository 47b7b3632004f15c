#include "transport/search_reports.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <utility>

#include "ledger/limits.h"
#include "ledger/store.h"
#include "transport/internal/json_write.h"
#include "transport/internal/search_dsl_internal.h"
#include "transport/search_json.h"

namespace ledger::transport {

struct SearchReports::Report {
  SearchReportDefinition definition;
  std::optional<SearchCall> call;  // nullopt: the stored definition no longer parses.
  std::optional<Error> broken;

  struct Cache {
    SearchReportAnswer answer;
    std::int64_t computed_monotonic_us = 0;
  };
  std::mutex mutex;  // Guards cache; held while computing, so one request computes at a time.
  std::optional<Cache> cache;
};

namespace {

using internal::IllegalArgument;
using internal::ParsingError;
using internal::View;

std::int64_t SystemNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Compact(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Result<std::optional<std::uint64_t>> Staleness(std::string_view name,
                                               const rapidjson::Value& value) {
  if (!value.IsUint64()) {
    return std::unexpected(
        IllegalArgument("[" + std::string(name) + "] must be a non-negative integer"));
  }
  return std::optional<std::uint64_t>(value.GetUint64());
}

// The members of a definition body, checked one by one.
Status DefinitionMember(std::string_view key, const rapidjson::Value& value,
                        SearchReportDefinition* definition, const rapidjson::Value** search) {
  if (key == "index") {
    const auto index =
        value.IsString() ? projections::SearchIndexFromName(View(value)) : std::nullopt;
    if (!index) {
      return std::unexpected(IllegalArgument("[index] must be \"settlements\" or \"entries\""));
    }
    definition->index = *index;
  } else if (key == "search") {
    if (!value.IsObject()) return std::unexpected(ParsingError("[search] must be an object"));
    *search = &value;
  } else if (key == "max_staleness_positions" || key == "max_staleness_seconds") {
    auto bound = Staleness(key, value);
    if (!bound) return std::unexpected(bound.error());
    (key == "max_staleness_positions" ? definition->max_staleness_positions
                                      : definition->max_staleness_seconds) = *bound;
  } else {
    return std::unexpected(ParsingError("a report definition does not support [" +
                                        std::string(key) +
                                        "] (index, search, max_staleness_positions, "
                                        "max_staleness_seconds)"));
  }
  return Ok();
}

// Parses and validates a definition, including its search.
Result<std::pair<SearchReportDefinition, SearchCall>> ParseDefinition(std::string_view name,
                                                                      std::string_view body) {
  auto document = ParseSearchJson(body);
  if (!document) return std::unexpected(document.error());
  if (!document->IsObject()) {
    return std::unexpected(ParsingError("a report definition must be a JSON object"));
  }
  SearchReportDefinition definition;
  definition.name = std::string(name);
  const rapidjson::Value* search = nullptr;
  bool has_index = false;
  for (const auto& member : document->GetObject()) {
    has_index = has_index || View(member.name) == "index";
    if (auto status = DefinitionMember(View(member.name), member.value, &definition, &search);
        !status) {
      return std::unexpected(status.error());
    }
  }
  if (!has_index || search == nullptr) {
    return std::unexpected(IllegalArgument("a report definition needs [index] and [search]"));
  }
  if (!definition.max_staleness_positions && !definition.max_staleness_seconds) {
    return std::unexpected(IllegalArgument(
        "a report definition needs [max_staleness_positions] or [max_staleness_seconds] (or "
        "both)"));
  }
  auto call = ParseSearchValue(definition.index, *search);
  if (!call) {
    Error error = call.error();
    error.message = "[search]: " + error.message;
    return std::unexpected(std::move(error));
  }
  definition.search_json = Compact(*search);
  return std::pair{std::move(definition), std::move(*call)};
}

Error StorageError(const rocksdb::Status& status) {
  return MakeError(ErrorKind::kUnavailable, "storage_unavailable",
                   "search reports: " + status.ToString());
}

Error NoSuchReport(std::string_view name) {
  return MakeError(ErrorKind::kNotFound, "resource_not_found_exception",
                   "no such report [" + std::string(name) + "]");
}

}  // namespace

Status CheckReportName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= kSearchReportNameBytesMax;
  for (const char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == '-');
  }
  if (ok) return Ok();
  return std::unexpected(IllegalArgument("a report name is 1 to " +
                                         std::to_string(kSearchReportNameBytesMax) +
                                         " characters of [A-Za-z0-9_.-]"));
}

SearchReports::SearchReports(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                             const projections::SearchProjection& search, Clock wall_clock,
                             Clock monotonic_clock)
    : db_(db),
      family_(family),
      search_(search),
      wall_clock_(wall_clock ? std::move(wall_clock) : Clock(SystemNowUs)),
      monotonic_clock_(monotonic_clock ? std::move(monotonic_clock) : Clock(SteadyNowUs)) {}

SearchReports::~SearchReports() = default;

std::string SearchReports::DefinitionJson(const SearchReportDefinition& definition) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  internal::Field(writer, "index", projections::SearchIndexName(definition.index));
  internal::Key(writer, "search");
  writer.RawValue(definition.search_json.data(), definition.search_json.size(),
                  rapidjson::kObjectType);
  if (definition.max_staleness_positions) {
    internal::UnsignedField(writer, "max_staleness_positions", *definition.max_staleness_positions);
  }
  if (definition.max_staleness_seconds) {
    internal::UnsignedField(writer, "max_staleness_seconds", *definition.max_staleness_seconds);
  }
  writer.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

Status SearchReports::EnsureLoaded() {
  if (loaded_) return Ok();
  std::map<std::string, std::shared_ptr<Report>, std::less<>> loaded;
  const std::unique_ptr<rocksdb::Iterator> it = NewKeyOrderIterator(db_, family_);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto report = std::make_shared<Report>();
    const std::string name = it->key().ToString();
    auto parsed = ParseDefinition(name, std::string_view(it->value().data(), it->value().size()));
    if (parsed) {
      report->definition = std::move(parsed->first);
      report->call = std::move(parsed->second);
    } else {
      report->definition.name = name;
      report->broken =
          MakeError(ErrorKind::kCorruption, "corrupt_report",
                    "stored report [" + name + "] does not parse: " + parsed.error().message);
    }
    loaded.emplace(name, std::move(report));
  }
  if (!it->status().ok()) return std::unexpected(StorageError(it->status()));
  reports_ = std::move(loaded);
  loaded_ = true;
  return Ok();
}

Result<bool> SearchReports::Put(std::string_view name, std::string_view body) {
  if (auto status = CheckReportName(name); !status) return std::unexpected(status.error());
  auto parsed = ParseDefinition(name, body);
  if (!parsed) return std::unexpected(parsed.error());
  auto report = std::make_shared<Report>();
  report->definition = std::move(parsed->first);
  report->call = std::move(parsed->second);
  const std::lock_guard lock(mutex_);
  if (auto status = EnsureLoaded(); !status) return std::unexpected(status.error());
  const bool created = !reports_.contains(name);
  if (created && reports_.size() >= kSearchReportsMax) {
    return std::unexpected(IllegalArgument("there are already " +
                                           std::to_string(kSearchReportsMax) +
                                           " reports (the most there may be): delete one first"));
  }
  rocksdb::WriteOptions options;
  options.sync = true;
  const rocksdb::Status status =
      db_.Put(options, &family_, rocksdb::Slice(name.data(), name.size()),
              DefinitionJson(report->definition));
  if (!status.ok()) return std::unexpected(StorageError(status));
  reports_.insert_or_assign(std::string(name), std::move(report));
  return created;
}

Status SearchReports::Delete(std::string_view name) {
  const std::lock_guard lock(mutex_);
  if (auto status = EnsureLoaded(); !status) return status;
  const auto found = reports_.find(name);
  if (found == reports_.end()) return std::unexpected(NoSuchReport(name));
  rocksdb::WriteOptions options;
  options.sync = true;
  const rocksdb::Status status =
      db_.Delete(options, &family_, rocksdb::Slice(name.data(), name.size()));
  if (!status.ok()) return std::unexpected(StorageError(status));
  reports_.erase(found);
  return Ok();
}

Result<std::vector<SearchReportDefinition>> SearchReports::List() {
  const std::lock_guard lock(mutex_);
  if (auto status = EnsureLoaded(); !status) return std::unexpected(status.error());
  std::vector<SearchReportDefinition> definitions;
  definitions.reserve(reports_.size());
  for (const auto& [name, report] : reports_) definitions.push_back(report->definition);
  return definitions;
}

Result<std::shared_ptr<SearchReports::Report>> SearchReports::Find(std::string_view name) {
  const std::lock_guard lock(mutex_);
  if (auto status = EnsureLoaded(); !status) return std::unexpected(status.error());
  const auto found = reports_.find(name);
  if (found == reports_.end()) return std::unexpected(NoSuchReport(name));
  return found->second;
}

bool SearchReports::Fresh(const Report& report, std::uint64_t min_position) const {
  if (!report.cache) return false;
  const SearchReportDefinition& definition = report.definition;
  const std::uint64_t cached = report.cache->answer.position;
  const std::uint64_t now = search_.Position();
  if (cached < min_position) return false;
  if (definition.max_staleness_positions && now > cached &&
      now - cached > *definition.max_staleness_positions) {
    return false;
  }
  if (!definition.max_staleness_seconds) return true;
  const std::int64_t age_us = monotonic_clock_() - report.cache->computed_monotonic_us;
  return age_us <= static_cast<std::int64_t>(*definition.max_staleness_seconds) * 1'000'000;
}

Result<SearchReportAnswer> SearchReports::Run(std::string_view name, std::uint64_t min_position) {
  auto report = Find(name);
  if (!report) return std::unexpected(report.error());
  Report& found = **report;
  if (found.broken) return std::unexpected(*found.broken);
  const std::lock_guard lock(found.mutex);
  if (Fresh(found, min_position)) {
    SearchReportAnswer answer = found.cache->answer;
    answer.cached = true;
    return answer;
  }
  const std::int64_t start_us = monotonic_clock_();
  auto result = search_.Search(found.call->request);
  if (!result) return std::unexpected(result.error());
  const std::int64_t end_us = monotonic_clock_();
  SearchReportAnswer answer;
  answer.position = result->position;
  answer.computed_at_us = wall_clock_();
  answer.result_json = SearchResponseJson(*result, *found.call, (end_us - start_us) / 1000);
  found.cache = Report::Cache{answer, end_us};
  return answer;
}

}  // namespace ledger::transport
