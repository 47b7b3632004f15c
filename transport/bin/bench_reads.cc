// ledger-bench lag and ledger-bench wallets: the read side under load (docs/benchmarks.md).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include <rapidjson/document.h>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "transport/bin/bench_common.h"
#include "transport/http_client.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;
using projections::ProjectionId;
using projections::ReadModels;
using projections::kProjectionCount;

// The value below which `fraction` of sorted `values` lie (nearest rank).
double Percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1));
  return values[rank];
}

// --- lag --------------------------------------------------------------------------------------

struct LagOptions {
  std::string data_dir;
  double seconds = 20;
  std::uint64_t accounts = 1'000'000;
  std::size_t batch = 4'096;
};

// One projection's figures over a run.
struct LagSamples {
  std::vector<double> lag_events;    // head - checkpoint, sampled every millisecond.
  std::vector<double> visible_ms;    // From a command's acknowledgement to the projection's
                                     // checkpoint covering it (every 64th command).
};

// Acknowledged (position, time) pairs the sampler matches against checkpoints.
class AckLog {
 public:
  void Add(std::uint64_t position) {
    std::lock_guard lock(mutex_);
    acks_.push_back({position, Clock::now()});
  }
  std::deque<std::pair<std::uint64_t, Clock::time_point>> Take() {
    std::lock_guard lock(mutex_);
    std::deque<std::pair<std::uint64_t, Clock::time_point>> taken;
    taken.swap(acks_);
    return taken;
  }

 private:
  std::mutex mutex_;
  std::deque<std::pair<std::uint64_t, Clock::time_point>> acks_;
};

// Samples every projection's lag each millisecond until `stop`, and the visibility latency of
// the acknowledged commands in `acks`.
void SampleLag(const Store& store, const ReadModels& models, AckLog& acks,
               const std::atomic<bool>& stop, std::vector<LagSamples>& samples) {
  std::vector<std::deque<std::pair<std::uint64_t, Clock::time_point>>> pending(kProjectionCount);
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const auto taken = acks.Take();
    const std::uint64_t head = store.HeadPosition();
    const auto now = Clock::now();
    for (std::size_t i = 0; i < kProjectionCount; ++i) {
      const std::uint64_t checkpoint = models.Runner(static_cast<ProjectionId>(i)).Checkpoint();
      samples[i].lag_events.push_back(static_cast<double>(head > checkpoint ? head - checkpoint
                                                                            : 0));
      pending[i].insert(pending[i].end(), taken.begin(), taken.end());
      while (!pending[i].empty() && pending[i].front().first <= checkpoint) {
        samples[i].visible_ms.push_back(
            std::chrono::duration<double, std::milli>(now - pending[i].front().second).count());
        pending[i].pop_front();
      }
    }
  }
}

