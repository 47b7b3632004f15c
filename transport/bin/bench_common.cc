#include "transport/bin/bench_common.h"

#include <rocksdb/db.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "ledger/store.h"

namespace ledger::bench {

void Usage(const char* message) {
  if (message != nullptr) std::fprintf(stderr, "ledger-bench: %s\n", message);
  std::fprintf(stderr,
               "usage: ledger-bench append [--data DIR] [--seconds S] [--rounds R] "
               "[--accounts N] [--batch B]\n"
               "       ledger-bench project --data DIR [--rounds R] [--projection NAME|all]\n"
               "       ledger-bench holders-memory [--holders N] [--max-id M] [--seed S] "
               "[--through-projection]\n"
               "       ledger-bench lag [--data DIR] [--seconds S] [--accounts N] [--batch B]\n"
               "       ledger-bench wallets --http HOST:PORT --token TOKEN [--connections C] "
               "[--seconds S] [--users N] [--holders H] [--tls-ca FILE]\n"
               "       ledger-bench publish [--nats URL] [--events N] [--rounds R] "
               "[--in-flight W] [--rate R] [--seconds S]\n"
               "       ledger-bench search [--data DIR] [--records N] [--merchants M] "
               "[--rounds R] [--queries Q] [--seed S]\n"
               "       ledger-bench mix (--http HOST:PORT | --binary HOST:PORT [--http HOST:PORT]) "
               "--token TOKEN\n"
               "                        [--connections N] [--seconds S] [--warmup S] [--batch B] "
               "[--pipeline P] [--rate R]\n"
               "                        [--csv FILE] [--label NAME] [--users N] [--payers N] "
               "[--merchants N] [--seed S] [--tls-ca FILE]\n"
               "                        [--mix change=60,settle=20,grant=10,refund_payout=5,query=5]\n"
               "       ledger-bench raw [--data DIR] [--seconds S] [--rounds R] [--batch B] "
               "[--csv FILE] [--label NAME]\n");
  std::exit(2);
}

void Die(const std::string& message) {
  std::fprintf(stderr, "ledger-bench: %s\n", message.c_str());
  std::exit(1);
}

std::vector<std::pair<std::string, std::string>> FlagPairs(
    std::span<char* const> args, std::span<const std::string_view> switches) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    if (std::find(switches.begin(), switches.end(), flag) != switches.end()) {
      pairs.emplace_back(std::move(flag), "");
      continue;
    }
    if (i + 1 >= args.size()) Usage(("missing value for " + flag).c_str());
    pairs.emplace_back(std::move(flag), args[++i]);
  }
  return pairs;
}

Endpoint ParseEndpoint(const std::string& flag, const std::string& value) {
  const auto colon = value.rfind(':');
  if (colon == std::string::npos) Usage((flag + " wants HOST:PORT").c_str());
  return {value.substr(0, colon), ParseNumber<std::uint16_t>(flag, value.substr(colon + 1))};
}

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](timeval t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double Percentile(const std::vector<double>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(sorted.size() - 1));
  return sorted[rank];
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::vector<commands::Command> MakeChangeAssetCommands(std::size_t count, std::uint64_t accounts,
                                                       std::uint64_t first_key,
                                                       std::mt19937_64& rng) {
  std::vector<commands::Command> commands(count);
  std::uniform_int_distribution<std::uint64_t> account(0, accounts - 1);
  std::uniform_int_distribution<std::int64_t> amount(1, 10'000);
  for (std::size_t i = 0; i < count; ++i) {
    auto& command = commands[i];
    command.context.client_id = "bench";
    command.context.idempotency_key = "append-" + std::to_string(first_key + i);
    command.body = commands::ChangeAsset{.account = "user:" + std::to_string(account(rng)),
                                         .asset = "CNY",
                                         .amount = amount(rng),
                                         .source = "topup",
                                         .reason = "top-up",
                                         .ref = "bench"};
  }
  return commands;
}

double RawRocksDbRound(const std::string& path, double seconds, std::size_t batch,
                       std::vector<std::uint64_t>* per_second) {
  using Clock = std::chrono::steady_clock;
  rocksdb::Options options;
  options.create_if_missing = true;
  options.write_buffer_size = 128u << 20;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, path, &raw).ok()) Die("cannot open the baseline database");
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions write_options;
  write_options.sync = true;
  const std::string value(200, 'v');
  std::uint64_t key_number = 0;
  std::string key;
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::duration<double>(seconds);
  std::uint64_t puts = 0;
  while (Clock::now() < deadline) {
    rocksdb::WriteBatch write_batch;
    for (std::size_t i = 0; i < batch; ++i) {
      key.clear();
      AppendBigEndian64(++key_number, &key);
      write_batch.Put(key, value);
    }
    if (!db->Write(write_options, &write_batch).ok()) Die("baseline write failed");
    puts += batch;
    if (per_second != nullptr) {
      const auto second = static_cast<std::size_t>(
          std::chrono::duration<double>(Clock::now() - started).count());
      if (per_second->size() <= second) per_second->resize(second + 1);
      (*per_second)[second] += batch;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
  return static_cast<double>(puts) / elapsed;
}

TempOrGiven::TempOrGiven(const std::string& given, std::string_view purpose) : path_(given) {
  if (given.empty()) {
    auto scratch = ScratchDir::Create("bench-" + std::string(purpose));
    if (!scratch) Die(scratch.error().message);
    scratch_ = std::move(*scratch);
    path_ = scratch_.path();
    return;
  }
  std::error_code error;
  std::filesystem::create_directories(path_, error);
  if (error) Die("cannot create " + path_ + ": " + error.message());
}

}  // namespace ledger::bench
