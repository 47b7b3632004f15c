// ledger-bench: benchmark programs for the ledger.
//
//   ledger-bench append [--data DIR] [--seconds S] [--rounds R] [--accounts N] [--batch B]
//   ledger-bench project --data DIR [--rounds R]
//
// `append` measures the durable write path in-process: asset-change commands over N accounts
// (default 1,000,000) submitted to the sequencer, decided, group-committed and fsynced; each
// command counts once its callback reports it durable. In the same run it measures a raw RocksDB
// baseline: WriteBatches of B (default 4,096) 200-byte puts written with sync=true. Each of the R
// rounds (default 5) runs both for S seconds (default 5); the medians are printed.
//
// `project` measures the apply rate of each projection over the log in DIR/ledger (left there by
// `append --data DIR`): each round builds the projection from position 0 into a fresh view
// database, with the runtime the server uses (ProjectionRunner::CatchUp), and the median
// events/s of R rounds (default 3) is printed.
#include <sys/resource.h>

#include <rocksdb/db.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/accounts_projection.h"
#include "projections/projection_runner.h"

namespace {

using Clock = std::chrono::steady_clock;

struct AppendOptions {
  std::string data_dir;
  double seconds = 5;
  int rounds = 5;
  std::uint64_t accounts = 1'000'000;
  std::size_t batch = 4'096;
};

[[noreturn]] void Usage(const char* message) {
  if (message != nullptr) std::fprintf(stderr, "ledger-bench: %s\n", message);
  std::fprintf(stderr,
               "usage: ledger-bench append [--data DIR] [--seconds S] [--rounds R] "
               "[--accounts N] [--batch B]\n"
               "       ledger-bench project --data DIR [--rounds R]\n");
  std::exit(2);
}

// User + system CPU time of this process so far.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// Raw RocksDB: sync=true WriteBatches of `batch` 200-byte values, for `seconds`. Returns puts/s.
double RawRocksDbRound(const std::string& path, double seconds, std::size_t batch) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 128u << 20;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, path, &raw).ok()) Usage("cannot open the baseline database");
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  std::string value(200, 'v');
  std::uint64_t key_number = 0;
  std::string key;
  auto started = Clock::now();
  auto deadline = started + std::chrono::duration<double>(seconds);
  std::uint64_t puts = 0;
  while (Clock::now() < deadline) {
    rocksdb::WriteBatch write_batch;
    for (std::size_t i = 0; i < batch; ++i) {
      key.clear();
      ledger::AppendBigEndian64(++key_number, &key);
      write_batch.Put(key, value);
    }
    if (!db->Write(write_options, &write_batch).ok()) Usage("baseline write failed");
    puts += batch;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  return static_cast<double>(puts) / elapsed;
}

