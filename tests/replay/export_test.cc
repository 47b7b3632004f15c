// ledger-replay export: JSON lines round trip; the Cap'n Proto stream reads with `capnp decode`.
#include <cstdio>
#include <fstream>
#include <sstream>

#include "replay/audit.h"
#include "tests/replay/replay_fixture.h"

namespace ledger::replay::testing {
namespace {

class ExportTest : public ReplayTest {
 protected:
  void SetUp() override {
    ReplayTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Populate());
    head_ = store_->HeadPosition();
  }
  std::uint64_t head_ = 0;
};

TEST_F(ExportTest, JsonLinesRoundTrip) {
  const std::string out = dir_.Sub("events.jsonl");
  VerbResult result = RunVerb(&RunExport, {"--data", dir_.path(), "--from", "3", "--to", "20",
                                           "--format", "jsonl", "--out", out});
  ASSERT_EQ(result.exit_code, kExitOk);
  std::ifstream in(out);
  std::string line;
  std::uint64_t expected = 3;
  while (std::getline(in, line)) {
    rapidjson::Document document;
    ASSERT_FALSE(document.Parse(line.c_str()).HasParseError()) << line;
    EXPECT_EQ(document["position"].GetUint64(), expected);
    auto stored = store_->Read(expected);
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(document["hash"].GetString(), HashToHex(stored->event.envelope.hash));
    EXPECT_EQ(document["stream"].GetString(), stored->event.envelope.stream);
    ++expected;
  }
  EXPECT_EQ(expected, 21u);

  // The whole log by default.
  const std::string all = dir_.Sub("all.jsonl");
  ASSERT_EQ(RunVerb(&RunExport, {"--data", dir_.path(), "--format", "jsonl", "--out", all})
                .exit_code,
            kExitOk);
  std::ifstream all_in(all);
  std::uint64_t lines = 0;
  while (std::getline(all_in, line)) ++lines;
  EXPECT_EQ(lines, head_);
}

TEST_F(ExportTest, CapnpReadsWithCapnpDecode) {
  const std::string out = dir_.Sub("events.bin");
  ASSERT_EQ(RunVerb(&RunExport, {"--data", dir_.path(), "--format", "capnp", "--out", out})
                .exit_code,
            kExitOk);
  const std::string command = "capnp decode " LEDGER_SOURCE_DIR
                              "/ledger/schema/events.capnp Event < " + out;
  std::FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string decoded;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) decoded.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << "is the capnproto package installed? " << decoded;
  std::uint64_t messages = 0;
  for (std::size_t at = 0; (at = decoded.find("( position = ", at)) != std::string::npos; ++at) {
    ++messages;
  }
  EXPECT_EQ(messages, head_);
  auto last = store_->Read(head_);
  ASSERT_TRUE(last.has_value());
  // capnp prints Data as a string literal of escaped bytes; the hash is set (not absent).
  EXPECT_NE(decoded.find("position = " + std::to_string(head_) + ","), std::string::npos);
  EXPECT_NE(decoded.find("hash = \""), std::string::npos);
}

TEST_F(ExportTest, BadFlags) {
  EXPECT_EQ(RunVerb(&RunExport, {"--data", dir_.path()}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunExport, {"--data", dir_.path(), "--format", "xml"}).exit_code, kExitUsage);
  EXPECT_EQ(RunVerb(&RunExport, {"--data", dir_.path(), "--format", "jsonl", "--to",
                                 std::to_string(head_ + 1)})
                .exit_code,
            kExitUsage);
}

}  // namespace
}  // namespace ledger::replay::testing
