// Runs the ledger-tail binary as a process against a real nats-server, fed by the real
// publisher from an in-process Store + Sequencer: JSON lines from a position or from the
// newest, the chain checked (broken hashes, gaps, duplicates and broken links exit 1 naming the
// position), clean exits, and no consumer left on the server.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/event_codec.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "tests/support/nats_server.h"
#include "tests/support/process.h"
#include "tests/transport/binaries.h"
#include "tests/support/temp_dir.h"
#include "transport/json_events.h"
#include "transport/nats_common.h"
#include "transport/nats_publisher.h"

namespace ledger::transport {
namespace {

using testing::kLedgerTailPath;

// Upper bound for anything a test waits on; every ledger-tail run also has --count or
// --idle-exit, so a missing check fails the test instead of hanging it.
constexpr auto kTimeout = std::chrono::seconds(30);
constexpr std::int64_t kAckTimeoutUs = 10'000'000;

// ledger-tail with `args`, its stdout and stderr piped to us.
class TailProcess : public ::ledger::testing::Process {
 public:
  explicit TailProcess(std::vector<std::string> args) : Process(WithBinary(std::move(args))) {}

 private:
  static std::vector<std::string> WithBinary(std::vector<std::string> args) {
    args.insert(args.begin(), kLedgerTailPath);
    return args;
  }
};

// Appends the next `count` lines `tail` prints to `lines` (a failure if they do not come).
void ReadLines(TailProcess& tail, int count, std::vector<std::string>* lines) {
  for (int i = 0; i < count; ++i) {
    auto line = tail.ReadLine(kTimeout);
    ASSERT_TRUE(line.has_value()) << tail.Stderr();
    lines->push_back(*line);
  }
}

// What one run of ledger-tail to its end produced.
struct TailRun {
  std::optional<int> exit_code;  // nullopt: still running after kTimeout (then killed).
  std::vector<std::string> lines;
  std::string stderr_text;
};

TailRun RunTail(std::vector<std::string> args) {
  TailProcess process(std::move(args));
  TailRun run;
  run.lines = process.ReadAllLines(kTimeout);
  run.exit_code = process.Wait(kTimeout);
  run.stderr_text = process.Stderr();
  return run;
}

// A real ledger publishing to a real nats-server, and a connection of the test's own to look at
// (and tamper with) the stream.
class LedgerTailTest : public ::testing::Test {
 protected:
  explicit LedgerTailTest(PayloadFormat format = PayloadFormat::kCapnp) : format_(format) {}

  void SetUp() override {
    auto store = Store::Open(StoreOptions{.path = dir_.Sub("data"),
                                          .extra_column_families = {std::string(kOutboxFamily)}});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
    publisher_ = std::make_unique<NatsPublisher>(
        *store_, metrics_,
        NatsPublisherOptions{.stream = NatsStreamOptions{.url = nats_.url()}, .format = format_});
    ASSERT_TRUE(publisher_->Start().has_value());
    auto connection = ConnectNats(nats_.url(), "ledger-tail-test");
    ASSERT_TRUE(connection.has_value()) << connection.error().message;
    connection_ = std::move(*connection);
    auto js = NewJetStream(connection_.get(), nullptr);
    ASSERT_TRUE(js.has_value()) << js.error().message;
    js_ = std::move(*js);
  }

  // Appends `count` events through the sequencer and waits until the stream acknowledged them.
  void Append(int count) {
    for (int i = 0; i < count; ++i) {
      commands::Command command;
      command.context.client_id = "svc";
      command.body = commands::ChangeAsset{.account = "user:" + std::to_string(i % 3),
                                           .asset = "CNY",
                                           .amount = 100 + i,
                                           .source = "topup",
                                           .reason = "ledger-tail test",
                                           .ref = "r" + std::to_string(i)};
      std::promise<Result<commands::CommandOutcome>> promise;
      auto outcome = promise.get_future();
      ASSERT_TRUE(sequencer_
                      ->Submit(std::move(command),
                               [&promise](auto result) { promise.set_value(std::move(result)); })
                      .has_value());
      auto result = outcome.get();
      ASSERT_TRUE(result.has_value()) << result.error().message;
    }
    const std::uint64_t head = store_->HeadPosition();
    ASSERT_EQ(publisher_->WaitForAcked(head, kAckTimeoutUs), head) << "the stream did not ack";
  }

