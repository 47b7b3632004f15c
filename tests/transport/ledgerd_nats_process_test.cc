// ledgerd as a process with NATS: the stream equals the log after a SIGKILL in the middle of
// publishing, and a --role reader replica serves the writer's answers from the stream alone.
#include <gtest/gtest.h>
#include <signal.h>

#include <rapidjson/document.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/transport/binaries.h"
#include "tests/transport/nats_fixture.h"
#include "transport/http_client.h"

namespace ledger::transport {
namespace {

using testing::kLedgerdPath;

using ::ledger::testing::AdminToken;
using ::ledger::testing::Process;
using testing::ExpectStreamEqualsLog;
using testing::LedgerNode;
using testing::ReadWholeStream;

// Starts ledgerd with `args` (after the binary); returns its port from the listen line.
std::uint16_t Start(std::optional<Process>& process, std::vector<std::string> args) {
  args.insert(args.begin(), kLedgerdPath);
  args.insert(args.end(), {"--listen", "127.0.0.1:0"});
  process.emplace(std::move(args));
  const auto line = process->ReadLine(std::chrono::seconds(30));
  EXPECT_TRUE(line.has_value()) << "no listen line; stderr: " << process->Stderr();
  if (!line) return 0;
  const std::string prefix = "ledgerd listening on http://127.0.0.1:";
  if (line->rfind(prefix, 0) != 0) {
    ADD_FAILURE() << *line;
    return 0;
  }
  return static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size())));
}

// Messages the stream holds now.
std::uint64_t StreamMessages(const std::string& url) {
  auto connection = ConnectNats(url, "test-probe");
  if (!connection) return 0;
  auto js = NewJetStream(connection->get(), nullptr);
  if (!js) return 0;
  auto tail = ReadStreamTail(js->get(), "LEDGER");
  return tail ? tail->messages : 0;
}

// GET `target` as JSON (status 200 expected).
std::optional<rapidjson::Document> GetJson(HttpClient& client, const std::string& target,
                                           const std::string& token) {
  auto response = client.Send("GET", target, {}, token);
  EXPECT_TRUE(response.has_value());
  if (!response) return std::nullopt;
  EXPECT_EQ(response->result_int(), 200u) << target << ": " << response->body();
  rapidjson::Document document;
  document.Parse(response->body().c_str());
  if (document.HasParseError()) return std::nullopt;
  return document;
}

