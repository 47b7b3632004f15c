// ledgerd on a filesystem that fills up (a small tmpfs, mounted by the test: it needs root and
// FAILS, never skips, when it cannot mount). Writes until commands answer 503 disk_full, frees
// space, and checks that ledgerd accepts commands again by itself, that every acknowledged
// command is in the log and identical, that the projections caught up, and that
// `ledger-replay verify` passes after a clean stop. And a disk that is already full when ledgerd
// starts: it refuses to start with the reason, and starts with everything once space returns.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <rapidjson/document.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/transport/acked_commands.h"
#include "tests/transport/binaries.h"
#include "transport/http_client.h"

namespace ledger::transport {
namespace {

using ::ledger::testing::AdminToken;
using ::ledger::testing::Process;
using testing::kLedgerdPath;
using testing::kLedgerReplayPath;

// Runs a short command (mount, umount); its exit status and stderr.
std::pair<std::optional<int>, std::string> RunCommand(std::vector<std::string> args) {
  Process process(std::move(args));
  auto status = process.Wait(std::chrono::seconds(30));
  return {status, process.Stderr()};
}

// A tmpfs mounted on `dir` for the test's lifetime; unmounted (lazily if still busy) in the
// destructor, so a failing test leaves no mount behind.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    ::mkdir(dir_.c_str(), 0755);
    auto [status, error] =
        RunCommand({"/bin/mount", "-t", "tmpfs", "-o", "size=" + size, "ledger-disk-full", dir_});
    mounted_ = status == 0;
    error_ = "mount -t tmpfs -o size=" + size + " on " + dir_ + " failed (exit " +
             (status ? std::to_string(*status) : std::string("timeout")) + "): " + error +
             "This test needs root (CAP_SYS_ADMIN) to mount a small tmpfs; run it as root.";
  }
  ~TmpfsMount() {
    if (!mounted_) return;
    if (RunCommand({"/bin/umount", dir_}).first != 0) RunCommand({"/bin/umount", "-l", dir_});
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  [[nodiscard]] bool mounted() const { return mounted_; }
  [[nodiscard]] const std::string& error() const { return error_; }
  [[nodiscard]] bool Resize(const std::string& size) {
    return RunCommand({"/bin/mount", "-o", "remount,size=" + size, dir_}).first == 0;
  }
  [[nodiscard]] std::uint64_t FreeBytes() const {
    struct statvfs stats {};
    if (::statvfs(dir_.c_str(), &stats) != 0) return 0;
    return static_cast<std::uint64_t>(stats.f_bavail) * stats.f_frsize;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Starts ledgerd on `data`, port 0; returns the port from its listen line (0 on failure).
std::uint16_t StartLedgerd(std::optional<Process>& process, const std::string& data) {
  process.emplace(std::vector<std::string>{kLedgerdPath, "--data", data, "--listen",
                                           "127.0.0.1:0", "--http-threads", "2"});
  const auto line = process->ReadLine(std::chrono::seconds(30));
  if (!line) return 0;
  const std::string prefix = "ledgerd listening on http://127.0.0.1:";
  if (line->rfind(prefix, 0) != 0) return 0;
  return static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size())));
}

using Acked = testing::AckedCommand;

std::string CreditBody(int writer, std::int64_t amount, const std::string& key) {
  return R"({"account":"user:)" + std::to_string(writer) + R"(","asset":"CNY","amount":)" +
         std::to_string(amount) +
         R"(,"source":"topup","reason":"disk full test, padded so that the disk fills sooner )"
         R"(................................................................","ref":")" +
         key + "\"}";
}

// A metric's value in a /metrics page (-1 if absent).
double MetricValue(const std::string& page, const std::string& name) {
  const std::string prefix = "\n" + name + " ";
  const std::size_t at = page.find(prefix);
  if (at == std::string::npos) return -1;
  return std::stod(page.substr(at + prefix.size()));
}

