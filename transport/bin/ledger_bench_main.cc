// ledger-bench: benchmark programs for the ledger (docs/benchmarks.md).
//
//   ledger-bench append [--data DIR] [--seconds S] [--rounds R] [--accounts N] [--batch B]
//   ledger-bench project --data DIR [--rounds R] [--projection NAME|all]
//   ledger-bench holders-memory [--holders N] [--max-id M] [--seed S] [--through-projection]
//   ledger-bench lag [--data DIR] [--seconds S] [--accounts N] [--batch B]
//   ledger-bench wallets --http HOST:PORT --token T [--connections C] [--seconds S]
//                        [--users N] [--holders H] [--tls-ca FILE]
//   ledger-bench publish [--nats URL] [--events N] [--rounds R] [--in-flight W] [--rate R]
//                        [--seconds S]
//   ledger-bench search [--data DIR] [--records N] [--merchants M] [--rounds R] [--queries Q]
//                       [--seed S]
//   ledger-bench mix (--http HOST:PORT | --binary HOST:PORT [--http HOST:PORT]) --token T
//                    [--connections N] [--seconds S] [--batch B] [--rate R] [--csv FILE]
//                    [--tls-ca FILE] ...
//   ledger-bench raw [--data DIR] [--seconds S] [--rounds R] [--batch B] [--csv FILE]
//
// `append` measures the durable write path in-process: asset-change commands over N accounts
// (default 1,000,000) submitted to the sequencer, decided, group-committed and fsynced; each
// command counts once its callback reports it durable. In the same run it measures a raw RocksDB
// baseline: WriteBatches of B (default 4,096) 200-byte puts written with sync=true. Each of the R
// rounds (default 5) runs both for S seconds (default 5); the medians are printed.
//
// `project` measures the apply rate of each projection (ReadModels order, or the one named) over
// the log in DIR/ledger (left there by `append --data DIR`, opened read-only): each round builds
// the projection from position 0 into a fresh view database opened as ledgerd opens its store
// (ReadModels::ColumnFamilies / PointLookupFamilies), with the runtime the server uses
// (ProjectionRunner::CatchUp). It prints events/s per round and the median of R rounds (default 3).
//
// `holders-memory` measures the holders bitmap for N distinct user ids (default 10,000,000) drawn
// uniformly from 0..M (default 100,000,000) with seed S (default 42): heap bytes as
// HoldersProjection::MemoryBytes counts them, serialized sizes, the per-chunk layout the
// projection stores, and the process's resident-set growth as a cross-check. With
// --through-projection it also feeds the holders projection one top-up event per user and checks
// that its bitmap holds exactly those ids.
//
// `lag` and `wallets` (bench_reads.cc) measure the read side under load: projection lag while
// the write path runs flat out, and GET /v1/wallets over HTTP against a running ledgerd.
//
// `publish` (bench_nats.cc) measures NATS JetStream publishing: the ledger's NatsPublisher over a
// pre-filled log against plain async JetStream publishing in the same run, and the latency from
// a command's commit to a stream subscriber receiving its event.
//
// `search` (bench_search.cc) measures the search projection over N settlement records: its
// indexing rate against a decode-only baseline, and the latency of a filter and of a terms
// aggregation as ledgerd's queries run them.
//
// `mix` (bench_mix.cc) drives a running ledgerd with the realistic command mix over HTTP or the
// binary protocol; `raw` measures the raw RocksDB baseline alone (bench-compare runs both).
#include <rocksdb/db.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <roaring/roaring.hh>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/holders_projection.h"
#include "projections/projection_runner.h"
#include "projections/read_models.h"
#include "transport/bin/bench_common.h"