// The publisher's feed in GET /v1/projections, once its lag is 0 at `head` (or after 60 s).
std::string WaitForPublisher(HttpClient& client, const std::string& token, std::uint64_t head) {
  std::string state;
  for (int i = 0; i < 600; ++i) {
    auto document = GetJson(client, "/v1/projections", token);
    if (document && (*document)["feeds"].IsArray() && !(*document)["feeds"].Empty()) {
      const auto& feed = (*document)["feeds"][0];
      state = feed["state"].GetString();
      if (feed["position"].GetUint64() == head && feed["lag"].GetUint64() == 0) return state;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "not caught up (" + state + ")";
}

class LedgerdNatsProcessTest : public ::testing::Test {
 protected:
  ledger::testing::NatsServer nats_;
  ledger::testing::TempDir dir_;
};

TEST_F(LedgerdNatsProcessTest, StreamEqualsTheLogAfterASigkillWhilePublishing) {
  const std::string data = dir_.Sub("data");
  {
    LedgerNode node(data);  // 100,000 events for ledgerd to publish when it starts.
    ASSERT_NO_FATAL_FAILURE(node.Credits(100'000));
  }
  std::optional<Process> ledgerd;
  ASSERT_NE(Start(ledgerd, {"--data", data, "--nats", nats_.url()}), 0);
  std::uint64_t published = 0;
  for (int i = 0; i < 6'000 && published < 5'000; ++i) {
    published = StreamMessages(nats_.url());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ledgerd->Signal(SIGKILL);
  ASSERT_TRUE(ledgerd->Wait(std::chrono::seconds(10)).has_value());
  const std::uint64_t at_kill = StreamMessages(nats_.url());
  ASSERT_GE(at_kill, 5'000u);
  ASSERT_LT(at_kill, 100'000u) << "publishing finished before the kill: nothing was tested";

  // Restarted, it goes on from the stream's end and publishes what it takes meanwhile.
  const std::uint16_t port = Start(ledgerd, {"--data", data, "--nats", nats_.url()});
  ASSERT_NE(port, 0);
  const std::string token = AdminToken(data + "/tokens");
  auto client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.has_value());
  for (int i = 0; i < 10; ++i) {
    auto response = (*client)->Send(
        "POST", "/v1/assets/changes",
        R"({"account":"user:7","asset":"CNY","amount":5,"source":"topup","reason":"r","ref":"x"})",
        token);
    ASSERT_TRUE(response.has_value());
    ASSERT_EQ(response->result_int(), 201u) << response->body();
  }
  EXPECT_EQ(WaitForPublisher(**client, token, 100'010), "publishing");
  ledgerd->Signal(SIGTERM);
  EXPECT_EQ(ledgerd->Wait(std::chrono::seconds(30)), 0) << ledgerd->Stderr();

  auto store = Store::Open({.path = data, .read_only = true});
  ASSERT_TRUE(store.has_value()) << store.error().message;
  ASSERT_EQ((*store)->HeadPosition(), 100'010u);
  ExpectStreamEqualsLog(ReadWholeStream(nats_.url()), **store);
}

TEST_F(LedgerdNatsProcessTest, ReaderRoleServesTheWritersAnswersFromTheStream) {
  std::optional<Process> writer;
  const std::uint16_t writer_port =
      Start(writer, {"--data", dir_.Sub("writer"), "--nats", nats_.url()});
  ASSERT_NE(writer_port, 0);
  std::optional<Process> reader;
  const std::uint16_t reader_port = Start(
      reader, {"--data", dir_.Sub("reader"), "--role", "reader", "--nats", nats_.url()});
  ASSERT_NE(reader_port, 0);
  const std::string writer_token = AdminToken(dir_.Sub("writer") + "/tokens");
  const std::string reader_token = AdminToken(dir_.Sub("reader") + "/tokens");
  auto to_writer = HttpClient::Connect("127.0.0.1", writer_port);
  auto to_reader = HttpClient::Connect("127.0.0.1", reader_port);
  ASSERT_TRUE(to_writer.has_value() && to_reader.has_value());

  std::uint64_t position = 0;
  for (const char* body :
       {R"({"account":"user:1","asset":"CNY","amount":1000,"source":"topup","reason":"r","ref":"a"})",
        R"({"account":"user:2","asset":"CNY","amount":700,"source":"topup","reason":"r","ref":"b"})",
        R"({"account":"user:1","asset":"CNY","amount":-300,"source":"spend","reason":"r","ref":"c"})"}) {
    auto response = (*to_writer)->Send("POST", "/v1/assets/changes", body, writer_token);
    ASSERT_TRUE(response.has_value());
    ASSERT_EQ(response->result_int(), 201u) << response->body();
    rapidjson::Document document;
    document.Parse(response->body().c_str());
    position = document["position"].GetUint64();
  }
  const std::string target =
      "/v1/accounts/user:1?min_position=" + std::to_string(position) + "&timeout_ms=30000";
  auto from_writer = (*to_writer)->Send("GET", target, {}, writer_token);
  auto from_reader = (*to_reader)->Send("GET", target, {}, reader_token);
  ASSERT_TRUE(from_writer.has_value() && from_reader.has_value());
  ASSERT_EQ(from_reader->result_int(), 200u) << from_reader->body();
  EXPECT_EQ(from_reader->body(), from_writer->body());
  EXPECT_NE(from_reader->body().find("700"), std::string::npos) << from_reader->body();

  // A reader takes no commands, and lists its feed.
  auto refused = (*to_reader)->Send(
      "POST", "/v1/assets/changes",
      R"({"account":"user:3","asset":"CNY","amount":1,"source":"topup","reason":"r","ref":"d"})",
      reader_token);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 403u);
  EXPECT_NE(refused->body().find("wrong_role"), std::string::npos) << refused->body();
  auto projections = GetJson(**to_reader, "/v1/projections", reader_token);
  ASSERT_TRUE(projections.has_value());
  ASSERT_EQ((*projections)["feeds"].Size(), 1u);
  EXPECT_STREQ((*projections)["feeds"][0]["name"].GetString(), "nats-replica");
  EXPECT_EQ((*projections)["feeds"][0]["position"].GetUint64(), position);

  reader->Signal(SIGTERM);
  writer->Signal(SIGTERM);
  EXPECT_EQ(reader->Wait(std::chrono::seconds(30)), 0) << reader->Stderr();
  EXPECT_EQ(writer->Wait(std::chrono::seconds(30)), 0) << writer->Stderr();
}

// A writer takes commands and publishes them, but keeps no projections.
TEST_F(LedgerdNatsProcessTest, WriterRoleTakesCommandsAndRefusesQueries) {
  std::optional<Process> writer;
  const std::uint16_t port =
      Start(writer, {"--data", dir_.Sub("writer"), "--role", "writer", "--nats", nats_.url()});
  ASSERT_NE(port, 0);
  const std::string token = AdminToken(dir_.Sub("writer") + "/tokens");
  auto client = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client.has_value());
  auto written = (*client)->Send(
      "POST", "/v1/assets/changes",
      R"({"account":"user:1","asset":"CNY","amount":5,"source":"topup","reason":"r","ref":"a"})",
      token);
  ASSERT_TRUE(written.has_value());
  EXPECT_EQ(written->result_int(), 201u) << written->body();
  auto query = (*client)->Send("GET", "/v1/accounts/user:1", {}, token);
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->result_int(), 403u);
  EXPECT_NE(query->body().find("wrong_role"), std::string::npos) << query->body();
  EXPECT_EQ(WaitForPublisher(**client, token, 1), "publishing");
  auto projections = GetJson(**client, "/v1/projections", token);
  ASSERT_TRUE(projections.has_value());
  EXPECT_EQ((*projections)["projections"].Size(), 0u);
  EXPECT_EQ(ReadWholeStream(nats_.url()).size(), 1u);
  writer->Signal(SIGTERM);
  EXPECT_EQ(writer->Wait(std::chrono::seconds(30)), 0) << writer->Stderr();
}

TEST_F(LedgerdNatsProcessTest, ReaderRoleNeedsNats) {
  Process process({kLedgerdPath, "--data", dir_.Sub("reader"), "--role", "reader"});
  EXPECT_EQ(process.Wait(std::chrono::seconds(30)), 2);
  EXPECT_NE(process.Stderr().find("--role reader needs --nats"), std::string::npos);
}

}  // namespace
}  // namespace ledger::transport
