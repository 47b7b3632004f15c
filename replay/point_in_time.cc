// ledger-replay balances and statement: point-in-time answers from the log alone.
//
// "As of TIME" means the log's longest prefix recorded at or before TIME: replay stops at the
// first event whose recorded_at is after TIME. (A clock that stepped back cannot bring a later
// event into the answer; the statements projection dates events the same way.)
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include <stdlib.h>

#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "projections/projection_runner.h"
#include "projections/statements_projection.h"
#include "replay/audit.h"
#include "transport/json_events.h"
#include "transport/rfc3339.h"

namespace ledger::replay {
namespace {

// The log as a projection's event source, cut at `last_position` or before the first event
// recorded after `at_us`, whichever comes first. Events are checked as Store::ReadFrom checks
// them (hash, link, gaplessness).
class PrefixSource final : public projections::EventSource {
 public:
  PrefixSource(const Store& store, std::uint64_t last_position, TimestampUs at_us)
      : store_(store), last_(last_position), at_us_(at_us) {}

  Result<std::vector<StoredEvent>> ReadFrom(std::uint64_t position, std::size_t limit) override {
    std::vector<StoredEvent> events;
    if (position > last_) return events;
    limit = static_cast<std::size_t>(std::min<std::uint64_t>(limit, last_ - position + 1));
    auto read = store_.ReadFrom(position, limit);
    if (!read) return std::unexpected(read.error());
    for (StoredEvent& stored : *read) {
      if (stored.event.envelope.recorded_at_us > at_us_) {
        last_ = stored.event.envelope.position - 1;
        break;
      }
      events.push_back(std::move(stored));
    }
    return events;
  }
  std::uint64_t WaitForHeadAbove(std::uint64_t, std::int64_t) override { return last_; }
  // The last position it hands out (final once ReadFrom returned an empty batch).
  [[nodiscard]] std::uint64_t last() const { return last_; }

