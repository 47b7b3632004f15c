// Runs the ledgerd binary as a process: startup line, one write, SIGTERM, exit 0.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/transport/acked_commands.h"
#include "tests/transport/binaries.h"
#include "tests/support/temp_dir.h"
#include "transport/http_client.h"

namespace ledger::transport {
namespace {

using testing::kLedgerdPath;

using ::ledger::testing::AdminToken;
using ::ledger::testing::Process;

class LedgerdProcessTest : public ::testing::Test {
 protected:
  // Starts ledgerd on dir_/data, port 0; returns the port from its listen line.
  std::uint16_t StartLedgerd(std::optional<Process>& process) {
    process.emplace(std::vector<std::string>{kLedgerdPath, "--data", dir_.Sub("data"), "--listen",
                                             "127.0.0.1:0", "--http-threads", "2"});
    const auto line = process->ReadLine(std::chrono::seconds(30));
    EXPECT_TRUE(line.has_value()) << "no listen line; stderr: " << process->Stderr();
    if (!line) return 0;
    const std::string prefix = "ledgerd listening on http://127.0.0.1:";
    const std::string suffix =
        " (data: " + dir_.Sub("data") + ", admin token file: " + dir_.Sub("data") + "/tokens)";
    EXPECT_EQ(line->rfind(prefix, 0), 0u) << *line;
    EXPECT_TRUE(line->ends_with(suffix)) << *line;
    if (line->rfind(prefix, 0) != 0 || !line->ends_with(suffix)) return 0;
    const std::string digits =
        line->substr(prefix.size(), line->size() - prefix.size() - suffix.size());
    EXPECT_EQ(digits.find_first_not_of("0123456789"), std::string::npos) << *line;
    const int port = digits.empty() ? 0 : std::stoi(digits);
    EXPECT_GT(port, 0);
    return static_cast<std::uint16_t>(port);
  }

  ::ledger::testing::TempDir dir_;
};

TEST_F(LedgerdProcessTest, ServesAWriteAndStopsCleanlyOnSigterm) {
  std::optional<Process> process;
  const std::uint16_t port = StartLedgerd(process);
  ASSERT_NE(port, 0);
  const std::string token = AdminToken(dir_.Sub("data") + "/tokens");
  ASSERT_EQ(token.size(), 64u);
  EXPECT_EQ(process->Stderr().find(token), std::string::npos) << "token logged";

  auto client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.has_value());
  auto response = (*client)->Send("POST", "/v1/accounts", R"({"account":"alice"})", token);
  ASSERT_TRUE(response.has_value()) << response.error().message;
  EXPECT_EQ(response->result_int(), 201u) << response->body();
  auto unauthenticated = (*client)->Send("POST", "/v1/accounts", R"({"account":"bob"})");
  ASSERT_TRUE(unauthenticated.has_value());
  EXPECT_EQ(unauthenticated->result_int(), 401u);

  process->Signal(SIGTERM);
  EXPECT_EQ(process->Wait(std::chrono::seconds(30)), 0) << process->Stderr();