// Feeds the sequencer as fast as it takes commands for `seconds`; returns commands/s.
double DriveWrites(commands::Sequencer& sequencer, const LagOptions& options, AckLog& acks) {
  std::mt19937_64 rng(7);
  const auto per_chunk = std::size_t{65'536};
  std::atomic<std::uint64_t> durable{0};
  std::uint64_t submitted = 0;
  std::uint64_t key = 0;
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::duration<double>(options.seconds);
  while (Clock::now() < deadline) {
    auto chunk = MakeChangeAssetCommands(per_chunk, options.accounts, key, rng);
    key += per_chunk;
    for (auto& command : chunk) {
      while (submitted - durable.load(std::memory_order_relaxed) > kCommandQueueDepthMax / 2) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      const bool sampled = submitted % 64 == 0;
      auto result = sequencer.Submit(std::move(command), [&durable, &acks, sampled](auto outcome) {
        if (sampled && outcome) acks.Add(outcome->event.envelope.position);
        durable.fetch_add(1, std::memory_order_relaxed);
      });
      if (!result) Die("submit failed: " + result.error().message);
      ++submitted;
      if (Clock::now() >= deadline) break;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  while (durable.load() < submitted) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return static_cast<double>(submitted) / elapsed;
}

void PrintLag(const std::vector<LagSamples>& all, double write_rate, double catch_up_seconds,
              const LagOptions& options) {
  std::printf("lag while appending (%.0f s, %llu accounts, batch %zu): %.0f commands/s\n",
              options.seconds, static_cast<unsigned long long>(options.accounts), options.batch,
              write_rate);
  std::printf("  %-11s %12s %12s %12s %14s %14s\n", "projection", "lag p50", "lag p99",
              "lag max", "visible p50", "visible p99");
  for (std::size_t i = 0; i < kProjectionCount; ++i) {
    LagSamples samples = all[i];
    const double max_lag = samples.lag_events.empty()
                               ? 0
                               : *std::max_element(samples.lag_events.begin(),
                                                   samples.lag_events.end());
    std::printf("  %-11.*s %12.0f %12.0f %12.0f %11.1f ms %11.1f ms\n",
                static_cast<int>(ReadModels::Name(static_cast<ProjectionId>(i)).size()),
                ReadModels::Name(static_cast<ProjectionId>(i)).data(),
                Percentile(samples.lag_events, 0.5), Percentile(samples.lag_events, 0.99), max_lag,
                Percentile(samples.visible_ms, 0.5), Percentile(samples.visible_ms, 0.99));
  }
  std::printf("  lag in events (head - checkpoint, sampled every ms); visible = from a command's\n"
              "  acknowledgement to the projection having applied it (every 64th command)\n");
  std::printf("  all projections at the head %.2f s after the writes stopped\n", catch_up_seconds);
}

int RunLag(const LagOptions& options) {
  const TempOrGiven dir(options.data_dir, "lag");
  auto store = Store::Open({.path = dir.path() + "/ledger",
                            .extra_column_families = ReadModels::ColumnFamilies(),
                            .point_lookup_families = ReadModels::PointLookupFamilies()});
  if (!store) Die(store.error().message);
  if ((*store)->HeadPosition() != 0) Die("lag needs an empty data dir: " + dir.path());
  Metrics metrics;
  SystemClock clock;
  commands::Sequencer sequencer(**store, clock, metrics, {.batch_commands_max = options.batch});
  if (!sequencer.Start()) Die("cannot start the sequencer");
  auto models = ReadModels::Create(**store, metrics);
  if (!models) Die(models.error().message);
  if (auto started = (*models)->Start(); !started) Die(started.error().message);

  AckLog acks;
  std::atomic<bool> stop{false};
  std::vector<LagSamples> samples(kProjectionCount);
  std::thread sampler([&] { SampleLag(**store, **models, acks, stop, samples); });
  const double write_rate = DriveWrites(sequencer, options, acks);
  const auto writes_done = Clock::now();
  const std::uint64_t head = (*store)->HeadPosition();
  for (std::size_t i = 0; i < kProjectionCount; ++i) {
    (void)(*models)->Runner(static_cast<ProjectionId>(i)).WaitFor(head, 600'000'000);
  }
  const double catch_up = std::chrono::duration<double>(Clock::now() - writes_done).count();
  stop = true;
  sampler.join();
  PrintLag(samples, write_rate, catch_up, options);
  (*models)->Stop();
  sequencer.Stop();
  return 0;
}

// --- wallets ----------------------------------------------------------------------------------

struct WalletsOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string token;
  std::size_t connections = 64;
  double seconds = 10;
  std::uint64_t users = 1'000'000;  // Ids queried: user:0 .. user:<users-1>.
  std::uint64_t holders = 100'000;  // Of them, credited once before the run (user:0, 10, ...).
  transport::TlsClientOptions tls;  // --tls-ca FILE: HTTPS, verified against FILE.
};

struct Tally {
  std::vector<double> latencies_ms;
  std::map<std::string, std::uint64_t> outcomes;  // "200 wallets", "200 holders_bitmap", "503"...
};

// Holders are user:0, user:<stride>, user:<2 stride>, ...
std::uint64_t HolderStride(const WalletsOptions& options) {
  return options.holders == 0 ? 1 : std::max<std::uint64_t>(1, options.users / options.holders);
}

std::unique_ptr<transport::HttpClient> ConnectOrDie(const WalletsOptions& options) {
  auto client = transport::HttpClient::Connect(options.host, options.port, options.tls);
  if (!client) Die("cannot connect: " + client.error().message);
  return std::move(*client);
}

// Credits `holders` users spread over the id space (one asset change each), over all
// connections. Returns the last position written.
std::uint64_t SetUpHolders(const WalletsOptions& options) {
  std::atomic<std::uint64_t> next{0};
  std::atomic<std::uint64_t> last_position{0};
  const std::uint64_t stride = HolderStride(options);
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < options.connections; ++c) {
    threads.emplace_back([&] {
      auto client = ConnectOrDie(options);
      for (std::uint64_t i = next++; i < options.holders; i = next++) {
        const std::string body = R"({"account":"user:)" + std::to_string(i * stride) +
                                 R"(","asset":"CNY","amount":100,"source":"card","reason":"bench",)"
                                 R"("ref":"wallets"})";
        auto response = client->Send("POST", "/v1/assets/changes", body, options.token,
                                     {{"Idempotency-Key", "bench-wallets-" + std::to_string(i)}});
        if (!response || response->result_int() / 100 != 2) {
          Die("setup write failed: " + (response ? response->body() : response.error().message));
        }
        rapidjson::Document json;
        json.Parse(response->body().c_str());
        const std::uint64_t position = json["position"].GetUint64();
        for (std::uint64_t seen = last_position.load();
             seen < position && !last_position.compare_exchange_weak(seen, position);) {
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  return last_position.load();
}

// GETs `target_of(rng)` on every connection for `seconds`; returns the tally and requests/s.
template <typename TargetOf>
std::pair<Tally, double> Hammer(const WalletsOptions& options, TargetOf target_of) {
  std::vector<Tally> tallies(options.connections);
  std::vector<std::thread> threads;
  const auto deadline = Clock::now() + std::chrono::duration<double>(options.seconds);
  const auto started = Clock::now();
  for (std::size_t c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      auto client = ConnectOrDie(options);
      std::mt19937_64 rng(1000 + c);
      Tally& tally = tallies[c];
      while (Clock::now() < deadline) {
        const std::string target = target_of(rng);
        const auto sent = Clock::now();
        auto response = client->Send("GET", target, {}, options.token);
        tally.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        if (!response) {
          ++tally.outcomes["network error"];
          client = ConnectOrDie(options);
          continue;
        }
        std::string outcome = std::to_string(response->result_int());
        const auto served = response->body().find(R"("served_by":")");
        if (served != std::string::npos) {
          const auto from = served + 13;
          outcome += " " + response->body().substr(from, response->body().find('"', from) - from);
        }
        ++tally.outcomes[outcome];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  Tally all;
  for (Tally& tally : tallies) {
    all.latencies_ms.insert(all.latencies_ms.end(), tally.latencies_ms.begin(),
                            tally.latencies_ms.end());
    for (const auto& [outcome, count] : tally.outcomes) all.outcomes[outcome] += count;
  }
  return {std::move(all), static_cast<double>(all.latencies_ms.size()) / elapsed};
}

void PrintTally(const char* name, Tally& tally, double rate) {
  std::printf("  %-34s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  p999 %6.2f ms\n", name, rate,
              Percentile(tally.latencies_ms, 0.5), Percentile(tally.latencies_ms, 0.99),
              Percentile(tally.latencies_ms, 0.999));
  for (const auto& [outcome, count] : tally.outcomes) {
    std::printf("  %-34s   %s: %llu\n", "", outcome.c_str(), static_cast<unsigned long long>(count));
  }
}

int RunWallets(const WalletsOptions& options) {
  if (options.port == 0 || options.token.empty()) Die("wallets needs --http HOST:PORT and --token");
  const auto setup_started = Clock::now();
  const std::uint64_t position = options.holders > 0 ? SetUpHolders(options) : 0;
  std::printf("setup: %llu holders credited in %.1f s (last position %llu)\n",
              static_cast<unsigned long long>(options.holders),
              std::chrono::duration<double>(Clock::now() - setup_started).count(),
              static_cast<unsigned long long>(position));
  // Read-your-writes once, so the runs below see every holder.
  auto client = ConnectOrDie(options);
  auto ready = client->Send("GET",
                            "/v1/wallets/user:0?timeout_ms=60000&min_position=" +
                                std::to_string(position),
                            {}, options.token);
  if (!ready || ready->result_int() != 200) Die("the wallet projection did not catch up");

  const std::uint64_t stride = HolderStride(options);
  std::uniform_int_distribution<std::uint64_t> any_user(0, options.users - 1);
  std::uniform_int_distribution<std::uint64_t> any_holder(
      0, std::max<std::uint64_t>(options.holders, 1) - 1);
  std::printf("GET over %zu connections, %.0f s each run:\n", options.connections, options.seconds);
  auto [baseline, baseline_rate] =
      Hammer(options, [](std::mt19937_64&) { return std::string("/healthz"); });
  PrintTally("/healthz (baseline)", baseline, baseline_rate);
  if (options.holders > 0) {
    auto [holders, holders_rate] = Hammer(options, [&](std::mt19937_64& rng) {
      return "/v1/wallets/user:" + std::to_string(any_holder(rng) * stride);
    });
    PrintTally("/v1/wallets (holders only)", holders, holders_rate);
  }
  auto [mixed, mixed_rate] = Hammer(options, [&](std::mt19937_64& rng) {
    return "/v1/wallets/user:" + std::to_string(any_user(rng));
  });
  PrintTally("/v1/wallets (any user)", mixed, mixed_rate);
  return 0;
}

}  // namespace

int RunLagCommand(std::span<char* const> args) {
  LagOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--data") {
      options.data_dir = value;
    } else if (flag == "--seconds") {
      options.seconds = ParseNumber<double>(flag, value);
    } else if (flag == "--accounts") {
      options.accounts = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--batch") {
      options.batch = ParseNumber<std::size_t>(flag, value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (options.seconds <= 0 || options.accounts == 0 || options.batch == 0) {
    Usage("--seconds, --accounts and --batch must be positive");
  }
  return RunLag(options);
}

int RunWalletsCommand(std::span<char* const> args) {
  WalletsOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--http") {
      Endpoint endpoint = ParseEndpoint(flag, value);
      options.host = std::move(endpoint.host);
      options.port = endpoint.port;
    } else if (flag == "--tls-ca") {
      options.tls = {.enabled = true, .ca_file = value};
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--connections") {
      options.connections = ParseNumber<std::size_t>(flag, value);
    } else if (flag == "--seconds") {
      options.seconds = ParseNumber<double>(flag, value);
    } else if (flag == "--users") {
      options.users = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--holders") {
      options.holders = ParseNumber<std::uint64_t>(flag, value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (options.connections == 0 || options.seconds <= 0 || options.users == 0 ||
      options.holders > options.users) {
    Usage("--connections, --seconds, --users must be positive and --holders <= --users");
  }
  return RunWallets(options);
}

}  // namespace ledger::bench