// The acknowledged command of a 201 answer to `body`.
Acked AckedFrom(const std::string& key, const std::string& body, std::int64_t amount,
                const std::string& response) {
  rapidjson::Document json;
  json.Parse(response.c_str());
  return Acked{key, body, json["position"].GetUint64(), amount};
}

// Stops ledgerd with SIGTERM (it must exit 0), then `ledger-replay verify` must pass.
void ExpectCleanStopAndVerify(Process& ledgerd, const std::string& data) {
  ledgerd.Signal(SIGTERM);
  EXPECT_EQ(ledgerd.Wait(std::chrono::seconds(30)), 0) << ledgerd.Stderr();
  Process verify({kLedgerReplayPath, "verify", "--data", data});
  const auto verified = verify.Wait(std::chrono::seconds(60));
  std::string report;
  for (const auto& line : verify.ReadAllLines(std::chrono::seconds(1))) report += line + "\n";
  EXPECT_EQ(verified, 0) << report << verify.Stderr();
}

constexpr int kWriters = 4;

TEST(LedgerdDiskFullTest, RefusesWith503DiskFullLosesNothingAndResumesByItself) {
  ::ledger::testing::TempDir dir;
  TmpfsMount mount(dir.Sub("mnt"), "64m");
  ASSERT_TRUE(mount.mounted()) << mount.error();
  const std::string data = dir.Sub("mnt") + "/data";

  std::optional<Process> ledgerd;
  const std::uint16_t port = StartLedgerd(ledgerd, data);
  ASSERT_NE(port, 0) << "ledgerd did not start; stderr: " << ledgerd->Stderr();
  const std::string token = AdminToken(data + "/tokens");
  ASSERT_EQ(token.size(), 64u);

  // Leave about 2 MiB free: the filler takes the rest of the tmpfs.
  const std::string filler = dir.Sub("mnt") + "/filler";
  {
    const std::uint64_t free_bytes = mount.FreeBytes();
    ASSERT_GT(free_bytes, 4u << 20);
    std::ofstream out(filler, std::ios::binary);
    const std::string chunk(1 << 20, 'f');
    for (std::uint64_t written = 0; written + (3u << 20) < free_bytes; written += chunk.size()) {
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    }
    ASSERT_TRUE(out.good()) << "could not write the filler file";
  }

  // Writers until the disk is full: every answer is 201 or 503 disk_full with Retry-After.
  std::vector<std::vector<Acked>> acked(kWriters);
  std::atomic<int> disk_full_answers{0};
  std::mutex unexpected_mutex;
  std::vector<std::string> unexpected;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto client = HttpClient::Connect("127.0.0.1", port);
      if (!client) return;
      for (int i = 0; !stop.load(); ++i) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        const std::string body = CreditBody(w, i + 1, key);
        auto response = (*client)->Send("POST", "/v1/assets/changes", body, token,
                                        {{"Idempotency-Key", key}});
        if (!response) {
          std::lock_guard lock(unexpected_mutex);
          unexpected.push_back(key + ": " + response.error().message);
          return;
        }
        if (response->result_int() == 201) {
          acked[w].push_back(AckedFrom(key, body, i + 1, response->body()));
          continue;
        }
        const bool disk_full = response->result_int() == 503 &&
                               response->body().find("\"disk_full\"") != std::string::npos &&
                               (*response)[boost::beast::http::field::retry_after] == "1";
        if (!disk_full) {
          std::lock_guard lock(unexpected_mutex);
          unexpected.push_back(key + ": " + std::to_string(response->result_int()) + " " +
                               response->body());
          return;
        }
        if (disk_full_answers.fetch_add(1) + 1 >= 50) stop = true;
      }
    });
  }
  const auto fill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!stop.load() && std::chrono::steady_clock::now() < fill_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (auto& writer : writers) writer.join();
  EXPECT_TRUE(unexpected.empty()) << "answers other than 201 or 503 disk_full: " << unexpected[0]
                                  << "\nledgerd stderr: " << ledgerd->Stderr();
  ASSERT_GE(disk_full_answers.load(), 50) << "the disk never filled; stderr: "
                                          << ledgerd->Stderr();
  std::size_t acked_count = 0;
  for (const auto& list : acked) acked_count += list.size();
  ASSERT_GT(acked_count, 0u);
  std::fprintf(stderr, "[disk full] %zu commands acknowledged, %d answered 503 disk_full\n",
               acked_count, disk_full_answers.load());

  auto client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.has_value());
  // Still full: refused at once, reads still answer, the state shows in /metrics.
  auto refused = (*client)->Send("POST", "/v1/assets/changes", CreditBody(0, 1, "late"), token,
                                 {{"Idempotency-Key", "late"}});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 503u) << refused->body();
  EXPECT_NE(refused->body().find("\"disk_full\""), std::string::npos) << refused->body();
  auto metrics = (*client)->Send("GET", "/metrics", {}, token);
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(MetricValue(metrics->body(), "ledger_disk_full"), 1) << metrics->body();
  EXPECT_EQ(MetricValue(metrics->body(), "ledger_writes_stopped"), 1);
  EXPECT_NE(ledgerd->Stderr().find("ledgerd: writes stopped"), std::string::npos)
      << ledgerd->Stderr();

  // Free space: remove the filler and grow the tmpfs (RocksDB resumes once its largest write
  // buffer, 128 MiB, fits). ledgerd must accept commands again by itself.
  ASSERT_EQ(std::remove(filler.c_str()), 0);
  ASSERT_TRUE(mount.Resize("512m"));
  const auto freed = std::chrono::steady_clock::now();
  std::optional<Acked> after;
  for (int attempt = 0; std::chrono::steady_clock::now() - freed < std::chrono::seconds(20);
       ++attempt) {
    const std::string key = "after-" + std::to_string(attempt);
    const std::string body = CreditBody(0, 7, key);
    auto response = (*client)->Send("POST", "/v1/assets/changes", body, token,
                                    {{"Idempotency-Key", key}});
    ASSERT_TRUE(response.has_value());
    if (response->result_int() == 201) {
      after = AckedFrom(key, body, 7, response->body());
      break;
    }
    ASSERT_EQ(response->result_int(), 503u) << response->body();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(after.has_value()) << "ledgerd did not resume within 20 s of freeing space; stderr: "
                                 << ledgerd->Stderr();
  std::fprintf(stderr, "[disk full] accepting again %.1f s after space was freed\n",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - freed).count());
  acked[0].push_back(*after);
  metrics = (*client)->Send("GET", "/metrics", {}, token);
  ASSERT_TRUE(metrics.has_value());
  EXPECT_EQ(MetricValue(metrics->body(), "ledger_disk_full"), 0);
  EXPECT_GE(MetricValue(metrics->body(), "ledger_storage_resumes_total"), 1);
  EXPECT_NE(ledgerd->Stderr().find("ledgerd: writes resumed"), std::string::npos);

  // Every acknowledged command is in the log, identical; a retry is a replay of it.
  std::map<int, std::int64_t> balances;
  for (int w = 0; w < kWriters; ++w) {
    for (const Acked& command : acked[w]) {
      balances[w] += command.amount;
      ASSERT_NO_FATAL_FAILURE(testing::ExpectAckedCommandIntact(**client, command, token));
    }
  }
  // The projections paused on the full disk and caught up: each balance is exactly the sum of
  // the acknowledged credits (nothing refused was applied).
  for (const auto& [w, balance] : balances) {
    auto account = (*client)->Send("GET",
                                   "/v1/accounts/user:" + std::to_string(w) + "?min_position=" +
                                       std::to_string(after->position) + "&timeout_ms=20000",
                                   {}, token);
    ASSERT_TRUE(account.has_value());
    ASSERT_EQ(account->result_int(), 200u) << account->body();
    EXPECT_NE(account->body().find("\"balance\":" + std::to_string(balance)), std::string::npos)
        << "user:" << w << " expected " << balance << ": " << account->body();
  }

  ExpectCleanStopAndVerify(*ledgerd, data);
}

