// ledger-crash: the crash-consistency harness (docs/reliability.md, "Crash consistency").
//
//   ledger-crash [--rounds N] [--seed S] [--data DIR] [--keep] [--min-ms A] [--max-ms B]
//                [--clients C] [--rate R] [--full-every K] [--inject-wrong-ack]
//
// One nats-server (JetStream, temporary store, free loopback port) and one data dir for the whole
// run. Each round starts ledgerd (--nats, HTTP and the binary protocol on free loopback ports),
// drives a mixed load from C client threads over the binary protocol (asset changes, settlements,
// voucher grants, refunds, payouts, each with an idempotency key, and commands built to be
// rejected), records every acknowledged command (effective idempotency key, position, hash),
// SIGKILLs ledgerd after a delay drawn from the seed, restarts it, and checks:
//   a. every command acknowledged this round is in the log at its position with its hash and
//      key, and every event the round added belongs to a command the harness knows was written
//      (no stray or doubled event); every rejected command is absent;
//   b. resending every acknowledged command replays it (same position and hash, nothing
//      appended); the commands in flight at the kill, resent, are either replayed from the log as
//      it was at the restart or appended anew: the log decides, and a replayed one must be there;
//   c. the projections and the NATS publisher catch up with the head; ledgerd stops cleanly
//      (SIGTERM, exit 0); `ledger-replay verify` and `ledger-replay reconcile` (the write-side
//      state and every projection against a replay of the log) both exit 0;
//   d. the JetStream stream equals the log: the messages this round published are the log's
//      events of this round, same bytes and hash, in order, once each, and the stream holds
//      exactly head messages (so none twice anywhere).
// Every K rounds (--full-every) and in the last round, (a) and (d) cover the whole log and every
// command acknowledged since the start.
//
// --inject-wrong-ack is the harness's own test: it alters the hash of one acknowledged command as
// recorded in round 1, as if the server had acknowledged an event the log does not hold; the run
// must then report differences and exit 1 (ctest runs it so).
//
// Prints its seed first, a line per round, and a summary line. Exit 0 when every check passed,
// 1 on a difference (printed with its round and position; the run stops at the first round
// that has one), 2 on bad flags.
#include <rapidjson/document.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ledger/event.h"
#include "ledger/store.h"
#include "tests/crash/command_mix.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"
#include "tests/support/stream_log.h"
#include "tests/support/temp_dir.h"
#include "transport/binary_client.h"
#include "transport/http_client.h"
#include "transport/url.h"

#ifndef LEDGERD_PATH
#error "LEDGERD_PATH must name the ledgerd binary (tests/crash/CMakeLists.txt defines it)"
#endif
#ifndef LEDGER_REPLAY_PATH
#error "LEDGER_REPLAY_PATH must name the ledger-replay binary (tests/crash/CMakeLists.txt)"
#endif

