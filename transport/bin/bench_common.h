// What the ledger-bench subcommands share: flag parsing, errors, statistics, a command generator
// and a scratch directory. Only for the benchmark programs in transport/bin/.
#pragma once

#include <charconv>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "commands/command.h"
#include "ledger/scratch_dir.h"

namespace ledger::bench {

// Prints `message` (if any) and the usage of every subcommand, exits 2.
[[noreturn]] void Usage(const char* message);
// A failure while running (not a usage error): prints it, exits 1.
[[noreturn]] void Die(const std::string& message);

// `value` of `flag` as a number; a usage error unless all of it is one.
template <typename Number>
Number ParseNumber(const std::string& flag, const std::string& value) {
  Number number{};
  const char* end = value.data() + value.size();
  const auto [stop, error] = std::from_chars(value.data(), end, number);
  if (error != std::errc() || stop != end) Usage(("bad value for " + flag).c_str());
  return number;
}

// A HOST:PORT flag value.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};
// `value` of `flag` as HOST:PORT; a usage error otherwise.
[[nodiscard]] Endpoint ParseEndpoint(const std::string& flag, const std::string& value);

// The (flag, value) pairs of `args`. A flag in `switches` takes no value (its value is "").
[[nodiscard]] std::vector<std::pair<std::string, std::string>> FlagPairs(
    std::span<char* const> args, std::span<const std::string_view> switches = {});

// User + system CPU time of this process so far.
[[nodiscard]] double CpuSeconds();
[[nodiscard]] double Median(std::vector<double> values);
// The value below which `fraction` of `sorted` (ascending) lies, by nearest rank; 0 if empty.
[[nodiscard]] double Percentile(const std::vector<double>& sorted, double fraction);

// `count` ChangeAsset credits of "user:<random below accounts>" in CNY, with idempotency keys
// "append-<first_key + i>".
[[nodiscard]] std::vector<commands::Command> MakeChangeAssetCommands(std::size_t count,
                                                                     std::uint64_t accounts,
                                                                     std::uint64_t first_key,
                                                                     std::mt19937_64& rng);

// Raw RocksDB: sync=true WriteBatches of `batch` 200-byte values into a fresh database at
// `path`, for `seconds`. Returns puts/s; with `per_second`, also the puts of each whole second.
[[nodiscard]] double RawRocksDbRound(const std::string& path, double seconds, std::size_t batch,
                                     std::vector<std::uint64_t>* per_second = nullptr);

// `given` if not empty (created if missing), else a fresh directory under the temp dir that is
// removed again with this object.
class TempOrGiven {
 public:
  TempOrGiven(const std::string& given, std::string_view purpose);
  TempOrGiven(const TempOrGiven&) = delete;
  TempOrGiven& operator=(const TempOrGiven&) = delete;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  ScratchDir scratch_;  // Holds nothing when `given` was used.
  std::string path_;
};

// Subcommands in bench_reads.cc.
int RunLagCommand(std::span<char* const> args);
int RunWalletsCommand(std::span<char* const> args);
// Subcommand in bench_nats.cc: NATS JetStream publish throughput and latency.
int RunPublishCommand(std::span<char* const> args);
// Subcommands in bench_mix.cc: the command mix against a running ledgerd, the raw baseline.
int RunMixCommand(std::span<char* const> args);
int RunRawCommand(std::span<char* const> args);
// Subcommand in bench_search.cc: the search projection's indexing rate and query latency.
int RunSearchCommand(std::span<char* const> args);

}  // namespace ledger::bench