  // The line ledger-tail must print for `position`: the event as the store holds it.
  std::string ExpectedLine(std::uint64_t position) {
    auto stored = store_->Read(position);
    LEDGER_ASSERT(stored.has_value());
    return EventToJson(stored->event);
  }
  std::vector<std::string> ExpectedLines(std::uint64_t first, std::uint64_t last) {
    std::vector<std::string> lines;
    for (std::uint64_t position = first; position <= last; ++position) {
      lines.push_back(ExpectedLine(position));
    }
    return lines;
  }

  // An event for `position` linking to `prev_hash` (a copy of event 1 otherwise); its hash set
  // to SHA-256(prev_hash || bytes), its canonical bytes in `bytes`.
  Event Forge(std::uint64_t position, const Hash& prev_hash, std::string* bytes) {
    auto first = store_->Read(1);
    LEDGER_ASSERT(first.has_value());
    Event event = first->event;
    event.envelope.position = position;
    event.envelope.prev_hash = prev_hash;
    bytes->clear();
    EncodeEvent(event, bytes);
    event.envelope.hash = ChainHash(prev_hash, *bytes);
    return event;
  }

  // Publishes one message by hand, with the headers the publisher would set.
  void PublishRaw(std::uint64_t position, const Event& event, std::string_view payload,
                  const Hash& header_hash, PayloadFormat format) {
    const std::string subject = EventSubject("ledger", event.envelope.type);
    natsMsg* raw = nullptr;
    ASSERT_EQ(natsMsg_Create(&raw, subject.c_str(), nullptr, payload.data(),
                             static_cast<int>(payload.size())),
              NATS_OK);
    NatsMsgPtr message(raw);
    const std::string id = MessageId(store_->LedgerId(), position);
    const std::string position_text = std::to_string(position);
    const std::string type(EventTypeName(event.envelope.type));
    const std::string hash = HashToHex(header_hash);
    ASSERT_EQ(natsMsgHeader_Set(raw, kHeaderMsgId, id.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, kHeaderPosition, position_text.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, kHeaderEventType, type.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, kHeaderHash, hash.c_str()), NATS_OK);
    ASSERT_EQ(natsMsgHeader_Set(raw, kHeaderFormat, PayloadFormatName(format).data()),
              NATS_OK);
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    ASSERT_EQ(js_PublishMsg(&ack, js_.get(), raw, nullptr, &code), NATS_OK) << code;
    ASSERT_NE(ack, nullptr);
    EXPECT_FALSE(ack->Duplicate) << "the stream dropped the message as a duplicate";
    jsPubAck_Destroy(ack);
  }

  // A forged capnp message for `position` linking to `prev_hash`, whose Ledger-Hash is
  // `header_hash` (or the correct hash when nullopt).
  void PublishForged(std::uint64_t position, const Hash& prev_hash,
                     std::optional<Hash> header_hash = std::nullopt) {
    std::string bytes;
    const Event event = Forge(position, prev_hash, &bytes);
    PublishRaw(position, event, bytes, header_hash.value_or(event.envelope.hash),
               PayloadFormat::kCapnp);
  }

  Hash HashOf(std::uint64_t position) {
    auto stored = store_->Read(position);
    LEDGER_ASSERT(stored.has_value());
    return stored->event.envelope.hash;
  }

  // Consumers of the stream right now (ledger-tail's ephemeral one while it runs).
  std::int64_t Consumers() {
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (js_GetStreamInfo(&info, js_.get(), "LEDGER", nullptr, &code) != NATS_OK) return -1;
    const auto consumers = static_cast<std::int64_t>(info->State.Consumers);
    jsStreamInfo_Destroy(info);
    return consumers;
  }
  // Waits until the stream has `count` consumers; false at kTimeout.
  bool WaitForConsumers(std::int64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + kTimeout;
    while (Consumers() != count) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
  }

