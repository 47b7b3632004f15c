// Writes the binary seed corpora of the fuzz targets from the JSON command seeds, so they are
// real encoder output rather than hand-made bytes:
//
//   fuzz_make_seeds tests/fuzz/corpus
//
// binary_frames/: a hello, one batch per JSON seed plus one batch of all of them, a results
// frame with accepted and rejected replies, a refused batch and a connection error, each with
// its 4-byte length prefix. stored_events/: the stored bytes (EncodeEvent) of every event the
// JSON seeds produce when decided in order against a fresh ledger.
#include <capnp/message.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "commands/decide.h"
#include "commands/write_state.h"
#include "ledger/event_codec.h"
#include "ledger/status.h"
#include "tests/support/decided_event.h"
#include "transport/binary_protocol.h"
#include "transport/json_commands.h"

namespace {

using namespace ledger;
using namespace ledger::transport;
namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  LEDGER_ASSERT(out.good());
}

Result<commands::Command> DecodeSeed(const std::string& seed) {
  const char selector = seed.empty() ? '\0' : seed[0];
  const std::string_view body = std::string_view(seed).substr(seed.empty() ? 0 : 1);
  const auto wrap = [](auto decoded) -> Result<commands::Command> {
    if (!decoded) return std::unexpected(std::move(decoded.error()));
    return commands::Command{commands::CommandContext{.client_id = "seed", .is_admin = true},
                             std::move(*decoded)};
  };
  switch (selector) {
    case 'c': return wrap(DecodeChangeAsset(body));
    case 't': return wrap(DecodeTransfer(body));
    case 's': return wrap(DecodeSettleOrder(body));
    case 'r': return wrap(DecodeRefundOrder(body, "order-2"));
    case 'p': return wrap(DecodePayOut(body));
    case 'o': return wrap(DecodeOpenAccount(body));
    case 'm': return wrap(DecodeCreateCampaign(body));
    case 'g': return wrap(DecodeGrantVoucher(body, "spring"));
    case 'v': return wrap(DecodeRedeemVoucher(body, "spring"));
    default: return Fail(ErrorKind::kInvalidArgument, "bad_seed", "unknown selector");
  }
}

std::string BatchFrame(const std::vector<commands::Command>& commands, std::uint64_t id) {
  capnp::MallocMessageBuilder message;
  auto batch = message.initRoot<wire::Frame>().initBatch();
  batch.setRequestId(id);
  auto list = batch.initCommands(static_cast<unsigned>(commands.size()));
  for (std::size_t i = 0; i < commands.size(); ++i) {
    EncodeWireCommand(commands[i], list[static_cast<unsigned>(i)]);
  }
  return EncodeFrame(message);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR (tests/fuzz/corpus)\n");
    return 2;
  }
  const fs::path corpus = argv[1];
  std::vector<fs::path> seed_files;
  for (const auto& entry : fs::directory_iterator(corpus / "json_commands")) {
    seed_files.push_back(entry.path());
  }
  std::sort(seed_files.begin(), seed_files.end());

  std::vector<commands::Command> decoded;
  for (const auto& path : seed_files) {
    std::ifstream in(path, std::ios::binary);
    const std::string seed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto command = DecodeSeed(seed);
    if (!command) {
      std::fprintf(stderr, "%s: %s\n", path.c_str(), command.error().message.c_str());
      return 1;
    }
    command->context.idempotency_key = "seed-" + path.filename().string();
    decoded.push_back(std::move(*command));
  }

  const fs::path frames = corpus / "binary_frames";
  {
    capnp::MallocMessageBuilder message;
    auto hello = message.initRoot<wire::Frame>().initHello();
    hello.setVersion(wire::PROTOCOL_VERSION);
    hello.setToken("fuzz-writer-token-0123456789");
    WriteFile(frames / "hello", EncodeFrame(message));
  }
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    WriteFile(frames / ("batch_" + seed_files[i].filename().string()),
              BatchFrame({decoded[i]}, i + 1));
  }
  WriteFile(frames / "batch_all", BatchFrame(decoded, 99));
  {
    CommandReply accepted{.accepted = true, .position = 7, .stream_version = 2,
                          .event_type = EventType::kTransferred, .replayed = true};
    const CommandReply rejected = RejectionReply(
        MakeError(ErrorKind::kRejected, "insufficient_funds", "user:1 has 5 EUR, needs 7"));
    const CommandReply replies[] = {accepted, rejected};
    WriteFile(frames / "results", EncodeResults(5, replies, nullptr));
    CommandReply overloaded = RejectionReply(
        MakeError(ErrorKind::kOverloaded, "overloaded", "the command queue is full"));
    overloaded.retry_after_seconds = 1;
    WriteFile(frames / "results_refused", EncodeResults(6, {}, &overloaded));
  }
  WriteFile(frames / "connection_error", EncodeConnectionError("idle_timeout", "idle for 60 s"));

  // Events: decide the seeds in order (each against the state the earlier ones made).
  commands::WriteState state;
  std::uint64_t position = 0;
  const TimestampUs now_us = 1'795'000'000'000'000;
  std::size_t events = 0;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    auto decision = commands::Decide(state, decoded[i], now_us);
    if (!decision) continue;  // Rejected against this state: no event to store.
    Event event = commands::testing::ToEvent(state, std::move(*decision), ++position,
                                             decoded[i].context, now_us);
    state.Apply(event);
    std::string bytes;
    EncodeEvent(event, &bytes);
    WriteFile(corpus / "stored_events" / ("event_" + seed_files[i].filename().string()), bytes);
    ++events;
  }
  std::printf("wrote %zu frames and %zu events\n", decoded.size() + 5, events);
  return events > 0 ? 0 : 1;
}
