// ledger-bench search: the search projection over N settlement records (docs/benchmarks.md).
//
// 1. Log: N/4 orders (3 split lines + the merchant's line = 4 settlement records each) over M
//    merchants, occurred_at spread over the 12 months of 2026, settled through the real
//    sequencer into DIR/ledger (reused when it already holds them).
// 2. Indexing, R rounds: the search projection built from position 0 into a fresh view
//    database with the server's runtime (ProjectionRunner::CatchUp), against a decode-only
//    projection over the same log in the same round. Documents/s counts both indexes.
// 3. Load: the time a restarted ledgerd takes to rebuild the in-memory index from the stored
//    documents.
// 4. Queries, Q of each, as ledgerd runs them (SearchProjection::Search, _source read for the
//    hits): a filter (merchant + month + category, 10 hits), a terms aggregation of one
//    merchant's month (by kind, with a sum of amount per bucket), and match_all size 0 as the
//    floor. p50 and p99.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/projection_runner.h"
#include "projections/read_models.h"
#include "projections/search_projection.h"
#include "transport/bin/bench_common.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;
using projections::SearchAggregation;
using projections::SearchField;
using projections::SearchProjection;
using projections::SearchQuery;
using projections::SearchRequest;

constexpr double kIndexingTarget = 200'000;  // documents/s
constexpr double kFilterP50TargetMs = 5;
constexpr double kAggregationP50TargetMs = 20;
constexpr std::uint64_t kPayers = 1'000;
constexpr std::uint64_t kRecordsPerOrder = 4;

struct SearchOptions {
  std::string data_dir;
  std::uint64_t records = 1'000'000;
  std::uint64_t merchants = 1'000;
  int rounds = 3;
  int queries = 200;
  std::uint64_t seed = 42;
};

TimestampUs MonthStartUs(int month) {  // month 1..13 of 2026 (13: January 2027)
  using namespace std::chrono;
  const year_month start = year(2026) / January + months(month - 1);
  return duration_cast<microseconds>(sys_days(start / 1).time_since_epoch()).count();
}

