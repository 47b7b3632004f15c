// The binary command protocol's codec (docs/protocol.md, transport/schema/protocol.capnp):
// frames <-> bytes, commands <-> their wire form, and the per-command results. The server
// (binary_server.h) and the client library (binary_client.h) share it, so both sides agree by
// construction; nothing here touches a socket.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "commands/command.h"
#include "commands/sequencer.h"
#include "ledger/event.h"
#include "ledger/status.h"
#include "transport/auth.h"
#include "transport/schema/protocol.capnp.h"

namespace ledger::transport {

// Bytes of the little-endian length that precedes every frame.
inline constexpr std::size_t kFramePrefixBytes = 4;

// The frame length a prefix announces, checked: kInvalidArgument "malformed_frame" unless it is a
// non-zero multiple of 8, kTooLarge "frame_too_large" above `frame_bytes_max`.
[[nodiscard]] Result<std::size_t> FrameLength(const unsigned char prefix[kFramePrefixBytes],
                                              std::size_t frame_bytes_max);

// The prefix and message of `message` as one buffer, ready to write.
[[nodiscard]] std::string EncodeFrame(capnp::MessageBuilder& message);

// Reads a frame's message. `words` must stay alive and unchanged while the reader is used.
// The reader's traversal limit is 8 times the frame's size, so a message cannot make its reader
// walk much more than it carries (Cap'n Proto counts every visit of shared or re-read data).
// Decoding errors throw kj::Exception, from the constructor (a segment table that does not fit)
// or later from the accessors; the server and the client catch them.
class FrameReader {
 public:
  explicit FrameReader(std::span<const capnp::word> words);
  // kInvalidArgument "malformed_frame" when the segment table does not describe exactly the
  // frame's bytes (truncated, or trailing bytes).
  [[nodiscard]] Status Check() const;
  [[nodiscard]] wire::Frame::Reader Root();

 private:
  std::span<const capnp::word> words_;
  capnp::FlatArrayMessageReader reader_;
};

// One command of a batch, decoded for the sequencer, or the reason it was refused
// (kInvalidArgument naming the field: "commands[3].changeAsset.account: missing required field").
// `client` supplies the context's client id and admin flag. Text must be valid UTF-8; every
// required Text field must be set. May throw kj::Exception on a malformed message.
[[nodiscard]] Result<commands::Command> DecodeWireCommand(wire::Command::Reader command,
                                                          std::size_t index,
                                                          const Client& client);

// Fills `out` with `command`'s wire form (the client library's side). Context ids that are ""
// are left unset.
void EncodeWireCommand(const commands::Command& command, wire::Command::Builder out);

// What one command came to, as the server reports it.
struct CommandReply {
  bool accepted = false;
  // Accepted:
  std::uint64_t position = 0;
  std::uint64_t stream_version = 0;
  EventType event_type = EventType::kAccountOpened;
  bool replayed = false;
  Hash hash{};
  // Rejected:
  std::string code;
  std::string message;
  std::uint16_t http_status = 0;
  std::uint32_t retry_after_seconds = 0;
};

// The reply of a command whose outcome the sequencer reported.
[[nodiscard]] CommandReply ReplyFor(const Result<commands::CommandOutcome>& outcome);
// The reply of a command refused with `error`.
[[nodiscard]] CommandReply RejectionReply(const Error& error);

// A BatchResults frame: `replies` in order, or `refused` for the whole batch.
[[nodiscard]] std::string EncodeResults(std::uint64_t request_id,
                                        std::span<const CommandReply> replies,
                                        const CommandReply* refused);
// A ConnectionError frame.
[[nodiscard]] std::string EncodeConnectionError(std::string_view code, std::string_view message);

// Reads a reply (Accepted or Rejection) back from the wire.
[[nodiscard]] CommandReply ReadCommandResult(wire::CommandResult::Reader result);
[[nodiscard]] CommandReply ReadRejection(wire::Rejection::Reader rejection);

}  // namespace ledger::transport
