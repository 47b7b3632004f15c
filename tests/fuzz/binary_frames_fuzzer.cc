// libFuzzer target: binary-protocol frames (transport/binary_protocol.h), as the server reads
// them from clients and as the client library reads them from a server. Input: the bytes of a
// connection after the length prefix would have been read, i.e. a 4-byte little-endian length
// followed by the frame.
//
// The target does what both ends do with one frame: check the prefix (FrameLength), check the
// segment table (FrameReader::Check), then walk the frame: a hello's fields, every command of
// a batch through DecodeWireCommand (the server's validation), every result of a results frame
// through ReadCommandResult/ReadRejection (the client's). Cap'n Proto reports malformed
// messages as kj::Exception, which both ends catch; anything else escaping is a finding.
#include <capnp/message.h>
#include <kj/exception.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "ledger/limits.h"
#include "ledger/status.h"
#include "transport/auth.h"
#include "transport/binary_protocol.h"

namespace {

using namespace ledger;
using namespace ledger::transport;

void WalkFrame(wire::Frame::Reader frame, const Client& client) {
  switch (frame.which()) {
    case wire::Frame::HELLO: {
      auto hello = frame.getHello();
      (void)hello.getVersion();
      (void)hello.getToken().size();
      break;
    }
    case wire::Frame::BATCH: {
      // The server decodes up to kBinaryBatchCommandsMax (8,192) commands of a batch, each the
      // same way: the first kCommandsPerInput are enough for the fuzzer to reach every path,
      // and a list of 8,192 empty structs costs only a few bytes of input but 8,192 error
      // messages, which made this target 10 times slower than the others.
      constexpr std::size_t kCommandsPerInput = 64;
      auto commands = frame.getBatch().getCommands();
      const std::size_t count = std::min<std::size_t>(commands.size(), kCommandsPerInput);
      for (std::size_t i = 0; i < count; ++i) {
        auto command = DecodeWireCommand(commands[i], i, client);
        if (!command) {
          LEDGER_ASSERT(command.error().kind == ErrorKind::kInvalidArgument);
          LEDGER_ASSERT(!command.error().message.empty());
        }
      }
      break;
    }
    case wire::Frame::RESULTS: {
      auto results = frame.getResults();
      if (results.hasRefused()) (void)ReadRejection(results.getRefused());
      for (auto result : results.getResults()) (void)ReadCommandResult(result);
      break;
    }
    case wire::Frame::WELCOME:
      (void)frame.getWelcome().getClientId().size();
      break;
    case wire::Frame::ERROR:
      (void)frame.getError().getCode().size();
      (void)frame.getError().getMessage().size();
      break;
    case wire::Frame::UNSET:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Client client{.client_id = "fuzz", .roles = kRoleWriter};
  if (size < kFramePrefixBytes) return 0;
  auto length = FrameLength(data, kBinaryFrameBytesMax);
  if (!length) return 0;
  // The server reads exactly `length` bytes after the prefix; give it what the input has, as
  // a truncated connection would, only if it is whole words.
  const std::size_t available = std::min(*length, size - kFramePrefixBytes);
  if (available == 0 || available % sizeof(capnp::word) != 0) return 0;
  auto words = std::make_unique<capnp::word[]>(available / sizeof(capnp::word));
  std::memcpy(words.get(), data + kFramePrefixBytes, available);
  try {
    FrameReader reader(std::span<const capnp::word>(words.get(), available / sizeof(capnp::word)));
    if (!reader.Check()) return 0;
    WalkFrame(reader.Root(), client);
  } catch (const kj::Exception&) {
    // Malformed: both ends close the connection with malformed_frame.
  }
  return 0;
}