  // The same data directory and token file serve the event after a restart.
  std::optional<Process> again;
  const std::uint16_t port_again = StartLedgerd(again);
  ASSERT_NE(port_again, 0);
  EXPECT_EQ(AdminToken(dir_.Sub("data") + "/tokens"), token);
  auto client_again = HttpClient::Connect("127.0.0.1", port_again);
  ASSERT_TRUE(client_again.has_value());
  auto event = (*client_again)->Send("GET", "/v1/events/1", {}, token);
  ASSERT_TRUE(event.has_value());
  EXPECT_EQ(event->result_int(), 200u);
  EXPECT_NE(event->body().find("\"account\":\"alice\""), std::string::npos);
  again->Signal(SIGINT);
  EXPECT_EQ(again->Wait(std::chrono::seconds(30)), 0) << again->Stderr();
}

// Every command ledgerd acknowledged before a SIGKILL is in the log after a restart, identical,
// and a retry of it is answered as a replay of the same event.
TEST_F(LedgerdProcessTest, AcknowledgedCommandsSurviveSigkill) {
  std::optional<Process> process;
  const std::uint16_t port = StartLedgerd(process);
  ASSERT_NE(port, 0);
  const std::string token = AdminToken(dir_.Sub("data") + "/tokens");

  constexpr int kWriters = 4;
  std::vector<std::vector<testing::AckedCommand>> acked(kWriters);
  std::atomic<bool> killed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto client = HttpClient::Connect("127.0.0.1", port);
      if (!client) return;
      for (int i = 0; !killed.load(); ++i) {
        const std::string key = "w" + std::to_string(w) + "-" + std::to_string(i);
        const std::string body = R"({"account":"user:)" + std::to_string(w) +
                                 R"(","asset":"CNY","amount":)" + std::to_string(i + 1) +
                                 R"(,"source":"topup","reason":"crash test","ref":")" + key + "\"}";
        auto response = (*client)->Send("POST", "/v1/assets/changes", body, token,
                                        {{"Idempotency-Key", key}});
        if (!response) return;  // The server died mid-request: not acknowledged.
        if (response->result_int() != 201) continue;
        rapidjson::Document json;
        json.Parse(response->body().c_str());
        acked[w].push_back({key, body, json["position"].GetUint64(), i + 1});
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  process->Signal(SIGKILL);
  killed = true;
  for (auto& writer : writers) writer.join();
  EXPECT_EQ(process->Wait(std::chrono::seconds(30)), 128 + SIGKILL);

  std::size_t total = 0;
  for (const auto& list : acked) total += list.size();
  ASSERT_GT(total, 0u) << "nothing was acknowledged before the kill";
  std::fprintf(stderr, "[crash] %zu commands acknowledged before SIGKILL\n", total);

  std::optional<Process> again;
  const std::uint16_t port_again = StartLedgerd(again);
  ASSERT_NE(port_again, 0);
  auto client = HttpClient::Connect("127.0.0.1", port_again);
  ASSERT_TRUE(client.has_value());
  for (const auto& list : acked) {
    for (const testing::AckedCommand& command : list) {
      ASSERT_NO_FATAL_FAILURE(testing::ExpectAckedCommandIntact(**client, command, token));
    }
  }
  // Reading the whole log checks every hash and link; it must read without error.
  for (std::uint64_t after = 0;;) {
    auto page = (*client)->Send("GET", "/v1/events?after=" + std::to_string(after) + "&limit=1000",
                                {}, token);
    ASSERT_TRUE(page.has_value());
    ASSERT_EQ(page->result_int(), 200u) << page->body();
    rapidjson::Document json;
    json.Parse(page->body().c_str());
    const std::uint64_t next = json["next_after"].GetUint64();
    if (next == after) break;
    after = next;
  }
  again->Signal(SIGTERM);
  EXPECT_EQ(again->Wait(std::chrono::seconds(30)), 0) << again->Stderr();
}

TEST_F(LedgerdProcessTest, HelpAndBadFlags) {
  Process help({kLedgerdPath, "--help"});
  const auto usage = help.ReadLine(std::chrono::seconds(10));
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->rfind("Usage: ledgerd", 0), 0u);
  EXPECT_EQ(help.Wait(std::chrono::seconds(10)), 0);

  for (const std::vector<std::string>& args :
       {std::vector<std::string>{kLedgerdPath, "--bogus", "1"},
        std::vector<std::string>{kLedgerdPath, "--listen", "nowhere"},
        std::vector<std::string>{kLedgerdPath, "--listen", "127.0.0.1:70000"},
        std::vector<std::string>{kLedgerdPath, "--http-threads", "0"},
        std::vector<std::string>{kLedgerdPath, "--data"}}) {
    Process bad(args);
    EXPECT_EQ(bad.Wait(std::chrono::seconds(10)), 2) << args[1];
    EXPECT_NE(bad.Stderr().find("Usage: ledgerd"), std::string::npos) << args[1];
  }
}

TEST_F(LedgerdProcessTest, MalformedTokensFileIsFatal) {
  std::ofstream(dir_.Sub("tokens")) << "short admin admin\n";
  Process process({kLedgerdPath, "--data", dir_.Sub("data"), "--listen", "127.0.0.1:0",
                   "--auth-file", dir_.Sub("tokens")});
  EXPECT_EQ(process.Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(process.Stderr().find("line 1"), std::string::npos);
}

}  // namespace
}  // namespace ledger::transport