  std::vector<std::string> Args(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--nats", nats_.url()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  // Declared first: destroyed after everything that talks to it.
  ::ledger::testing::NatsServer nats_;
  ::ledger::testing::TempDir dir_;
  const PayloadFormat format_;
  ManualClock clock_{1'790'000'000'000'000};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<NatsPublisher> publisher_;
  NatsConnectionPtr connection_;
  JsContextPtr js_;
};

TEST_F(LedgerTailTest, FromOnePrintsEveryEventInOrderAndLeavesNoConsumer) {
  ASSERT_NO_FATAL_FAILURE(Append(7));
  const TailRun run = RunTail(Args({"--from", "1", "--count", "7"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(1, 7)) << run.stderr_text;
  // Positions 1..7 in order, hashes those of the store.
  ASSERT_EQ(run.lines.size(), 7u);
  for (std::uint64_t position = 1; position <= 7; ++position) {
    const std::string& line = run.lines[position - 1];
    EXPECT_NE(line.find("\"position\":" + std::to_string(position) + ","), std::string::npos)
        << line;
    EXPECT_NE(line.find("\"hash\":\"" + HashToHex(HashOf(position)) + "\""), std::string::npos)
        << line;
  }
  EXPECT_EQ(run.stderr_text.find("chain broken"), std::string::npos) << run.stderr_text;
  EXPECT_EQ(Consumers(), 0) << "ledger-tail left its consumer on the server";
}

TEST_F(LedgerTailTest, CountStopsEarly) {
  ASSERT_NO_FATAL_FAILURE(Append(5));
  const TailRun run = RunTail(Args({"--from", "1", "--count", "2"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(1, 2));
}

TEST_F(LedgerTailTest, FromKStartsThereAndChecksTheLinkToKMinusOne) {
  ASSERT_NO_FATAL_FAILURE(Append(5));
  const TailRun run = RunTail(Args({"--from", "3", "--count", "3"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(3, 5)) << run.stderr_text;
  // Position 2 was on the stream, so the link of 3 to it was checked, not skipped.
  EXPECT_EQ(run.stderr_text.find("not checked"), std::string::npos) << run.stderr_text;

  // Position 6 is consistent in itself (its Ledger-Hash is the hash of its bytes) but links to
  // nothing: only the check against position 5, looked up on the stream, can see it.
  ASSERT_NO_FATAL_FAILURE(PublishForged(6, Hash{}));
  const TailRun broken = RunTail(Args({"--from", "6", "--idle-exit", "10"}));
  EXPECT_EQ(broken.exit_code, 1) << broken.stderr_text;
  EXPECT_TRUE(broken.lines.empty());
  EXPECT_NE(broken.stderr_text.find("ledger-tail: chain broken at position 6: prev_hash "),
            std::string::npos)
      << broken.stderr_text;
  EXPECT_NE(broken.stderr_text.find(HashToHex(HashOf(5))), std::string::npos) << broken.stderr_text;
}

TEST_F(LedgerTailTest, FromAheadOfTheStreamWaitsForThatPosition) {
  ASSERT_NO_FATAL_FAILURE(Append(2));
  TailProcess tail(Args({"--from", "4", "--count", "2", "--idle-exit", "30"}));
  ASSERT_TRUE(WaitForConsumers(1)) << tail.Stderr();
  ASSERT_NO_FATAL_FAILURE(Append(4));
  const std::vector<std::string> lines = tail.ReadAllLines(kTimeout);
  EXPECT_EQ(tail.Wait(kTimeout), 0) << tail.Stderr();
  EXPECT_EQ(lines, ExpectedLines(4, 5)) << tail.Stderr();
}

// The stream's limits removed positions 1 and 2: starting there is refused, starting at 3 works
// with a warning that the link of 3 to 2 cannot be checked.
TEST_F(LedgerTailTest, PositionsTheStreamNoLongerHolds) {
  ASSERT_NO_FATAL_FAILURE(Append(5));
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetStreamInfo(&info, js_.get(), "LEDGER", nullptr, &code), NATS_OK);
  info->Config->MaxMsgs = 3;
  jsStreamInfo* updated = nullptr;
  const natsStatus s = js_UpdateStream(&updated, js_.get(), info->Config, nullptr, &code);
  jsStreamInfo_Destroy(info);
  ASSERT_EQ(s, NATS_OK) << code;
  EXPECT_EQ(updated->State.Msgs, 3u);
  jsStreamInfo_Destroy(updated);

  const TailRun gone = RunTail(Args({"--from", "1", "--idle-exit", "10"}));
  EXPECT_EQ(gone.exit_code, 1) << gone.stderr_text;
  EXPECT_TRUE(gone.lines.empty());
  EXPECT_NE(gone.stderr_text.find("ledger-tail: chain broken at position 1: not on the stream: "
                                  "the first message from stream sequence 1 on is position 3"),
            std::string::npos)
      << gone.stderr_text;

  const TailRun run = RunTail(Args({"--from", "3", "--count", "3"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(3, 5)) << run.stderr_text;
  EXPECT_NE(run.stderr_text.find("no longer holds position 2"), std::string::npos)
      << run.stderr_text;
}

TEST_F(LedgerTailTest, ByDefaultPrintsOnlyNewEvents) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  TailProcess tail(Args({"--count", "2", "--idle-exit", "30"}));
  // Its consumer exists once it has read the stream's end: from then on it sees what comes.
  ASSERT_TRUE(WaitForConsumers(1)) << tail.Stderr();
  ASSERT_NO_FATAL_FAILURE(Append(2));
  const std::vector<std::string> lines = tail.ReadAllLines(kTimeout);
  EXPECT_EQ(tail.Wait(kTimeout), 0) << tail.Stderr();
  EXPECT_EQ(lines, ExpectedLines(4, 5)) << tail.Stderr();
  EXPECT_EQ(Consumers(), 0);
}

TEST_F(LedgerTailTest, IdleExitEndsAQuietTail) {
  ASSERT_NO_FATAL_FAILURE(Append(2));
  const auto started = std::chrono::steady_clock::now();
  const TailRun run = RunTail(Args({"--from", "1", "--idle-exit", "1"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(1, 2));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(LedgerTailTest, SigtermAndSigintExitCleanly) {
  ASSERT_NO_FATAL_FAILURE(Append(1));
  for (int signal_number : {SIGTERM, SIGINT}) {
    TailProcess tail(Args({"--idle-exit", "60"}));
    ASSERT_TRUE(WaitForConsumers(1)) << tail.Stderr();
    tail.Signal(signal_number);
    EXPECT_EQ(tail.Wait(std::chrono::seconds(5)), 0) << signal_number << ": " << tail.Stderr();
    EXPECT_EQ(Consumers(), 0) << signal_number;
  }
}

// A restart of nats-server loses the ephemeral consumer; ledger-tail re-creates it after the
// last position it printed and goes on, without a gap or a repeat.
TEST_F(LedgerTailTest, FollowsAcrossANatsRestart) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  TailProcess tail(Args({"--from", "1", "--count", "5", "--idle-exit", "30"}));
  std::vector<std::string> lines;
  ASSERT_NO_FATAL_FAILURE(ReadLines(tail, 3, &lines));
  nats_.Kill();
  nats_.Restart();
  ASSERT_NO_FATAL_FAILURE(Append(2));
  for (auto& line : tail.ReadAllLines(kTimeout)) lines.push_back(std::move(line));
  EXPECT_EQ(tail.Wait(kTimeout), 0) << tail.Stderr();
  EXPECT_EQ(lines, ExpectedLines(1, 5)) << tail.Stderr();
}

TEST_F(LedgerTailTest, WrongHashWhileFollowingExitsOneNamingThePosition) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  TailProcess tail(Args({"--from", "1", "--idle-exit", "30"}));
  std::vector<std::string> lines;
  ASSERT_NO_FATAL_FAILURE(ReadLines(tail, 3, &lines));
  EXPECT_EQ(lines, ExpectedLines(1, 3));
  // The next position, linked right, but its Ledger-Hash is not the hash of its bytes.
  std::string bytes;
  Hash wrong = Forge(4, HashOf(3), &bytes).envelope.hash;
  wrong[0] ^= 1;
  ASSERT_NO_FATAL_FAILURE(PublishForged(4, HashOf(3), wrong));
  EXPECT_EQ(tail.ReadAllLines(kTimeout), std::vector<std::string>{});
  EXPECT_EQ(tail.Wait(kTimeout), 1) << tail.Stderr();
  const std::string stderr_text = tail.Stderr();
  EXPECT_NE(stderr_text.find("ledger-tail: chain broken at position 4: Ledger-Hash " +
                             HashToHex(wrong) + " is not SHA-256"),
            std::string::npos)
      << stderr_text;
  EXPECT_EQ(Consumers(), 0);
}

TEST_F(LedgerTailTest, SkippedPositionExitsOne) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  ASSERT_NO_FATAL_FAILURE(PublishForged(5, HashOf(3)));  // Correct hashes; 4 is missing.
  const TailRun run = RunTail(Args({"--from", "1", "--idle-exit", "10"}));
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(1, 3));
  EXPECT_NE(run.stderr_text.find("ledger-tail: chain broken at position 4: missing: the stream "
                                 "delivered position 5"),
            std::string::npos)
      << run.stderr_text;
}

TEST_F(LedgerTailTest, DuplicatePositionExitsOne) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  TailProcess tail(Args({"--from", "1", "--idle-exit", "30"}));
  std::vector<std::string> lines;
  ASSERT_NO_FATAL_FAILURE(ReadLines(tail, 3, &lines));
  EXPECT_EQ(lines, ExpectedLines(1, 3));
  // Shrink the duplicate window so the stream stores a second copy of position 3.
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  ASSERT_EQ(js_GetStreamInfo(&info, js_.get(), "LEDGER", nullptr, &code), NATS_OK);
  info->Config->Duplicates = 100'000'000;  // 100 ms.
  jsStreamInfo* updated = nullptr;
  const natsStatus s = js_UpdateStream(&updated, js_.get(), info->Config, nullptr, &code);
  jsStreamInfo_Destroy(info);
  ASSERT_EQ(s, NATS_OK) << code;
  jsStreamInfo_Destroy(updated);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto third = store_->Read(3);
  ASSERT_TRUE(third.has_value());
  ASSERT_NO_FATAL_FAILURE(
      PublishRaw(3, third->event, third->bytes, HashOf(3), PayloadFormat::kCapnp));

  EXPECT_EQ(tail.ReadAllLines(kTimeout), std::vector<std::string>{});
  EXPECT_EQ(tail.Wait(kTimeout), 1) << tail.Stderr();
  EXPECT_NE(tail.Stderr().find("ledger-tail: chain broken at position 4: position 3 delivered "
                               "again (a duplicate, stream sequence 4)"),
            std::string::npos)
      << tail.Stderr();

  // Read again from the start, the duplicate is found the same way.
  const TailRun again = RunTail(Args({"--from", "1", "--idle-exit", "10"}));
  EXPECT_EQ(again.exit_code, 1) << again.stderr_text;
  EXPECT_EQ(again.lines, ExpectedLines(1, 3));
  EXPECT_NE(again.stderr_text.find("ledger-tail: chain broken at position 4: position 3"),
            std::string::npos)
      << again.stderr_text;
  // From 2, the sequence counted back from the stream's end (position 3 at sequence 4) is off
  // by the duplicate: that is reported, not printed past.
  const TailRun shifted = RunTail(Args({"--from", "2", "--idle-exit", "10"}));
  EXPECT_EQ(shifted.exit_code, 1) << shifted.stderr_text;
  EXPECT_TRUE(shifted.lines.empty());
  EXPECT_NE(shifted.stderr_text.find("ledger-tail: chain broken at position 2: not at stream "
                                     "sequence 3"),
            std::string::npos)
      << shifted.stderr_text;
}

TEST_F(LedgerTailTest, EventInsideDisagreeingWithItsHeadersExitsOne) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  // Hash and link right, but the bytes hold position 9 under Ledger-Position 4.
  std::string bytes;
  const Event event = Forge(9, HashOf(3), &bytes);
  ASSERT_NO_FATAL_FAILURE(PublishRaw(4, event, bytes, event.envelope.hash, PayloadFormat::kCapnp));
  const TailRun run = RunTail(Args({"--from", "2", "--idle-exit", "10"}));
  EXPECT_EQ(run.exit_code, 1) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(2, 3));
  EXPECT_NE(run.stderr_text.find("ledger-tail: chain broken at position 4: the event in the "
                                 "payload is position 9"),
            std::string::npos)
      << run.stderr_text;
}

TEST_F(LedgerTailTest, UsageErrorsExitTwo) {
  const std::vector<std::vector<std::string>> cases = {
      {},
      {"--from", "1"},
      {"--nats", nats_.url(), "--from", "0"},
      {"--nats", nats_.url(), "--count", "x"},
      {"--nats", nats_.url(), "--idle-exit", "0"},
      {"--nats", nats_.url(), "--stream", "no.dots"},
      {"--nats", nats_.url(), "--subject-prefix", "wild.*"},
      {"--nats", nats_.url(), "--bogus", "1"},
      {"--nats", nats_.url(), "stray"},
      {"--nats"},
  };
  for (const auto& args : cases) {
    const TailRun run = RunTail(args);
    std::string joined;
    for (const auto& arg : args) joined += arg + " ";
    EXPECT_EQ(run.exit_code, 2) << joined << run.stderr_text;
    EXPECT_NE(run.stderr_text.find("Usage: ledger-tail"), std::string::npos) << joined;
    EXPECT_TRUE(run.lines.empty()) << joined;
  }
  const TailRun help = RunTail({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  ASSERT_FALSE(help.lines.empty());
  EXPECT_EQ(help.lines[0].rfind("Usage: ledger-tail", 0), 0u);
}

TEST_F(LedgerTailTest, MissingStreamOrServerExitsThree) {
  const TailRun no_stream = RunTail(Args({"--stream", "NOPE", "--idle-exit", "5"}));
  EXPECT_EQ(no_stream.exit_code, 3) << no_stream.stderr_text;
  EXPECT_NE(no_stream.stderr_text.find("NOPE"), std::string::npos) << no_stream.stderr_text;

  publisher_->Stop();
  nats_.Kill();
  const TailRun no_server = RunTail(Args({"--from", "1", "--idle-exit", "5"}));
  EXPECT_EQ(no_server.exit_code, 3) << no_server.stderr_text;
  EXPECT_NE(no_server.stderr_text.find("ledger-tail: connecting to " + nats_.url()),
            std::string::npos)
      << no_server.stderr_text;
}

// The publisher with --nats-format json: ledger-tail prints the payloads as they are, and
// checks their links.
class LedgerTailJsonTest : public LedgerTailTest {
 protected:
  LedgerTailJsonTest() : LedgerTailTest(PayloadFormat::kJson) {}
};

TEST_F(LedgerTailJsonTest, PrintsJsonPayloadsAndChecksTheirLinks) {
  ASSERT_NO_FATAL_FAILURE(Append(3));
  const TailRun run = RunTail(Args({"--from", "1", "--count", "3"}));
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.lines, ExpectedLines(1, 3)) << run.stderr_text;

  // Position 4 as JSON, linking to an all-zero hash instead of position 3's.
  std::string bytes;
  const Event event = Forge(4, Hash{}, &bytes);
  ASSERT_NO_FATAL_FAILURE(
      PublishRaw(4, event, EventToJson(event), event.envelope.hash, PayloadFormat::kJson));
  const TailRun broken = RunTail(Args({"--from", "2", "--idle-exit", "10"}));
  EXPECT_EQ(broken.exit_code, 1) << broken.stderr_text;
  EXPECT_EQ(broken.lines, ExpectedLines(2, 3));
  EXPECT_NE(broken.stderr_text.find("ledger-tail: chain broken at position 4: prev_hash " +
                                    HashToHex(Hash{}) + " is not the Ledger-Hash " +
                                    HashToHex(HashOf(3))),
            std::string::npos)
      << broken.stderr_text;
}

}  // namespace
}  // namespace ledger::transport