 private:
  const Store& store_;
  std::uint64_t last_;
  TimestampUs at_us_;
};

struct PointInTime {
  std::uint64_t position = 0;  // Replayed through this position.
  TimestampUs recorded_at_us = 0;
};

// Replays balances through the prefix `source` hands out. A rule the log breaks is a finding
// (kCorruption naming the position).
Result<PointInTime> ReplayBalances(PrefixSource& source, BalanceBook& book, bool quiet) {
  Progress progress("balances", source.last(), quiet);
  PointInTime point;
  std::vector<PostingView> postings;
  for (;;) {
    auto events = source.ReadFrom(point.position + 1, kReplayBatchEventsMax);
    if (!events) return std::unexpected(events.error());
    if (events->empty()) break;
    for (const StoredEvent& stored : *events) {
      const Event& event = stored.event;
      std::optional<std::string> problem;
      if (const auto* opened = std::get_if<AccountOpened>(&event.payload)) {
        problem = book.OpenAccount(opened->account, opened->allow_negative);
      }
      postings.clear();
      for (const Posting& p : event.postings) postings.push_back({p.from, p.to, p.asset, p.amount});
      if (!problem) problem = book.Apply(postings);
      if (problem) {
        return Fail(ErrorKind::kCorruption, "corruption",
                    "event " + std::to_string(event.envelope.position) + ": " + *problem);
      }
      point.position = event.envelope.position;
      point.recorded_at_us = event.envelope.recorded_at_us;
    }
    progress.Update(point.position);
  }
  progress.Finish(point.position);
  return point;
}

// The log broke a rule while being replayed: say where (the message names the position).
int ReportFinding(const Error& error) {
  std::printf("FAILED: %s\n", error.message.c_str());
  return kExitFinding;
}

// Opens `data` (caught up with a running ledgerd) and reports errors as exit codes.
Result<std::unique_ptr<AuditStore>> OpenCaughtUp(const std::string& data) {
  auto audit = AuditStore::Open(data);
  if (!audit) return audit;
  if (auto refreshed = (*audit)->Refresh(); !refreshed) {
    return std::unexpected(refreshed.error());
  }
  return audit;
}

void PrintBalances(bool json, const PointInTime& point, const BalanceBook& book,
                   const std::optional<std::string>& only) {
  std::map<std::string_view, const BalanceBook::Account*> sorted;
  if (only) {
    auto it = book.accounts().find(*only);
    if (it != book.accounts().end()) sorted.emplace(it->first, &it->second);
  } else {
    for (const auto& [name, account] : book.accounts()) sorted.emplace(name, &account);
  }
  const std::string at = transport::FormatRfc3339(point.recorded_at_us);
  if (!json) {
    std::printf("balances after position %llu (recorded at %s)\n",
                static_cast<unsigned long long>(point.position),
                point.position == 0 ? "-" : at.c_str());
    if (only && sorted.empty()) std::printf("%s: no postings\n", only->c_str());
    for (const auto& [name, account] : sorted) {
      for (const auto& [asset, balance] : account->balances) {
        std::printf("%.*s %s %lld\n", static_cast<int>(name.size()), name.data(), asset.c_str(),
                    static_cast<long long>(balance));
      }
    }
    return;
  }
  rapidjson::StringBuffer buffer;
  transport::JsonWriter writer(buffer);
  writer.StartObject();
  writer.Key("position");
  writer.Uint64(point.position);
  writer.Key("recorded_at");
  if (point.position == 0) {
    writer.Null();
  } else {
    writer.String(at.c_str());
  }
  writer.Key("accounts");
  writer.StartArray();
  for (const auto& [name, account] : sorted) {
    writer.StartObject();
    writer.Key("account");
    writer.String(name.data(), static_cast<rapidjson::SizeType>(name.size()));
    writer.Key("balances");
    writer.StartObject();
    for (const auto& [asset, balance] : account->balances) {
      writer.Key(asset.c_str(), static_cast<rapidjson::SizeType>(asset.size()));
      writer.Int64(balance);
    }
    writer.EndObject();
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  std::printf("%s\n", buffer.GetString());
}

constexpr std::string_view kBalances = "balances";
constexpr std::string_view kStatement = "statement";

Error Usage(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// Runs the statements projection over `source` into a scratch view and reads the rows.
Result<projections::StatementsPage> ReplayStatements(PrefixSource& source,
                                                     std::string_view merchant,
                                                     projections::StatementPeriod period,
                                                     TimestampUs from_us, TimestampUs to_us) {
  auto scratch = ScratchDir::Create("replay-view");
  if (!scratch) return std::unexpected(scratch.error());
  const std::string family = projections::ColumnFamilyName(projections::StatementsProjection::kName);
  auto view = Store::Open({.path = scratch->path(), .extra_column_families = {family}});
  if (!view) return std::unexpected(view.error());
  projections::StatementsProjection projection;
  Metrics metrics;
  projections::ProjectionRunner runner(source, *(*view)->db(), *(*view)->ColumnFamily(family),
                                       projection, metrics);
  auto caught_up = runner.CatchUp();
  if (!caught_up) return std::unexpected(caught_up.error());
  return projections::StatementsProjection::Read(*(*view)->db(), *(*view)->ColumnFamily(family),
                                                 merchant, period, from_us, to_us, "");
}

void WriteRowJson(transport::JsonWriter& writer, const projections::StatementRow& row) {
  writer.StartObject();
  writer.Key("period");
  writer.String(row.period.c_str());
  writer.Key("from");
  writer.String(transport::FormatRfc3339(row.start_us).c_str());
  writer.Key("to");
  writer.String(transport::FormatRfc3339(row.end_us).c_str());
  writer.Key("asset");
  writer.String(row.asset.c_str());
  for (const auto& [name, value] :
       {std::pair<const char*, std::int64_t>{"opening", row.opening}, {"income", row.income},
        {"other_items", row.other_items}, {"expenditure", row.expenditure},
        {"closing", row.closing}}) {
    writer.Key(name);
    writer.Int64(value);
  }
  writer.Key("other_items_by_kind");
  writer.StartObject();
  for (const auto& [kind, amount] : row.other_items_by_kind) {
    writer.Key(kind.c_str());
    writer.Int64(amount);
  }
  writer.EndObject();
  writer.Key("orders");
  writer.Uint64(row.orders);
  writer.EndObject();
}

void PrintStatement(bool json, std::string_view merchant, std::string_view period,
                    std::uint64_t position, const std::vector<projections::StatementRow>& rows) {
  if (json) {
    rapidjson::StringBuffer buffer;
    transport::JsonWriter writer(buffer);
    writer.StartObject();
    writer.Key("merchant");
    writer.String(merchant.data(), static_cast<rapidjson::SizeType>(merchant.size()));
    writer.Key("period");
    writer.String(period.data(), static_cast<rapidjson::SizeType>(period.size()));
    writer.Key("position");
    writer.Uint64(position);
    writer.Key("statements");
    writer.StartArray();
    for (const auto& row : rows) WriteRowJson(writer, row);
    writer.EndArray();
    writer.EndObject();
    std::printf("%s\n", buffer.GetString());
    return;
  }
  std::printf("statement of %.*s per %.*s, replayed through position %llu\n",
              static_cast<int>(merchant.size()), merchant.data(), static_cast<int>(period.size()),
              period.data(), static_cast<unsigned long long>(position));
  std::printf("%-10s %-6s %14s %14s %14s %14s %14s %7s\n", "period", "asset", "opening", "income",
              "other_items", "expenditure", "closing", "orders");
  for (const auto& row : rows) {
    std::printf("%-10s %-6s %14lld %14lld %14lld %14lld %14lld %7llu\n", row.period.c_str(),
                row.asset.c_str(), static_cast<long long>(row.opening),
                static_cast<long long>(row.income), static_cast<long long>(row.other_items),
                static_cast<long long>(row.expenditure), static_cast<long long>(row.closing),
                static_cast<unsigned long long>(row.orders));
    for (const auto& [kind, amount] : row.other_items_by_kind) {
      std::printf("%-17s %-22s %14lld\n", "", kind.c_str(), static_cast<long long>(amount));
    }
  }
}

}  // namespace

int RunBalances(std::span<char* const> args) {
  static constexpr std::string_view kWithValue[] = {"--data", "--at-position", "--at",
                                                    "--account"};
  static constexpr std::string_view kSwitches[] = {"--json"};
  auto flags = ParseFlags(args, kWithValue, kSwitches);
  if (!flags) return UsageError(kBalances, flags.error());
  if (!flags->Has("--data")) return UsageError(kBalances, Usage("--data DIR is required"));
  if (flags->Has("--at-position") == flags->Has("--at")) {
    return UsageError(kBalances, Usage("give exactly one of --at-position N and --at TIME"));
  }
  std::uint64_t last = std::numeric_limits<std::uint64_t>::max();
  TimestampUs at_us = std::numeric_limits<TimestampUs>::max();
  if (flags->Has("--at-position")) {
    auto position = ParsePositionFlag("--at-position", flags->Get("--at-position"));
    if (!position) return UsageError(kBalances, position.error());
    last = *position;
  } else {
    auto time = ParseTimeFlag("--at", flags->Get("--at"));
    if (!time) return UsageError(kBalances, time.error());
    at_us = *time;
  }
  auto audit = OpenCaughtUp(flags->Get("--data"));
  if (!audit) return CannotRun(kBalances, audit.error());
  Store& store = (*audit)->store();
  if (last != std::numeric_limits<std::uint64_t>::max() && last > store.HeadPosition()) {
    return UsageError(kBalances, Usage("--at-position " + std::to_string(last) +
                                       " is past the head " +
                                       std::to_string(store.HeadPosition())));
  }
  PrefixSource source(store, std::min(last, store.HeadPosition()), at_us);
  BalanceBook book;
  const bool json = flags->Has("--json");
  auto point = ReplayBalances(source, book, json);
  if (!point) {
    if (point.error().kind == ErrorKind::kCorruption) return ReportFinding(point.error());
    return CannotRun(kBalances, point.error());
  }
  std::optional<std::string> only;
  if (flags->Has("--account")) only = flags->Get("--account");
  PrintBalances(json, *point, book, only);
  return kExitOk;
}

int RunStatement(std::span<char* const> args) {
  static constexpr std::string_view kWithValue[] = {"--data", "--merchant", "--period", "--at",
                                                    "--from"};
  static constexpr std::string_view kSwitches[] = {"--json"};
  auto flags = ParseFlags(args, kWithValue, kSwitches);
  if (!flags) return UsageError(kStatement, flags.error());
  for (std::string_view required : {"--data", "--merchant", "--period", "--at"}) {
    if (!flags->Has(required)) {
      return UsageError(kStatement, Usage(std::string(required) + " is required"));
    }
  }
  const std::string period_name = flags->Get("--period");
  const auto period = projections::StatementPeriodFromName(period_name);
  if (!period) return UsageError(kStatement, Usage("--period must be day, month or year"));
  auto at = ParseTimeFlag("--at", flags->Get("--at"));
  if (!at) return UsageError(kStatement, at.error());
  // Rows start at the merchant's first activity unless --from says otherwise.
  auto from = ParseTimeFlag("--from", flags->Get("--from", "0001-01-01T00:00:00Z"));
  if (!from) return UsageError(kStatement, from.error());
  auto audit = OpenCaughtUp(flags->Get("--data"));
  if (!audit) return CannotRun(kStatement, audit.error());
  Store& store = (*audit)->store();
  PrefixSource source(store, store.HeadPosition(), *at);
  const std::string merchant = flags->Get("--merchant");
  auto page = ReplayStatements(source, merchant, *period, *from, *at);
  if (!page) {
    if (page.error().kind == ErrorKind::kInvalidArgument) {
      return UsageError(kStatement, page.error());
    }
    if (page.error().kind == ErrorKind::kCorruption) return ReportFinding(page.error());
    return CannotRun(kStatement, page.error());
  }
  PrintStatement(flags->Has("--json"), merchant, period_name, page->position, page->rows);
  return kExitOk;
}

}  // namespace ledger::replay