// Submits `commands` to `sequencer`, at most half a queue in flight; dies on any failure.
void SubmitAll(commands::Sequencer& sequencer, std::vector<commands::Command> commands) {
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> failed{0};
  for (std::size_t i = 0; i < commands.size(); ++i) {
    while (i - done.load(std::memory_order_relaxed) > kCommandQueueDepthMax / 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    auto submitted = sequencer.Submit(std::move(commands[i]), [&](auto outcome) {
      if (!outcome) failed.fetch_add(1);
      done.fetch_add(1, std::memory_order_release);
    });
    if (!submitted) Die("submit failed: " + submitted.error().message);
  }
  while (done.load(std::memory_order_acquire) < commands.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (failed.load() > 0) Die(std::to_string(failed.load()) + " commands failed");
}

commands::Command MakeSettlement(std::uint64_t order, const SearchOptions& options,
                                 std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint64_t> merchant(0, options.merchants - 1);
  std::uniform_int_distribution<std::uint64_t> payer(0, kPayers - 1);
  std::uniform_int_distribution<std::int64_t> gross(100, 100'000);
  std::uniform_int_distribution<TimestampUs> when(MonthStartUs(1), MonthStartUs(13) - 1);
  commands::Command command;
  command.context.client_id = "bench";
  command.context.idempotency_key = "order-" + std::to_string(order);
  command.body = commands::SettleOrder{
      .order_id = "o-" + std::to_string(order),
      .merchant = "merchant:" + std::to_string(merchant(rng)),
      .payer = "user:" + std::to_string(payer(rng)),
      .asset = "CNY",
      .gross = gross(rng),
      .splits = {{.to = "host:" + std::to_string(order % 97),
                  .kind = "host_commission",
                  .bps = 1000},
                 {.to = "platform:share", .kind = "platform_share", .bps = 500},
                 {.to = "platform:tech", .kind = "technical_service_fee", .bps = 60}},
      .occurred_at_us = when(rng)};
  return command;
}

// The log of `options` in DIR/ledger: reused if it holds the orders already.
std::unique_ptr<Store> BuildLog(const std::string& dir, const SearchOptions& options) {
  const std::uint64_t orders = options.records / kRecordsPerOrder;
  auto store = Store::Open({.path = dir + "/ledger"});
  if (!store) Die("cannot open the log: " + store.error().message);
  if ((*store)->HeadPosition() == kPayers + orders) return std::move(*store);
  if ((*store)->HeadPosition() != 0) Die(dir + "/ledger holds another log; pick another --data");
  std::printf("building the log: %llu orders (%llu settlement records)...\n",
              static_cast<unsigned long long>(orders),
              static_cast<unsigned long long>(orders * kRecordsPerOrder));
  std::fflush(stdout);
  SystemClock clock;
  Metrics metrics;
  commands::Sequencer sequencer(**store, clock, metrics);
  if (!sequencer.Start()) Die("cannot start the sequencer");
  std::vector<commands::Command> credits(kPayers);
  for (std::uint64_t i = 0; i < kPayers; ++i) {
    credits[i].context.client_id = "bench";
    credits[i].body = commands::ChangeAsset{.account = "user:" + std::to_string(i),
                                            .asset = "CNY",
                                            .amount = 1'000'000'000'000,
                                            .source = "topup",
                                            .reason = "bench funds",
                                            .ref = "funds-" + std::to_string(i)};
  }
  SubmitAll(sequencer, std::move(credits));
  std::mt19937_64 rng(options.seed);
  constexpr std::uint64_t kChunk = 100'000;
  for (std::uint64_t first = 0; first < orders; first += kChunk) {
    std::vector<commands::Command> settlements;
    for (std::uint64_t order = first; order < std::min(orders, first + kChunk); ++order) {
      settlements.push_back(MakeSettlement(order, options, rng));
    }
    SubmitAll(sequencer, std::move(settlements));
  }
  sequencer.Stop();
  return std::move(*store);
}

// A projection that only receives the decoded events: the floor of any projection's rate.
class DecodeOnly final : public projections::Projection {
 public:
  [[nodiscard]] std::string_view Name() const override { return SearchProjection::kName; }
  [[nodiscard]] Status Apply(const Event&, projections::ViewWriter&) override { return Ok(); }
};

struct View {
  std::unique_ptr<Store> store;
  rocksdb::ColumnFamilyHandle* family = nullptr;
};

View OpenFreshView(const std::string& path) {
  std::filesystem::remove_all(path);
  auto store =
      Store::Open({.path = path,
                   .extra_column_families = projections::ReadModels::ColumnFamilies(),
                   .point_lookup_families = projections::ReadModels::PointLookupFamilies()});
  if (!store) Die("cannot open the view database: " + store.error().message);
  View view{std::move(*store), nullptr};
  view.family = view.store->ColumnFamily(projections::ColumnFamilyName(SearchProjection::kName));
  return view;
}

// Seconds to apply the whole log to `projection` in `view`.
double CatchUpSeconds(projections::EventSource& source, projections::Projection& projection,
                      View& view) {
  Metrics metrics;
  projections::ProjectionRunner runner(source, *view.store->db(), *view.family, projection,
                                       metrics);
  const auto started = Clock::now();
  auto reached = runner.CatchUp();
  if (!reached) Die("catch-up failed: " + reached.error().message);
  return std::chrono::duration<double>(Clock::now() - started).count();
}

SearchQuery Term(SearchField field, std::string value) {
  return {.kind = SearchQuery::Kind::kTerm, .field = field, .keywords = {std::move(value)}};
}

// merchant + month of 2026 (+ category if not empty), all in filter context.
SearchQuery MerchantMonth(std::uint64_t merchant, int month, std::string category) {
  SearchQuery query{.kind = SearchQuery::Kind::kBool};
  query.filter.push_back(Term(SearchField::kMerchant, "merchant:" + std::to_string(merchant)));
  query.filter.push_back({.kind = SearchQuery::Kind::kRange,
                          .field = SearchField::kOccurredAt,
                          .gte = MonthStartUs(month) / 1000,
                          .lt = MonthStartUs(month + 1) / 1000});
  if (!category.empty()) query.filter.push_back(Term(SearchField::kCategory, category));
  return query;
}

struct Latency {
  double p50_ms = 0, p99_ms = 0;
  double mean_hits = 0;  // hits.total, averaged
};

Latency Measure(const SearchProjection& search, const std::vector<SearchRequest>& requests) {
  std::vector<double> ms;
  double totals = 0;
  for (const SearchRequest& request : requests) {
    const auto started = Clock::now();
    auto result = search.Search(request);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - started).count());
    if (!result) Die("search failed: " + result.error().message);
    totals += static_cast<double>(result->total);
  }
  std::sort(ms.begin(), ms.end());
  return {Percentile(ms, 0.5), Percentile(ms, 0.99), totals / static_cast<double>(ms.size())};
}

void MeasureQueries(const SearchProjection& search, const SearchOptions& options) {
  std::mt19937_64 rng(options.seed + 1);
  std::uniform_int_distribution<std::uint64_t> merchant(0, options.merchants - 1);
  std::uniform_int_distribution<int> month(1, 12);
  std::vector<SearchRequest> filters, aggregations, floor;
  for (int i = 0; i < options.queries; ++i) {
    filters.push_back({.query = MerchantMonth(merchant(rng), month(rng), "other")});
    SearchRequest aggregation{.query = MerchantMonth(merchant(rng), month(rng), ""), .size = 0};
    aggregation.aggregations.push_back({.name = "by_kind",
                                        .kind = SearchAggregation::Kind::kTerms,
                                        .field = SearchField::kKind,
                                        .subs = {{.name = "amount",
                                                  .kind = SearchAggregation::Kind::kSum,
                                                  .field = SearchField::kAmount}}});
    aggregations.push_back(std::move(aggregation));
    floor.push_back({.size = 0});
  }
  const Latency filter = Measure(search, filters);
  const Latency aggregation = Measure(search, aggregations);
  const Latency match_all = Measure(search, floor);
  std::printf("queries (%d each, p50 / p99 ms, mean hits.total):\n", options.queries);
  std::printf("  filter merchant+month+category  %7.3f / %7.3f  %8.0f  target p50 <= %.0f ms: %s\n",
              filter.p50_ms, filter.p99_ms, filter.mean_hits, kFilterP50TargetMs,
              filter.p50_ms <= kFilterP50TargetMs ? "met" : "not met");
  std::printf("  terms agg of a merchant's month %7.3f / %7.3f  %8.0f  target p50 <= %.0f ms: %s\n",
              aggregation.p50_ms, aggregation.p99_ms, aggregation.mean_hits,
              kAggregationP50TargetMs,
              aggregation.p50_ms <= kAggregationP50TargetMs ? "met" : "not met");
  std::printf("  match_all size 0 (floor)        %7.3f / %7.3f  %8.0f\n", match_all.p50_ms,
              match_all.p99_ms, match_all.mean_hits);
}

int RunSearch(const SearchOptions& options) {
  const TempOrGiven dir(options.data_dir, "search");
  std::unique_ptr<Store> log = BuildLog(dir.path(), options);
  projections::StoreEventSource source(*log);
  const std::string view_path = dir.path() + "/view-search";
  std::vector<double> rates, baselines;
  std::uint64_t documents = 0;
  std::unique_ptr<SearchProjection> kept;
  View kept_view;
  for (int round = 1; round <= options.rounds; ++round) {
    kept.reset();  // Closes the previous round's view before its directory is reused.
    kept_view = View{};
    View baseline_view = OpenFreshView(view_path + "-baseline");
    DecodeOnly decode_only;
    const double baseline_seconds = CatchUpSeconds(source, decode_only, baseline_view);
    View view = OpenFreshView(view_path);
    auto search = std::make_unique<SearchProjection>();
    const double seconds = CatchUpSeconds(source, *search, view);
    documents = search->DocumentCount(projections::SearchIndexId::kSettlements) +
                search->DocumentCount(projections::SearchIndexId::kEntries);
    const double events = static_cast<double>(log->HeadPosition());
    rates.push_back(static_cast<double>(documents) / seconds);
    baselines.push_back(events / baseline_seconds);
    std::printf(
        "round %d: search indexing %.0f documents/s (%.0f events/s); decode-only baseline "
        "%.0f events/s\n",
        round, rates.back(), events / seconds, baselines.back());
    std::fflush(stdout);
    kept = std::move(search);
    kept_view = std::move(view);
  }
  const std::uint64_t settlements = kept->DocumentCount(projections::SearchIndexId::kSettlements);
  std::printf(
      "indexing (median of %d rounds; %llu documents: %llu settlements + %llu entries; "
      "%llu events): %.0f documents/s, decode-only baseline %.0f events/s; target >= "
      "%.0f documents/s: %s\n",
      options.rounds, static_cast<unsigned long long>(documents),
      static_cast<unsigned long long>(settlements),
      static_cast<unsigned long long>(documents - settlements),
      static_cast<unsigned long long>(log->HeadPosition()), Median(rates), Median(baselines),
      kIndexingTarget, Median(rates) >= kIndexingTarget ? "met" : "not met");
  std::printf(
      "memory: settlements index %.1f MiB, entries index %.1f MiB (SearchIndex::MemoryBytes)\n",
      static_cast<double>(kept->MemoryBytes(projections::SearchIndexId::kSettlements)) / (1 << 20),
      static_cast<double>(kept->MemoryBytes(projections::SearchIndexId::kEntries)) / (1 << 20));
  SearchProjection loaded;
  const auto load_started = Clock::now();
  if (auto status = loaded.Load(*kept_view.store->db(), *kept_view.family); !status) {
    Die("load failed: " + status.error().message);
  }
  const double load_seconds = std::chrono::duration<double>(Clock::now() - load_started).count();
  std::printf("load at start: %.2f s for %llu documents (%.0f documents/s)\n", load_seconds,
              static_cast<unsigned long long>(documents),
              static_cast<double>(documents) / load_seconds);
  MeasureQueries(loaded, options);
  return 0;
}

SearchOptions ParseSearch(std::span<char* const> args) {
  SearchOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--data") {
      options.data_dir = value;
    } else if (flag == "--records") {
      options.records = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--merchants") {
      options.merchants = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--rounds") {
      options.rounds = ParseNumber<int>(flag, value);
    } else if (flag == "--queries") {
      options.queries = ParseNumber<int>(flag, value);
    } else if (flag == "--seed") {
      options.seed = ParseNumber<std::uint64_t>(flag, value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (options.records < kRecordsPerOrder || options.merchants == 0 || options.rounds <= 0 ||
      options.queries <= 0) {
    Usage("search needs --records >= 4, --merchants >= 1, --rounds >= 1, --queries >= 1");
  }
  return options;
}

}  // namespace

int RunSearchCommand(std::span<char* const> args) { return RunSearch(ParseSearch(args)); }

}  // namespace ledger::bench