namespace ledger::crash {
namespace {

using SteadyClock = std::chrono::steady_clock;
using testing::Process;
using transport::BinaryClient;
using transport::CommandReply;
using transport::HttpClient;

constexpr std::string_view kUsage =
    "usage: ledger-crash [--rounds N] [--seed S] [--data DIR] [--keep] [--min-ms A] [--max-ms B]\n"
    "                    [--clients C] [--rate R] [--full-every K] [--inject-wrong-ack]\n"
    "\n"
    "  --rounds N      rounds (start, load, SIGKILL, restart, check); default 10\n"
    "  --seed S        seed of every random choice; default from the clock (printed)\n"
    "  --data DIR      data dir to use (must not exist or be empty; never removed);\n"
    "                  default a temporary dir, removed at the end\n"
    "  --keep          keep the temporary data dir (its path is printed)\n"
    "  --min-ms A      shortest load before the kill, ms; default 50\n"
    "  --max-ms B      longest load before the kill, ms; default 1500\n"
    "  --clients C     client threads, 1..32; default 3\n"
    "  --rate R        commands per second over all clients, 1..100000; default 1500\n"
    "  --full-every K  check the whole log and stream every K rounds (and the last); default 50\n"
    "  --inject-wrong-ack  self-test: record one acknowledged hash wrongly in round 1 (must\n"
    "                  exit 1)\n"
    "\n"
    "Exit codes: 0 every check passed, 1 a difference was found, 2 usage error.\n";

constexpr std::size_t kBatchCommandsMax = 8;
constexpr std::size_t kResendBatchCommands = 512;
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kCatchUpTimeout = std::chrono::seconds(120);
constexpr auto kStopTimeout = std::chrono::seconds(60);
constexpr auto kAuditTimeout = std::chrono::seconds(600);

struct Flags {
  std::uint64_t rounds = 10;
  std::uint64_t seed = 0;
  std::string data;
  bool keep = false;
  std::uint64_t min_ms = 50;
  std::uint64_t max_ms = 1'500;
  std::uint64_t clients = 3;
  std::uint64_t rate = 1'500;
  std::uint64_t full_every = 50;
  bool inject_wrong_ack = false;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "ledger-crash: %s\n\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  std::exit(2);
}

std::uint64_t Number(std::string_view name, std::string_view value, std::uint64_t low,
                     std::uint64_t high) {
  std::uint64_t number = 0;
  if (!transport::ParseUnsigned(value, &number) || number < low || number > high) {
    UsageError(std::string(name) + " wants a number in " + std::to_string(low) + ".." +
               std::to_string(high) + ", not '" + std::string(value) + "'");
  }
  return number;
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  flags.seed = static_cast<std::uint64_t>(SteadyClock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string_view name = argv[i];
    if (name == "--help" || name == "-h") {
      std::fwrite(kUsage.data(), 1, kUsage.size(), stdout);
      std::exit(0);
    }
    if (name == "--keep" || name == "--inject-wrong-ack") {
      (name == "--keep" ? flags.keep : flags.inject_wrong_ack) = true;
      continue;
    }
    if (i + 1 >= argc) UsageError(std::string(name) + " needs a value");
    const std::string_view value = argv[++i];
    if (name == "--rounds")
      flags.rounds = Number(name, value, 1, 1'000'000);
    else if (name == "--seed")
      flags.seed = Number(name, value, 0, UINT64_MAX);
    else if (name == "--data")
      flags.data = std::string(value);
    else if (name == "--min-ms")
      flags.min_ms = Number(name, value, 0, 600'000);
    else if (name == "--max-ms")
      flags.max_ms = Number(name, value, 0, 600'000);
    else if (name == "--clients")
      flags.clients = Number(name, value, 1, 32);
    else if (name == "--rate")
      flags.rate = Number(name, value, 1, 100'000);
    else if (name == "--full-every")
      flags.full_every = Number(name, value, 1, 1'000'000);
    else
      UsageError("unknown flag " + std::string(name));
  }
  if (flags.min_ms > flags.max_ms) UsageError("--min-ms is above --max-ms");
  if (flags.keep && !flags.data.empty())
    UsageError("--keep is for the temporary dir; --data is kept");
  return flags;
}

// Differences found, each with its round and what and where.
class Findings {
 public:
  void Add(std::uint64_t round, const std::string& what) {
    std::lock_guard lock(mutex_);
    ++count_;
    if (count_ <= kShownMax)
      std::printf("DIFFERENCE round %llu: %s\n", static_cast<unsigned long long>(round),
                  what.c_str());
    if (count_ == kShownMax + 1) std::printf("(further differences counted, not shown)\n");
    std::fflush(stdout);
  }
  std::uint64_t count() const {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  static constexpr std::uint64_t kShownMax = 50;
  mutable std::mutex mutex_;
  std::uint64_t count_ = 0;
};

// --- ledgerd as a process ---------------------------------------------------------------------

struct Ledgerd {
  std::unique_ptr<Process> process;
  std::uint16_t http_port = 0;
  std::uint16_t binary_port = 0;
};

// The port after `prefix` at the start of `line`, or 0.
std::uint16_t PortAfter(const std::optional<std::string>& line, std::string_view prefix) {
  if (!line || line->rfind(prefix, 0) != 0) return 0;
  std::uint64_t port = 0;
  std::string_view rest = std::string_view(*line).substr(prefix.size());
  rest = rest.substr(0, rest.find_first_not_of("0123456789"));
  if (!transport::ParseUnsigned(rest, &port) || port == 0 || port > 65535) return 0;
  return static_cast<std::uint16_t>(port);
}

// Starts ledgerd on `data` with NATS, HTTP and the binary protocol on free loopback ports, and
// waits for both listen lines. Error: what went wrong, with ledgerd's stderr.
std::expected<Ledgerd, std::string> StartLedgerd(const std::string& data,
                                                 const std::string& nats_url) {
  Ledgerd ledgerd;
  ledgerd.process = std::make_unique<Process>(
      std::vector<std::string>{LEDGERD_PATH, "--data", data, "--nats", nats_url, "--listen",
                               "127.0.0.1:0", "--listen-binary", "127.0.0.1:0"});
  ledgerd.http_port =
      PortAfter(ledgerd.process->ReadLine(kStartTimeout), "ledgerd listening on http://127.0.0.1:");
  if (ledgerd.http_port != 0) {
    ledgerd.binary_port = PortAfter(ledgerd.process->ReadLine(kStartTimeout),
                                    "ledgerd binary protocol on 127.0.0.1:");
  }
  if (ledgerd.binary_port == 0) {
    return std::unexpected("ledgerd did not start listening; stderr: " + ledgerd.process->Stderr());
  }
  return ledgerd;
}

// GET `target` as JSON. Error: the network error, status or parse error.
std::expected<rapidjson::Document, std::string> GetJson(HttpClient& client,
                                                        const std::string& target,
                                                        const std::string& token) {
  auto response = client.Send("GET", target, {}, token);
  if (!response) return std::unexpected("GET " + target + ": " + response.error().message);
  if (response->result_int() != 200) {
    return std::unexpected("GET " + target + ": " + std::to_string(response->result_int()) + " " +
                           response->body());
  }
  rapidjson::Document document;
  document.Parse(response->body().c_str());
  if (document.HasParseError() || !document.IsObject()) {
    return std::unexpected("GET " + target + ": not a JSON object: " + response->body());
  }
  return document;
}

// The head once every projection and the NATS publisher have reached it (state running /
// publishing). Error: who is behind (or failed) after kCatchUpTimeout.
std::expected<std::uint64_t, std::string> WaitForCatchUp(HttpClient& client,
                                                         const std::string& token) {
  const auto deadline = SteadyClock::now() + kCatchUpTimeout;
  std::string behind;
  while (SteadyClock::now() < deadline) {
    auto document = GetJson(client, "/v1/projections", token);
    if (!document) return std::unexpected(document.error());
    const std::uint64_t head = (*document)["head"].GetUint64();
    behind.clear();
    for (const char* list : {"projections", "feeds"}) {
      for (const auto& feed : (*document)[list].GetArray()) {
        const std::string state = feed["state"].GetString();
        if (feed["position"].GetUint64() != head || (state != "running" && state != "publishing")) {
          behind += std::string(behind.empty() ? "" : ", ") + feed["name"].GetString() + " at " +
                    std::to_string(feed["position"].GetUint64()) + " (" + state + ")";
        }
      }
    }
    if ((*document)["feeds"].GetArray().Size() != 1) behind += " (no NATS publisher listed)";
    if (behind.empty()) return head;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::unexpected("not caught up after " + std::to_string(kCatchUpTimeout.count()) +
                         " s: " + behind);
}

// Runs `args` to its end. Error: its exit code and output when it did not exit 0.
std::expected<void, std::string> RunToSuccess(std::vector<std::string> args) {
  const std::string what = args[0] + " " + args[1];
  Process process(std::move(args));
  const std::vector<std::string> lines = process.ReadAllLines(kAuditTimeout);
  const std::optional<int> code = process.Wait(std::chrono::seconds(30));
  if (code == 0) return {};
  std::string output;
  for (const auto& line : lines) output += "\n    " + line;
  return std::unexpected(what + " exited " + (code ? std::to_string(*code) : "(still running)") +
                         ":" + output + "\n    stderr: " + process.Stderr());
}

// --- Load ---------------------------------------------------------------------------------------

// What one client thread saw in one round.
struct ClientLog {
  std::vector<std::pair<Sent, Acked>> acked;
  std::vector<Sent> in_flight;  // Sent, never answered: the kill came first.
  std::vector<Sent> rejected;
  std::vector<std::string> differences;
};

// Sends `batch` until it is answered or the connection fails (then every command is in flight).
// Refusals for overload or rate limit are retried; anything else refused is a difference.
std::optional<transport::BatchReply> Deliver(BinaryClient& client, const std::vector<Sent>& batch,
                                             ClientLog& log) {
  std::vector<commands::Command> commands;
  for (const Sent& sent : batch) commands.push_back(sent.command);
  while (true) {
    auto reply = client.Execute(commands);
    if (!reply) {
      log.in_flight.insert(log.in_flight.end(), batch.begin(), batch.end());
      return std::nullopt;
    }
    if (!reply->refused) return std::move(*reply);
    if (reply->refused->code != "overloaded" && reply->refused->code != "rate_limited") {
      log.differences.push_back("a batch was refused: " + reply->refused->code + " " +
                                reply->refused->message);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

// Records one command's answer during the load.
void Record(const Sent& sent, const CommandReply& reply, Generator& generator, ClientLog& log) {
  if (!reply.accepted) {
    log.rejected.push_back(sent);
    return;
  }
  if (reply.replayed) {
    log.differences.push_back("key " + sent.key + " was new but answered as replayed (position " +
                              std::to_string(reply.position) + ")");
  }
  if (sent.must_reject) {
    log.differences.push_back("key " + sent.key + " was built to be rejected but was accepted at " +
                              std::to_string(reply.position));
  }
  generator.Accepted(sent);
  log.acked.push_back({sent, Acked{sent.key, reply.position, reply.hash}});
}

// One client thread: batches of 1..kBatchCommandsMax commands at `rate` commands/s until the
// connection breaks (ledgerd was killed).
void RunClient(std::uint16_t port, const std::string& token, std::uint64_t seed,
               const std::string& prefix, double rate, const std::atomic<bool>& killed,
               ClientLog& log) {
  auto client = BinaryClient::Connect({.host = "127.0.0.1", .port = port, .token = token});
  if (!client) {
    if (!killed.load()) log.differences.push_back("cannot connect: " + client.error().message);
    return;
  }
  Generator generator(seed, prefix, (*client)->client_id());
  auto next = SteadyClock::now();
  while (true) {
    std::vector<Sent> batch;
    const std::size_t size = 1 + generator.Uniform(kBatchCommandsMax);
    for (std::size_t i = 0; i < size; ++i) batch.push_back(generator.Next());
    auto reply = Deliver(**client, batch, log);
    if (!reply) return;
    if (reply->replies.size() != batch.size()) {
      log.differences.push_back("a batch of " + std::to_string(batch.size()) + " got " +
                                std::to_string(reply->replies.size()) + " replies");
      return;
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Record(batch[i], reply->replies[i], generator, log);
    }
    next += std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(static_cast<double>(size) / rate));
    std::this_thread::sleep_until(next);
  }
}

// --- One round ----------------------------------------------------------------------------------

struct RoundResult {
  std::uint64_t acknowledged = 0;
  std::uint64_t in_flight_written = 0;  // In flight at the kill, found in the log by the resend.
  std::uint64_t in_flight_absent = 0;   // In flight at the kill, not in the log: appended now
                                        // or rejected now.
  std::uint64_t rejected = 0;
  std::uint64_t kill_ms = 0;
  std::uint64_t head = 0;
};

class Harness {
 public:
  Harness(Flags flags, std::string data, std::string nats_url)
      : flags_(std::move(flags)),
        data_(std::move(data)),
        nats_url_(std::move(nats_url)),
        rng_(flags_.seed) {}

  // Runs every round; stops after the first round with a difference.
  void Run();
  [[nodiscard]] std::uint64_t differences() const { return findings_.count(); }

 private:
  bool RunRound(std::uint64_t round, RoundResult& result);
  bool SetUp(std::uint64_t round, const Ledgerd& ledgerd, RoundResult& result);
  void Load(std::uint64_t round, const Ledgerd& ledgerd, RoundResult& result);
  bool Resend(std::uint64_t round, const Ledgerd& ledgerd, std::uint64_t head_at_restart,
              RoundResult& result);
  bool StopCleanly(std::uint64_t round, Ledgerd& ledgerd);
  void CheckLog(std::uint64_t round, bool full);
  void CheckAcknowledged(std::uint64_t round, const std::unordered_map<std::string, Acked>& in_log,
                         bool full);
  void CheckStream(std::uint64_t round, const Store& store, bool full);
  void Audit(std::uint64_t round);

  const Flags flags_;
  const std::string data_;
  const std::string nats_url_;
  std::string token_;
  std::mt19937_64 rng_;
  Findings findings_;
  std::uint64_t checked_head_ = 0;  // The head the previous round checked up to.
  // This round's commands: acknowledged (by the load or found by the resend), and those that
  // must be absent from the log (rejected during the load or on the resend).
  std::vector<std::pair<Sent, Acked>> round_acked_;
  std::vector<Sent> round_in_flight_;
  std::vector<Sent> round_absent_;
  std::vector<Acked> all_acked_;  // Since round 1, for the full checks.
  std::uint64_t total_acknowledged_ = 0;
  std::uint64_t kills_ = 0;
};

void Harness::Run() {
  const auto started = SteadyClock::now();
  std::uint64_t rounds = 0;
  for (std::uint64_t round = 1; round <= flags_.rounds; ++round) {
    const auto round_started = SteadyClock::now();
    RoundResult result;
    const bool passed = RunRound(round, result) && findings_.count() == 0;
    ++rounds;
    total_acknowledged_ += result.acknowledged;
    std::printf(
        "round %llu/%llu: acknowledged %llu (in flight at the kill: %llu written, %llu not; "
        "rejected %llu), kill after %llu ms, head %llu, %.1f s, %s\n",
        static_cast<unsigned long long>(round), static_cast<unsigned long long>(flags_.rounds),
        static_cast<unsigned long long>(result.acknowledged),
        static_cast<unsigned long long>(result.in_flight_written),
        static_cast<unsigned long long>(result.in_flight_absent),
        static_cast<unsigned long long>(result.rejected),
        static_cast<unsigned long long>(result.kill_ms),
        static_cast<unsigned long long>(result.head),
        std::chrono::duration<double>(SteadyClock::now() - round_started).count(),
        passed ? "checks passed" : "CHECKS FAILED");
    std::fflush(stdout);
    if (!passed) break;
  }
  std::printf(
      "summary: rounds %llu, commands acknowledged %llu, kills %llu, differences found %llu, "
      "seed %llu, %.0f s\n",
      static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(total_acknowledged_),
      static_cast<unsigned long long>(kills_), static_cast<unsigned long long>(findings_.count()),
      static_cast<unsigned long long>(flags_.seed),
      std::chrono::duration<double>(SteadyClock::now() - started).count());
  std::fflush(stdout);
}

bool Harness::RunRound(std::uint64_t round, RoundResult& result) {
  round_acked_.clear();
  round_in_flight_.clear();
  round_absent_.clear();
  auto ledgerd = StartLedgerd(data_, nats_url_);
  if (!ledgerd) {
    findings_.Add(round, "start: " + ledgerd.error());
    return false;
  }
  if (round == 1) {
    token_ = testing::AdminToken(data_ + "/tokens");
    if (!SetUp(round, *ledgerd, result)) return false;
  }
  Load(round, *ledgerd, result);

  auto restarted = StartLedgerd(data_, nats_url_);
  if (!restarted) {
    findings_.Add(round, "restart after the kill: " + restarted.error());
    return false;
  }
  auto http = HttpClient::Connect("127.0.0.1", restarted->http_port);
  if (!http) {
    findings_.Add(round, "HTTP connect after the restart: " + http.error().message);
    return false;
  }
  auto projections = GetJson(**http, "/v1/projections", token_);
  if (!projections) {
    findings_.Add(round, projections.error());
    return false;
  }
  const std::uint64_t head_at_restart = (*projections)["head"].GetUint64();
  if (!Resend(round, *restarted, head_at_restart, result)) return false;
  if (!StopCleanly(round, *restarted)) return false;

  const bool full = round == flags_.rounds || round % flags_.full_every == 0;
  CheckLog(round, full);
  Audit(round);
  result.head = checked_head_;
  return findings_.count() == 0;
}

// The campaigns and funded payers, before the clock of round 1 starts.
bool Harness::SetUp(std::uint64_t round, const Ledgerd& ledgerd, RoundResult& result) {
  auto client =
      BinaryClient::Connect({.host = "127.0.0.1", .port = ledgerd.binary_port, .token = token_});
  if (!client) {
    findings_.Add(round, "set-up connect: " + client.error().message);
    return false;
  }
  const std::vector<Sent> setup = SetUpCommands((*client)->client_id());
  ClientLog log;
  auto reply = Deliver(**client, setup, log);
  if (!reply || reply->replies.size() != setup.size()) {
    findings_.Add(round, "set-up batch not answered");
    return false;
  }
  for (std::size_t i = 0; i < setup.size(); ++i) {
    const CommandReply& answer = reply->replies[i];
    if (!answer.accepted) {
      findings_.Add(round, "set-up command " + setup[i].key + " rejected: " + answer.code);
      return false;
    }
    round_acked_.push_back({setup[i], Acked{setup[i].key, answer.position, answer.hash}});
  }
  result.acknowledged += setup.size();
  return true;
}

// The clients' load until the SIGKILL, a delay drawn from the seed after it started.
void Harness::Load(std::uint64_t round, const Ledgerd& ledgerd, RoundResult& result) {
  result.kill_ms = std::uniform_int_distribution<std::uint64_t>(flags_.min_ms, flags_.max_ms)(rng_);
  const std::uint64_t clients_seed = rng_();
  std::atomic<bool> killed{false};
  std::vector<ClientLog> logs(flags_.clients);
  std::vector<std::thread> threads;
  const double rate = static_cast<double>(flags_.rate) / static_cast<double>(flags_.clients);
  for (std::size_t c = 0; c < flags_.clients; ++c) {
    const std::string prefix =
        "s" + std::to_string(flags_.seed) + "-r" + std::to_string(round) + "-c" + std::to_string(c);
    threads.emplace_back([&, c, prefix] {
      RunClient(ledgerd.binary_port, token_, clients_seed + c, prefix, rate, killed, logs[c]);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(result.kill_ms));
  killed.store(true);
  ledgerd.process->Signal(SIGKILL);
  ++kills_;
  const std::optional<int> code = ledgerd.process->Wait(std::chrono::seconds(30));
  if (code != 128 + SIGKILL) {
    findings_.Add(round, "ledgerd did not die of the SIGKILL (status " +
                             (code ? std::to_string(*code) : "still running") +
                             "); stderr: " + ledgerd.process->Stderr());
  }
  for (auto& thread : threads) thread.join();
  for (ClientLog& log : logs) {
    for (const auto& difference : log.differences) findings_.Add(round, difference);
    result.acknowledged += log.acked.size();
    result.rejected += log.rejected.size();
    round_acked_.insert(round_acked_.end(), log.acked.begin(), log.acked.end());
    round_in_flight_.insert(round_in_flight_.end(), log.in_flight.begin(), log.in_flight.end());
    round_absent_.insert(round_absent_.end(), log.rejected.begin(), log.rejected.end());
  }
  if (flags_.inject_wrong_ack && round == 1) round_acked_.back().second.hash[0] ^= 1;
}

// Resends every command this round acknowledged (each must be replayed as acknowledged) and the
// ones in flight at the kill (replayed: they are in the log as it was at the restart; appended
// or rejected now: they were not).
bool Harness::Resend(std::uint64_t round, const Ledgerd& ledgerd, std::uint64_t head_at_restart,
                     RoundResult& result) {
  std::vector<Sent> resend;
  for (const auto& [sent, acked] : round_acked_) resend.push_back(sent);
  const std::size_t acked_count = resend.size();
  resend.insert(resend.end(), round_in_flight_.begin(), round_in_flight_.end());
  auto client =
      BinaryClient::Connect({.host = "127.0.0.1", .port = ledgerd.binary_port, .token = token_});
  if (!client) {
    findings_.Add(round, "resend connect: " + client.error().message);
    return false;
  }
  std::vector<CommandReply> replies;
  for (std::size_t start = 0; start < resend.size(); start += kResendBatchCommands) {
    const std::size_t end = std::min(resend.size(), start + kResendBatchCommands);
    const std::vector<Sent> batch(resend.begin() + static_cast<std::ptrdiff_t>(start),
                                  resend.begin() + static_cast<std::ptrdiff_t>(end));
    ClientLog log;
    auto reply = Deliver(**client, batch, log);
    if (!reply || reply->replies.size() != batch.size()) {
      findings_.Add(round, "a resend batch was not answered in full");
      return false;
    }
    replies.insert(replies.end(), reply->replies.begin(), reply->replies.end());
  }
  for (std::size_t i = 0; i < acked_count; ++i) {
    const Acked& acked = round_acked_[i].second;
    const CommandReply& reply = replies[i];
    if (!reply.accepted || !reply.replayed || reply.position != acked.position ||
        reply.hash != acked.hash) {
      findings_.Add(round,
                    "resending acknowledged key " + acked.key + " (position " +
                        std::to_string(acked.position) + ") after the restart: " +
                        (reply.accepted
                             ? std::string(reply.replayed ? "replayed" : "appended") + " at " +
                                   std::to_string(reply.position) + " hash " + HashToHex(reply.hash)
                             : "rejected " + reply.code + " " + reply.message));
    }
  }
  for (std::size_t i = acked_count; i < resend.size(); ++i) {
    const Sent& sent = resend[i];
    const CommandReply& reply = replies[i];
    if (!reply.accepted) {
      if (reply.code == "idempotency_conflict") {
        findings_.Add(round, "in-flight key " + sent.key + " resent unchanged: " + reply.message);
      }
      round_absent_.push_back(sent);
      ++result.in_flight_absent;
      continue;
    }
    const bool in_log_at_restart = reply.position <= head_at_restart;
    if (reply.replayed != in_log_at_restart) {
      findings_.Add(round, "in-flight key " + sent.key +
                               " resent: " + (reply.replayed ? "replayed" : "appended") + " at " +
                               std::to_string(reply.position) +
                               " but the head at the restart was " +
                               std::to_string(head_at_restart));
    }
    ++(reply.replayed ? result.in_flight_written : result.in_flight_absent);
    round_acked_.push_back({sent, Acked{sent.key, reply.position, reply.hash}});
  }
  return true;
}

// Waits for the projections and the publisher to reach the head, then stops ledgerd with
// SIGTERM; it must exit 0.
bool Harness::StopCleanly(std::uint64_t round, Ledgerd& ledgerd) {
  auto http = HttpClient::Connect("127.0.0.1", ledgerd.http_port);
  if (!http) {
    findings_.Add(round, "HTTP connect: " + http.error().message);
    return false;
  }
  auto head = WaitForCatchUp(**http, token_);
  if (!head) {
    findings_.Add(round, "catching up after the restart: " + head.error());
    return false;
  }
  ledgerd.process->Signal(SIGTERM);
  const std::optional<int> code = ledgerd.process->Wait(kStopTimeout);
  if (code != 0) {
    findings_.Add(round, "ledgerd stopped with status " +
                             (code ? std::to_string(*code) : "(still running)") +
                             "; stderr: " + ledgerd.process->Stderr());
    return false;
  }
  return true;
}

// Effective key -> (position, hash) of the events from `from` to the head. An event without a
// key (the harness sends none) and a key met twice are added to `differences`. Error: the log
// could not be read.
std::expected<std::unordered_map<std::string, Acked>, std::string> ReadKeys(
    const Store& store, std::uint64_t from, std::vector<std::string>& differences) {
  std::unordered_map<std::string, Acked> in_log;
  for (std::uint64_t position = from; position <= store.HeadPosition();) {
    auto events = store.ReadFrom(position, 4096);
    if (!events || events->empty()) {
      return std::unexpected("reading the log at " + std::to_string(position) + ": " +
                             (events ? "no event" : events.error().message));
    }
    for (const StoredEvent& stored : *events) {
      const Envelope& envelope = stored.event.envelope;
      if (envelope.idempotency_key.empty()) {
        differences.push_back("event " + std::to_string(envelope.position) +
                              " has no idempotency key: the harness sends none such");
      }
      const auto [it, added] =
          in_log.try_emplace(envelope.idempotency_key,
                             Acked{envelope.idempotency_key, envelope.position, envelope.hash});
      if (!added) {
        differences.push_back("key " + envelope.idempotency_key + " is in the log twice: at " +
                              std::to_string(it->second.position) + " and " +
                              std::to_string(envelope.position));
      }
      position = envelope.position + 1;
    }
  }
  return in_log;
}

// (a) and (d) against the stopped data dir, opened read-only.
void Harness::CheckLog(std::uint64_t round, bool full) {
  auto store = Store::Open({.path = data_, .read_only = true});
  if (!store) {
    findings_.Add(round, "opening the data dir read-only: " + store.error().message);
    return;
  }
  std::vector<std::string> differences;
  auto in_log = ReadKeys(**store, full ? 1 : checked_head_ + 1, differences);
  for (const auto& difference : differences) findings_.Add(round, difference);
  if (!in_log) {
    findings_.Add(round, in_log.error());
    return;
  }
  for (const auto& [sent, acked] : round_acked_) all_acked_.push_back(acked);
  CheckAcknowledged(round, *in_log, full);
  CheckStream(round, **store, full);
  checked_head_ = (*store)->HeadPosition();
}

// (a): each acknowledged command (this round's, or all with `full`) at its position with its
// hash; no rejected command; no event that is not an acknowledged one.
void Harness::CheckAcknowledged(std::uint64_t round,
                                const std::unordered_map<std::string, Acked>& in_log, bool full) {
  std::set<std::string> known;
  auto expect_at = [&](const Acked& acked) {
    known.insert(acked.key);
    const auto it = in_log.find(acked.key);
    if (it == in_log.end()) {
      findings_.Add(round, "acknowledged key " + acked.key + " (position " +
                               std::to_string(acked.position) + ") is not in the log");
    } else if (it->second.position != acked.position || it->second.hash != acked.hash) {
      findings_.Add(round, "acknowledged key " + acked.key + " at " +
                               std::to_string(acked.position) + " hash " + HashToHex(acked.hash) +
                               " is in the log at " + std::to_string(it->second.position) +
                               " hash " + HashToHex(it->second.hash));
    }
  };
  if (full) {
    for (const Acked& acked : all_acked_) expect_at(acked);
  } else {
    for (const auto& [sent, acked] : round_acked_) expect_at(acked);
  }
  for (const Sent& sent : round_absent_) {
    if (const auto it = in_log.find(sent.key); it != in_log.end()) {
      findings_.Add(round, "rejected key " + sent.key + " is in the log at " +
                               std::to_string(it->second.position));
    }
  }
  for (const auto& [key, event] : in_log) {
    if (!known.contains(key)) {
      findings_.Add(round, "event " + std::to_string(event.position) + " (key " + key +
                               ") was neither acknowledged nor found by the resend");
    }
  }
}

// (d): the stream's messages from `from` on are the log's events from there, and the stream
// holds exactly head messages.
void Harness::CheckStream(std::uint64_t round, const Store& store, bool full) {
  const std::uint64_t from = full ? 1 : checked_head_ + 1;
  auto messages = testing::ReadStream(nats_url_, from);
  if (!messages) {
    findings_.Add(
        round, "reading the stream from " + std::to_string(from) + ": " + messages.error().message);
    return;
  }
  if (!messages->empty() && (*messages)[0].sequence != from) {
    findings_.Add(round, "the stream's message at sequence " +
                             std::to_string((*messages)[0].sequence) + " was asked for from " +
                             std::to_string(from));
  }
  const std::string difference = testing::CompareStreamWithLog(*messages, store, from);
  if (!difference.empty()) findings_.Add(round, "stream vs log: " + difference);
}

// (c): ledger-replay verify and reconcile on the stopped data dir.
void Harness::Audit(std::uint64_t round) {
  for (const char* verb : {"verify", "reconcile"}) {
    auto ran = RunToSuccess({LEDGER_REPLAY_PATH, verb, "--data", data_});
    if (!ran) findings_.Add(round, ran.error());
  }
}

// The data dir: --data (which must be new or empty), or a temporary one.
std::string PrepareDataDir(const Flags& flags, std::optional<testing::TempDir>& temp) {
  if (!flags.data.empty()) {
    std::error_code error;
    if (std::filesystem::exists(flags.data, error) &&
        !std::filesystem::is_empty(flags.data, error)) {
      UsageError("--data " + flags.data + " is not empty: give a new or empty dir");
    }
    return flags.data;
  }
  if (flags.keep) {
    std::string pattern = std::filesystem::temp_directory_path().string() + "/ledger-crash-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) UsageError("cannot create a temporary dir");
    return pattern + "/data";
  }
  temp.emplace();
  return temp->Sub("data");
}

}  // namespace
}  // namespace ledger::crash

int main(int argc, char** argv) {
  using namespace ledger::crash;
  std::signal(SIGPIPE, SIG_IGN);
  const Flags flags = ParseFlags(argc, argv);
  std::printf(
      "ledger-crash: seed %llu (replay with --seed %llu), %llu rounds, kill after %llu..%llu ms, "
      "%llu clients at %llu commands/s\n",
      static_cast<unsigned long long>(flags.seed), static_cast<unsigned long long>(flags.seed),
      static_cast<unsigned long long>(flags.rounds), static_cast<unsigned long long>(flags.min_ms),
      static_cast<unsigned long long>(flags.max_ms), static_cast<unsigned long long>(flags.clients),
      static_cast<unsigned long long>(flags.rate));
  std::optional<ledger::testing::TempDir> temp;
  const std::string data = PrepareDataDir(flags, temp);
  std::printf("ledger-crash: data dir %s%s\n", data.c_str(), temp ? " (temporary)" : " (kept)");
  std::fflush(stdout);
  ledger::testing::NatsServer nats;  // Aborts when nats-server cannot start.
  Harness harness(flags, data, nats.url());
  harness.Run();
  return harness.differences() == 0 ? 0 : 1;
}