namespace {

using namespace ledger::bench;
using Clock = std::chrono::steady_clock;

struct AppendOptions {
  std::string data_dir;
  double seconds = 5;
  int rounds = 5;
  std::uint64_t accounts = 1'000'000;
  std::size_t batch = 4'096;
};

// Commands a long append round generates at a time once its pre-generated ones run out.
constexpr std::size_t kAppendChunkCommands = 65'536;

// One round of the ledger's write path: returns durable commands/s.
// `more()` hands out further commands once `commands` run out (long rounds): generated inside
// the timed window, so only rounds longer than the pre-generated supply pay for it.
double AppendRound(ledger::Store& store, ledger::Metrics& metrics, const AppendOptions& options,
                   std::vector<ledger::commands::Command> commands,
                   const std::function<std::vector<ledger::commands::Command>()>& more) {
  ledger::SystemClock clock;
  ledger::commands::Sequencer sequencer(store, clock, metrics,
                                        {.batch_commands_max = options.batch});
  if (!sequencer.Start()) Usage("cannot start the sequencer");
  std::atomic<std::uint64_t> durable{0};
  std::atomic<std::uint64_t> failed{0};
  auto started = Clock::now();
  auto deadline = started + std::chrono::duration<double>(options.seconds);
  std::size_t next = 0;
  std::size_t submitted = 0;
  while (Clock::now() < deadline) {
    if (next == commands.size()) {
      commands = more();
      next = 0;
    }
    // Keep the queue fed without overflowing it: the producer stands for transport threads.
    if (submitted - durable.load(std::memory_order_relaxed) > ledger::kCommandQueueDepthMax / 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    auto result = sequencer.Submit(std::move(commands[next]), [&](auto outcome) {
      if (!outcome) failed.fetch_add(1, std::memory_order_relaxed);
      durable.fetch_add(1, std::memory_order_relaxed);
    });
    if (!result) Usage("submit failed");
    ++next;
    ++submitted;
  }
  std::uint64_t done_at_deadline = durable.load();
  double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  sequencer.Stop();
  if (failed.load() > 0)
    std::fprintf(stderr, "warning: %llu commands failed\n",
                 static_cast<unsigned long long>(failed.load()));
  return static_cast<double>(done_at_deadline) / elapsed;
}

int RunAppend(const AppendOptions& options) {
  const TempOrGiven dir(options.data_dir, "append");
  const std::string& base = dir.path();
  std::mt19937_64 rng(42);
  std::vector<double> ledger_rates;
  std::vector<double> raw_rates;
  auto store = ledger::Store::Open({.path = base + "/ledger"});
  if (!store) Usage(store.error().message.c_str());
  ledger::Metrics metrics;
  std::uint64_t next_key = 0;
  // Generous: enough commands for the fastest plausible rate over the round.
  // Pre-generated per round: enough for the fastest plausible rate over a default round, capped
  // so long rounds do not exhaust memory (they generate the rest in chunks as they go).
  const auto per_round =
      std::min<std::size_t>(static_cast<std::size_t>(options.seconds * 600'000), 4'000'000);
  const auto more = [&] {
    auto chunk = MakeChangeAssetCommands(kAppendChunkCommands, options.accounts, next_key, rng);
    next_key += kAppendChunkCommands;
    return chunk;
  };
  for (int round = 1; round <= options.rounds; ++round) {
    double raw =
        RawRocksDbRound(base + "/raw-" + std::to_string(round), options.seconds, options.batch);
    std::filesystem::remove_all(base + "/raw-" + std::to_string(round));
    auto commands = MakeChangeAssetCommands(per_round, options.accounts, next_key, rng);
    next_key += per_round;
    const double cpu_before = CpuSeconds();
    const std::uint64_t head_before = (*store)->HeadPosition();
    double rate = AppendRound(**store, metrics, options, std::move(commands), more);
    const double cpu_us_per_command = (CpuSeconds() - cpu_before) * 1e6 /
                                      static_cast<double>((*store)->HeadPosition() - head_before);
    std::printf(
        "round %d: ledger append %.0f commands/s (%.1f us CPU per command), "
        "raw rocksdb %.0f puts/s\n",
        round, rate, cpu_us_per_command, raw);
    std::fflush(stdout);
    ledger_rates.push_back(rate);
    raw_rates.push_back(raw);
  }
  std::printf("append (median of %d rounds of %.0f s, %llu accounts, batch %zu):\n", options.rounds,
              options.seconds, static_cast<unsigned long long>(options.accounts), options.batch);
  std::printf("  ledger durable asset changes: %.0f commands/s\n", Median(ledger_rates));
  std::printf("  raw RocksDB sync batches:     %.0f puts/s (200-byte values)\n", Median(raw_rates));
  std::printf("  ratio ledger/raw:             %.2f\n", Median(ledger_rates) / Median(raw_rates));
  const auto& batches = metrics.GetHistogram("ledger_batch_commands", "", {});
  const auto& commits = metrics.GetHistogram("ledger_commit_seconds", "", {});
  const auto& decides = metrics.GetHistogram("ledger_decide_seconds", "", {});
  std::printf("  mean decide %.2f ms per batch\n",
              decides.Count() ? decides.Sum() / static_cast<double>(decides.Count()) * 1e3 : 0.0);
  std::printf("  batches: %llu, commits: %llu, mean commit %.2f ms\n",
              static_cast<unsigned long long>(batches.Count()),
              static_cast<unsigned long long>(commits.Count()),
              commits.Count() ? commits.Sum() / static_cast<double>(commits.Count()) * 1e3 : 0.0);
  std::printf("  events in the log:            %llu\n",
              static_cast<unsigned long long>((*store)->HeadPosition()));
  store->reset();
  return 0;
}

// --- project ----------------------------------------------------------------------------------

using ledger::projections::ProjectionId;
using ledger::projections::ReadModels;

constexpr double kProjectEventsPerSecondTarget = 500'000;

struct ProjectOptions {
  std::string data_dir;
  int rounds = 3;
  std::string projection = "all";
};

struct ProjectRoundResult {
  double events_per_second = 0;
  double cpu_us_per_event = 0;  // All threads of the process, RocksDB's included.
};

// A new view database at `path` (removed first) with every projection's column family, opened
// the way ledgerd opens its store.
std::unique_ptr<ledger::Store> OpenFreshView(const std::string& path) {
  std::filesystem::remove_all(path);
  auto view = ledger::Store::Open({.path = path,
                                   .extra_column_families = ReadModels::ColumnFamilies(),
                                   .point_lookup_families = ReadModels::PointLookupFamilies()});
  if (!view) Die("cannot open the view database: " + view.error().message);
  return std::move(*view);
}

struct CatchUpResult {
  std::uint64_t events = 0;
  double seconds = 0;
  double cpu_seconds = 0;  // All threads of the process, RocksDB's included.
};

// Applies `source`'s events from position 0 to `projection` (new, empty) in a fresh view database
// at `view_path`, with ProjectionRunner::CatchUp. Dies on an error.
CatchUpResult CatchUpFresh(ledger::projections::EventSource& source,
                           ledger::projections::Projection& projection,
                           const std::string& view_path) {
  std::unique_ptr<ledger::Store> view = OpenFreshView(view_path);
  rocksdb::ColumnFamilyHandle* family =
      view->ColumnFamily(ledger::projections::ColumnFamilyName(projection.Name()));
  LEDGER_ASSERT(family != nullptr);
  ledger::Metrics metrics;
  ledger::projections::ProjectionRunner runner(source, *view->db(), *family, projection, metrics);
  const double cpu_before = CpuSeconds();
  const auto started = Clock::now();
  auto reached = runner.CatchUp();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  if (!reached) Die(std::string(projection.Name()) + ": " + reached.error().message);
  return {*reached, elapsed, CpuSeconds() - cpu_before};
}

// Builds projection `id` from position 0 of `source` into a fresh view database at `view_path`.
ProjectRoundResult ProjectRound(ledger::projections::EventSource& source, ProjectionId id,
                                const std::string& view_path) {
  std::unique_ptr<ledger::projections::Projection> projection = ReadModels::MakeProjection(id);
  const CatchUpResult result = CatchUpFresh(source, *projection, view_path);
  std::filesystem::remove_all(view_path);
  const auto events = static_cast<double>(result.events);
  return {events / result.seconds, result.cpu_seconds * 1e6 / events};
}

// The projections `name` selects: "all" is every one, in ReadModels order.
std::vector<ProjectionId> SelectProjections(const std::string& name) {
  if (name != "all") {
    const auto id = ReadModels::IdFromName(name);
    if (!id) {
      std::string known;
      for (std::size_t i = 0; i < ledger::projections::kProjectionCount; ++i) {
        known += " " + std::string(ReadModels::Name(static_cast<ProjectionId>(i)));
      }
      Usage(("unknown projection '" + name + "'; known:" + known + ", all").c_str());
    }
    return {*id};
  }
  std::vector<ProjectionId> ids;
  for (std::size_t i = 0; i < ledger::projections::kProjectionCount; ++i) {
    ids.push_back(static_cast<ProjectionId>(i));
  }
  return ids;
}

// The log in `data_dir`, read-only; dies with a hint when there is none or it is empty.
std::unique_ptr<ledger::Store> OpenBenchLog(const std::string& data_dir) {
  const std::string hint = ": run 'ledger-bench append --data " + data_dir + "' first";
  if (!std::filesystem::exists(data_dir + "/ledger")) Die("no log in " + data_dir + hint);
  auto store = ledger::Store::Open({.path = data_dir + "/ledger", .read_only = true});
  if (!store) Die("cannot open the log in " + data_dir + ": " + store.error().message);
  if ((*store)->HeadPosition() == 0) Die("the log in " + data_dir + " has no events" + hint);
  return std::move(*store);
}

struct ProjectSummary {
  std::string_view name;
  double median_events_per_second = 0;
  double median_cpu_us_per_event = 0;
};

void PrintProjectTable(const std::vector<ProjectSummary>& summaries, int rounds,
                       std::uint64_t events) {
  std::printf("project (median of %d rounds over %llu events; target >= %.0f events/s each):\n",
              rounds, static_cast<unsigned long long>(events), kProjectEventsPerSecondTarget);
  std::printf("  %-12s %14s %14s  %s\n", "projection", "events/s", "us CPU/event", "target");
  for (const ProjectSummary& summary : summaries) {
    const bool met = summary.median_events_per_second >= kProjectEventsPerSecondTarget;
    std::printf("  %-12.*s %14.0f %14.2f  %s\n", static_cast<int>(summary.name.size()),
                summary.name.data(), summary.median_events_per_second,
                summary.median_cpu_us_per_event, met ? "met" : "not met");
  }
}

int RunProject(const ProjectOptions& options) {
  const std::vector<ProjectionId> ids = SelectProjections(options.projection);
  std::unique_ptr<ledger::Store> store = OpenBenchLog(options.data_dir);
  ledger::projections::StoreEventSource source(*store);
  const std::string view_path = options.data_dir + "/view-bench";
  std::vector<ProjectSummary> summaries;
  for (const ProjectionId id : ids) {
    const std::string_view name = ReadModels::Name(id);
    std::vector<double> rates;
    std::vector<double> cpu;
    for (int round = 1; round <= options.rounds; ++round) {
      const ProjectRoundResult result = ProjectRound(source, id, view_path);
      std::printf("round %d: %.*s projection %.0f events/s (%.2f us CPU per event)\n", round,
                  static_cast<int>(name.size()), name.data(), result.events_per_second,
                  result.cpu_us_per_event);
      std::fflush(stdout);
      rates.push_back(result.events_per_second);
      cpu.push_back(result.cpu_us_per_event);
    }
    summaries.push_back({name, Median(rates), Median(cpu)});
  }
  PrintProjectTable(summaries, options.rounds, store->HeadPosition());
  return 0;
}

ProjectOptions ParseProject(std::span<char* const> args) {
  ProjectOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--data")
      options.data_dir = value;
    else if (flag == "--rounds")
      options.rounds = ParseNumber<int>(flag, value);
    else if (flag == "--projection")
      options.projection = value;
    else
      Usage(("unknown flag " + flag).c_str());
  }
  if (options.data_dir.empty()) Usage("project needs --data DIR");
  if (options.rounds <= 0) Usage("--rounds must be > 0");
  return options;
}

// --- holders-memory ---------------------------------------------------------------------------

using ledger::projections::HoldersProjection;

constexpr double kHoldersBitmapBytesTarget = 32.0 * (1 << 20);

struct HoldersMemoryOptions {
  std::uint64_t holders = 10'000'000;
  std::uint64_t max_id = 100'000'000;
  std::uint64_t seed = 42;
  bool through_projection = false;
};

// Resident set size of this process, from /proc/self/statm.
std::size_t ResidentBytes() {
  std::FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr) Die("cannot open /proc/self/statm");
  unsigned long long size_pages = 0;
  unsigned long long resident_pages = 0;
  const int read = std::fscanf(statm, "%llu %llu", &size_pages, &resident_pages);
  std::fclose(statm);
  if (read != 2) Die("cannot parse /proc/self/statm");
  return static_cast<std::size_t>(resident_pages) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

// `count` distinct ids drawn uniformly from 0..max_id, ascending. Draws with replacement, drops
// repeats and draws again for the missing ones: every set of `count` ids is equally likely.
std::vector<std::uint32_t> RandomIds(std::uint64_t count, std::uint32_t max_id,
                                     std::mt19937_64& rng) {
  std::uniform_int_distribution<std::uint32_t> id(0, max_id);
  std::vector<std::uint32_t> ids;
  ids.reserve(count);
  while (ids.size() < count) {
    while (ids.size() < count) ids.push_back(id(rng));
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  }
  return ids;
}

struct ChunkLayout {
  std::size_t chunks = 0;
  std::size_t bytes = 0;
};

// The "m/" values HoldersProjection::FinishBatch would store for `bitmap`: one run-optimized
// portable serialization per 65,536-id chunk that has a member.
ChunkLayout StoredChunks(const Roaring& bitmap) {
  ChunkLayout layout;
  if (bitmap.isEmpty()) return layout;
  for (std::uint64_t high = bitmap.minimum() >> 16; high <= bitmap.maximum() >> 16; ++high) {
    Roaring range;
    range.addRange(high << 16, (high + 1) << 16);
    Roaring chunk = bitmap & range;
    if (chunk.isEmpty()) continue;
    chunk.runOptimize();
    ++layout.chunks;
    layout.bytes += chunk.getSizeInBytes(/*portable=*/true);
  }
  return layout;
}

double Mebibytes(std::size_t bytes) { return static_cast<double>(bytes) / (1 << 20); }

void PrintBytes(const char* what, std::size_t bytes) {
  std::printf("  %-46s %12zu bytes  %8.2f MiB\n", what, bytes, Mebibytes(bytes));
}

// Builds the bitmap of `ids` directly and prints its sizes.
void MeasureBitmap(const std::vector<std::uint32_t>& ids) {
  const std::size_t resident_before = ResidentBytes();
  Roaring bitmap;
  bitmap.addMany(ids.size(), ids.data());
  const std::size_t resident_after = ResidentBytes();
  LEDGER_ASSERT(bitmap.cardinality() == ids.size());
  const std::size_t memory = HoldersProjection::BitmapMemoryBytes(bitmap);
  PrintBytes("in memory (BitmapMemoryBytes)", memory);
  PrintBytes("process RSS growth while building it", resident_after - resident_before);
  PrintBytes("portable serialized", bitmap.getSizeInBytes(/*portable=*/true));
  const ChunkLayout layout = StoredChunks(bitmap);
  bitmap.runOptimize();
  PrintBytes("portable serialized after runOptimize", bitmap.getSizeInBytes(/*portable=*/true));
  PrintBytes("in memory after runOptimize", HoldersProjection::BitmapMemoryBytes(bitmap));
  std::printf("  %-46s %12zu chunks\n", "stored chunks (\"m/\" keys)", layout.chunks);
  PrintBytes("stored chunk values, total", layout.bytes);
  std::printf("  target <= %.0f MiB per bitmap: %s (the projection keeps two copies: %.2f MiB)\n",
              Mebibytes(static_cast<std::size_t>(kHoldersBitmapBytesTarget)),
              static_cast<double>(memory) <= kHoldersBitmapBytesTarget ? "met" : "not met",
              Mebibytes(2 * memory));
}

// One top-up event per user of `users`, in that order: external:topup -> user:<id>, 1 CNY.
class TopUpSource final : public ledger::projections::EventSource {
 public:
  explicit TopUpSource(std::vector<std::uint32_t> users) : users_(std::move(users)) {}
  [[nodiscard]] ledger::Result<std::vector<ledger::StoredEvent>> ReadFrom(
      std::uint64_t position, std::size_t limit) override {
    std::vector<ledger::StoredEvent> events;
    for (std::uint64_t at = position; at <= users_.size() && events.size() < limit; ++at) {
      ledger::Event& event = events.emplace_back().event;
      event.envelope.position = at;
      event.envelope.type = ledger::EventType::kAssetChanged;
      const std::string user = "user:" + std::to_string(users_[at - 1]);
      event.postings.push_back({.from = "external:topup", .to = user, .asset = "CNY", .amount = 1});
      event.payload = ledger::AssetChanged{
          .account = user, .asset = "CNY", .amount = 1, .counterparty = "external:topup"};
    }
    return events;
  }
  std::uint64_t WaitForHeadAbove(std::uint64_t, std::int64_t) override { return users_.size(); }

 private:
  std::vector<std::uint32_t> users_;
};

// Feeds the holders projection one top-up per id of `ids` (ascending), in random order, and
// checks its bitmap holds exactly `ids`.
void MeasureThroughProjection(const std::vector<std::uint32_t>& ids, std::mt19937_64& rng) {
  std::vector<std::uint32_t> order = ids;
  std::shuffle(order.begin(), order.end(), rng);
  TopUpSource source(std::move(order));
  const std::string view_path = (std::filesystem::temp_directory_path() /
                                 ("ledger-bench-holders-" + std::to_string(getpid())))
                                    .string();
  HoldersProjection holders;
  const CatchUpResult result = CatchUpFresh(source, holders, view_path);
  std::filesystem::remove_all(view_path);
  std::uint64_t position = 0;
  const std::vector<bool> held = holders.CheckMany(ids, &position);
  const bool exact = holders.Cardinality() == ids.size() &&
                     std::all_of(held.begin(), held.end(), [](bool is_held) { return is_held; });
  std::printf("through the holders projection (%llu top-up events, %.0f events/s):\n",
              static_cast<unsigned long long>(result.events),
              static_cast<double>(result.events) / result.seconds);
  PrintBytes("in memory (MemoryBytes, published copy)", holders.MemoryBytes());
  std::printf("  bitmap holds exactly the %zu ids: %s\n", ids.size(), exact ? "yes" : "NO");
}

int RunHoldersMemory(const HoldersMemoryOptions& options) {
  std::printf("holders-memory: %llu distinct ids uniform over 0..%llu, seed %llu\n",
              static_cast<unsigned long long>(options.holders),
              static_cast<unsigned long long>(options.max_id),
              static_cast<unsigned long long>(options.seed));
  std::mt19937_64 rng(options.seed);
  const std::vector<std::uint32_t> ids =
      RandomIds(options.holders, static_cast<std::uint32_t>(options.max_id), rng);
  MeasureBitmap(ids);
  if (options.through_projection) MeasureThroughProjection(ids, rng);
  return 0;
}

HoldersMemoryOptions ParseHoldersMemory(std::span<char* const> args) {
  static constexpr std::string_view kSwitches[] = {"--through-projection"};
  HoldersMemoryOptions options;
  for (const auto& [flag, value] : FlagPairs(args, kSwitches)) {
    if (flag == "--holders")
      options.holders = ParseNumber<std::uint64_t>(flag, value);
    else if (flag == "--max-id")
      options.max_id = ParseNumber<std::uint64_t>(flag, value);
    else if (flag == "--seed")
      options.seed = ParseNumber<std::uint64_t>(flag, value);
    else if (flag == "--through-projection")
      options.through_projection = true;
    else
      Usage(("unknown flag " + flag).c_str());
  }
  if (options.max_id > std::numeric_limits<std::uint32_t>::max()) {
    Usage("--max-id must fit a user id (<= 4294967295)");
  }
  if (options.holders == 0 || options.holders > options.max_id / 2 + 1) {
    Usage("--holders must be in 1..max-id/2+1");
  }
  return options;
}

AppendOptions ParseAppend(std::span<char* const> args) {
  AppendOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--data")
      options.data_dir = value;
    else if (flag == "--seconds")
      options.seconds = ParseNumber<double>(flag, value);
    else if (flag == "--rounds")
      options.rounds = ParseNumber<int>(flag, value);
    else if (flag == "--accounts")
      options.accounts = ParseNumber<std::uint64_t>(flag, value);
    else if (flag == "--batch")
      options.batch = ParseNumber<std::size_t>(flag, value);
    else
      Usage(("unknown flag " + flag).c_str());
  }
  if (options.seconds <= 0 || options.rounds <= 0 || options.accounts == 0 || options.batch == 0 ||
      options.batch > ledger::kBatchCommandsMax * 4) {
    Usage("flags out of range");
  }
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage(nullptr);
  const std::string verb = argv[1];
  if (verb == "--help" || verb == "-h") Usage(nullptr);
  const std::span<char* const> args(argv + 2, static_cast<std::size_t>(argc - 2));
  if (verb == "append") return RunAppend(ParseAppend(args));
  if (verb == "project") return RunProject(ParseProject(args));
  if (verb == "holders-memory") return RunHoldersMemory(ParseHoldersMemory(args));
  if (verb == "lag") return ledger::bench::RunLagCommand(args);
  if (verb == "wallets") return ledger::bench::RunWalletsCommand(args);
  if (verb == "publish") return ledger::bench::RunPublishCommand(args);
  if (verb == "search") return ledger::bench::RunSearchCommand(args);
  if (verb == "mix") return ledger::bench::RunMixCommand(args);
  if (verb == "raw") return ledger::bench::RunRawCommand(args);
  Usage(("unknown verb '" + verb + "'").c_str());
}