std::vector<ledger::commands::Command> MakeCommands(std::size_t count, std::uint64_t accounts,
                                                    std::uint64_t first_key, std::mt19937_64& rng) {
  std::vector<ledger::commands::Command> commands(count);
  std::uniform_int_distribution<std::uint64_t> account(0, accounts - 1);
  std::uniform_int_distribution<std::int64_t> amount(1, 10'000);
  for (std::size_t i = 0; i < count; ++i) {
    auto& command = commands[i];
    command.context.client_id = "bench";
    command.context.idempotency_key = "append-" + std::to_string(first_key + i);
    command.body = ledger::commands::ChangeAsset{.account = "user:" + std::to_string(account(rng)),
                                                 .asset = "CNY",
                                                 .amount = amount(rng),
                                                 .source = "topup",
                                                 .reason = "top-up",
                                                 .ref = "bench"};
  }
  return commands;
}

// One round of the ledger's write path: returns durable commands/s.
double AppendRound(ledger::Store& store, ledger::Metrics& metrics, const AppendOptions& options,
                   std::vector<ledger::commands::Command> commands) {
  ledger::SystemClock clock;
  ledger::commands::Sequencer sequencer(store, clock, metrics,
                                        {.batch_commands_max = options.batch});
  if (!sequencer.Start()) Usage("cannot start the sequencer");
  std::atomic<std::uint64_t> durable{0};
  std::atomic<std::uint64_t> failed{0};
  auto started = Clock::now();
  auto deadline = started + std::chrono::duration<double>(options.seconds);
  std::size_t next = 0;
  while (Clock::now() < deadline && next < commands.size()) {
    // Keep the queue fed without overflowing it: the producer stands for transport threads.
    if (next - durable.load(std::memory_order_relaxed) > ledger::kCommandQueueDepthMax / 2) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    auto submitted = sequencer.Submit(std::move(commands[next]), [&](auto outcome) {
      if (!outcome) failed.fetch_add(1, std::memory_order_relaxed);
      durable.fetch_add(1, std::memory_order_relaxed);
    });
    if (!submitted) Usage("submit failed");
    ++next;
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
  std::string base = options.data_dir;
  bool temporary = base.empty();
  if (temporary) {
    base = (std::filesystem::temp_directory_path() / ("ledger-bench-" + std::to_string(getpid())))
               .string();
  }
  std::filesystem::create_directories(base);
  std::mt19937_64 rng(42);
  std::vector<double> ledger_rates;
  std::vector<double> raw_rates;
  auto store = ledger::Store::Open({.path = base + "/ledger"});
  if (!store) Usage(store.error().message.c_str());
  ledger::Metrics metrics;
  std::uint64_t next_key = 0;
  // Generous: enough commands for the fastest plausible rate over the round.
  const auto per_round = static_cast<std::size_t>(options.seconds * 600'000);
  for (int round = 1; round <= options.rounds; ++round) {
    double raw =
        RawRocksDbRound(base + "/raw-" + std::to_string(round), options.seconds, options.batch);
    std::filesystem::remove_all(base + "/raw-" + std::to_string(round));
    auto commands = MakeCommands(per_round, options.accounts, next_key, rng);
    next_key += per_round;
    const double cpu_before = CpuSeconds();
    const std::uint64_t head_before = (*store)->HeadPosition();
    double rate = AppendRound(**store, metrics, options, std::move(commands));
    const double cpu_us_per_command = (CpuSeconds() - cpu_before) * 1e6 /
                                      static_cast<double>((*store)->HeadPosition() - head_before);
    std::printf("round %d: ledger append %.0f commands/s (%.1f us CPU per command), "
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
  if (temporary) std::filesystem::remove_all(base);
  return 0;
}

// Builds `projection` from position 0 of `store` into a fresh database; returns events/s.
double ProjectRound(const ledger::Store& store, ledger::projections::Projection& projection,
                    const std::string& view_path) {
  const std::string family = ledger::projections::ColumnFamilyName(projection.Name());
  auto view = ledger::Store::Open({.path = view_path,
                                   .extra_column_families = {family},
                                   .point_lookup_families = {family}});
  if (!view) Usage(view.error().message.c_str());
  ledger::Metrics metrics;
  ledger::projections::StoreEventSource source(store);
  ledger::projections::ProjectionRunner runner(
      source, *(*view)->db(),
      *(*view)->ColumnFamily(ledger::projections::ColumnFamilyName(projection.Name())),
      projection, metrics);
  auto started = Clock::now();
  auto reached = runner.CatchUp();
  if (!reached) Usage(reached.error().message.c_str());
  double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  return static_cast<double>(*reached) / elapsed;
}

int RunProject(const std::string& data_dir, int rounds) {
  auto store = ledger::Store::Open({.path = data_dir + "/ledger", .read_only = true});
  if (!store) Usage(store.error().message.c_str());
  const std::uint64_t events = (*store)->HeadPosition();
  if (events == 0) Usage("the log is empty: run 'ledger-bench append --data DIR' first");
  std::vector<double> rates;
  for (int round = 1; round <= rounds; ++round) {
    ledger::projections::AccountsProjection accounts;
    const std::string view_path = data_dir + "/view-bench";
    std::filesystem::remove_all(view_path);
    double rate = ProjectRound(**store, accounts, view_path);
    std::filesystem::remove_all(view_path);
    std::printf("round %d: accounts projection %.0f events/s\n", round, rate);
    std::fflush(stdout);
    rates.push_back(rate);
  }
  std::printf("project (median of %d rounds over %llu events):\n", rounds,
              static_cast<unsigned long long>(events));
  std::printf("  accounts: %.0f events/s\n", Median(rates));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) Usage(nullptr);
  std::string verb = argv[1];
  if (verb == "--help" || verb == "-h") Usage(nullptr);
  if (verb == "project") {
    std::string data_dir;
    int rounds = 3;
    for (int i = 2; i + 1 < argc; i += 2) {
      std::string flag = argv[i];
      if (flag == "--data") data_dir = argv[i + 1];
      else if (flag == "--rounds") rounds = std::stoi(argv[i + 1]);
      else Usage(("unknown flag " + flag).c_str());
    }
    if (data_dir.empty() || rounds <= 0 || argc % 2 != 0) Usage("project needs --data DIR");
    return RunProject(data_dir, rounds);
  }
  if (verb != "append") Usage(("unknown verb '" + verb + "'").c_str());
  AppendOptions options;
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    if (i + 1 >= argc) Usage(("missing value for " + flag).c_str());
    std::string value = argv[++i];
    if (flag == "--data")
      options.data_dir = value;
    else if (flag == "--seconds")
      options.seconds = std::stod(value);
    else if (flag == "--rounds")
      options.rounds = std::stoi(value);
    else if (flag == "--accounts")
      options.accounts = std::stoull(value);
    else if (flag == "--batch")
      options.batch = std::stoull(value);
    else
      Usage(("unknown flag " + flag).c_str());
  }
  if (options.seconds <= 0 || options.rounds <= 0 || options.accounts == 0 || options.batch == 0 ||
      options.batch > ledger::kBatchCommandsMax * 4) {
    Usage("flags out of range");
  }
  return RunAppend(options);
}