// Fills the filesystem holding `path` to the last block: a file written until ENOSPC.
void FillTheDisk(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path << ": " << std::strerror(errno);
  std::setvbuf(file, nullptr, _IONBF, 0);
  const std::string block(4096, 'f');
  while (std::fwrite(block.data(), 1, block.size(), file) == block.size()) {
  }
  std::fclose(file);
}

TEST(LedgerdDiskFullTest, RefusesToStartOnAFullDiskAndStartsOnceSpaceReturns) {
  ::ledger::testing::TempDir dir;
  TmpfsMount mount(dir.Sub("mnt"), "64m");
  ASSERT_TRUE(mount.mounted()) << mount.error();
  const std::string data = dir.Sub("mnt") + "/data";

  // Some acknowledged commands, then a clean stop.
  std::vector<Acked> acked;
  std::optional<Process> ledgerd;
  std::uint16_t port = StartLedgerd(ledgerd, data);
  ASSERT_NE(port, 0) << "ledgerd did not start; stderr: " << ledgerd->Stderr();
  const std::string token = AdminToken(data + "/tokens");
  {
    auto client = HttpClient::Connect("127.0.0.1", port);
    ASSERT_TRUE(client.has_value());
    for (int i = 0; i < 20; ++i) {
      const std::string key = "before-" + std::to_string(i);
      const std::string body = CreditBody(0, i + 1, key);
      auto response = (*client)->Send("POST", "/v1/assets/changes", body, token,
                                      {{"Idempotency-Key", key}});
      ASSERT_TRUE(response.has_value());
      ASSERT_EQ(response->result_int(), 201u) << response->body();
      acked.push_back(AckedFrom(key, body, i + 1, response->body()));
    }
  }
  ledgerd->Signal(SIGTERM);
  ASSERT_EQ(ledgerd->Wait(std::chrono::seconds(30)), 0) << ledgerd->Stderr();

  // Not one block free: opening the store needs to write, so ledgerd exits 1 with the reason.
  const std::string filler = dir.Sub("mnt") + "/filler";
  ASSERT_NO_FATAL_FAILURE(FillTheDisk(filler));
  ASSERT_LT(mount.FreeBytes(), 4096u);
  Process refused({kLedgerdPath, "--data", data, "--listen", "127.0.0.1:0"});
  EXPECT_EQ(refused.Wait(std::chrono::seconds(30)), 1) << refused.Stderr();
  EXPECT_NE(refused.Stderr().find("cannot open the store"), std::string::npos)
      << refused.Stderr();
  EXPECT_NE(refused.Stderr().find("No space left on device"), std::string::npos)
      << refused.Stderr();
  EXPECT_NE(refused.Stderr().find("(disk_full)"), std::string::npos) << refused.Stderr();

  // Space returns: ledgerd starts, every acknowledged command is there and identical, and new
  // commands are accepted.
  ASSERT_EQ(std::remove(filler.c_str()), 0);
  port = StartLedgerd(ledgerd, data);
  ASSERT_NE(port, 0) << "ledgerd did not start once space returned; stderr: "
                     << ledgerd->Stderr();
  auto client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.has_value());
  for (const Acked& command : acked) {
    ASSERT_NO_FATAL_FAILURE(testing::ExpectAckedCommandIntact(**client, command, token));
  }
  auto after = (*client)->Send("POST", "/v1/assets/changes", CreditBody(0, 5, "after"), token,
                               {{"Idempotency-Key", "after"}});
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->result_int(), 201u) << after->body();
  ExpectCleanStopAndVerify(*ledgerd, data);
}

}  // namespace
}  // namespace ledger::transport
