// What the NATS publisher, the read replica, ledger-tail and ledger-bench share: the message
// format on the JetStream stream (docs/operations.md), RAII owners for the NATS C client's
// objects, and the few JetStream calls they all make.
//
// One message per event, in position order, on subject "<prefix>.<EventType>":
//   Nats-Msg-Id        <ledger id>-<position>   (JetStream de-duplication)
//   Ledger-Position    decimal position
//   Ledger-Event-Type  e.g. AssetChanged
//   Ledger-Hash        64 lowercase hex: SHA-256(prev_hash || canonical bytes)
//   Ledger-Format      json for JSON payloads; absent (or capnp) for Cap'n Proto payloads
// Payload: the canonical Cap'n Proto bytes exactly as stored (capnp), or the event as JSON, the
// shape GET /v1/events/{position} answers (json).
#pragma once

#include <nats/nats.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::transport {

// C strings: libnats takes header names as such.
inline constexpr char kHeaderMsgId[] = "Nats-Msg-Id";
inline constexpr char kHeaderPosition[] = "Ledger-Position";
inline constexpr char kHeaderEventType[] = "Ledger-Event-Type";
inline constexpr char kHeaderHash[] = "Ledger-Hash";
inline constexpr char kHeaderFormat[] = "Ledger-Format";

enum class PayloadFormat { kCapnp, kJson };
[[nodiscard]] std::string_view PayloadFormatName(PayloadFormat format);
[[nodiscard]] std::optional<PayloadFormat> ParsePayloadFormat(std::string_view name);

// Where the ledger's events live on NATS.
struct NatsStreamOptions {
  std::string url = "nats://127.0.0.1:4222";  // Comma-separated for a cluster.
  std::string stream = "LEDGER";
  std::string subject_prefix = "ledger";
  // JetStream's duplicate window for Nats-Msg-Id, set explicitly on the stream.
  std::int64_t duplicate_window_ms = 2 * 60 * 1000;
  // Stream replicas (1 on a single server, 3 on a 3-node cluster).
  int replicas = 1;
};
// kInvalidArgument for an empty or malformed stream name, prefix or window.
[[nodiscard]] Status ValidateStreamOptions(const NatsStreamOptions& options);

// Set by the connection's closed callback. The client runs its callbacks (disconnected,
// reconnected, closed) on its own thread, in order, possibly after natsConnection_Destroy has
// returned: once closed has run, no callback of that connection runs again, so the memory
// their closure points to may go.
struct NatsClosedLatch;
// Closes the connection, waits (at most kNatsCloseWaitMs) for its closed callback, destroys it.
struct NatsConnectionDeleter {
  std::shared_ptr<NatsClosedLatch> closed;
  void operator()(natsConnection* connection) const;
};
struct JsContextDeleter {
  void operator()(jsCtx* context) const { jsCtx_Destroy(context); }
};
struct NatsMsgDeleter {
  void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};
struct NatsSubscriptionDeleter {
  void operator()(natsSubscription* subscription) const;
};
struct NatsOptionsDeleter {
  void operator()(natsOptions* options) const { natsOptions_Destroy(options); }
};
using NatsConnectionPtr = std::unique_ptr<natsConnection, NatsConnectionDeleter>;
using JsContextPtr = std::unique_ptr<jsCtx, JsContextDeleter>;
using NatsMsgPtr = std::unique_ptr<natsMsg, NatsMsgDeleter>;
using NatsSubscriptionPtr = std::unique_ptr<natsSubscription, NatsSubscriptionDeleter>;
using NatsOptionsPtr = std::unique_ptr<natsOptions, NatsOptionsDeleter>;

// kUnavailable "nats_unavailable": `what` failed with `status` (and the client's last error).
[[nodiscard]] Error NatsError(std::string_view what, natsStatus status,
                              jsErrCode js_code = static_cast<jsErrCode>(0));

// Connection callbacks (run on the client's threads; must be quick and thread-safe).
struct NatsConnectionEvents {
  void (*disconnected)(natsConnection*, void* closure) = nullptr;
  void (*reconnected)(natsConnection*, void* closure) = nullptr;
  void* closure = nullptr;
};
// Connects to `url` as `name`, reconnecting forever (every `reconnect_wait_ms`) once connected.
[[nodiscard]] Result<NatsConnectionPtr> ConnectNats(const std::string& url, const std::string& name,
                                                    const NatsConnectionEvents& events = {},
                                                    std::int64_t reconnect_wait_ms = 250);
// A JetStream context on `connection`; `options` may be null.
[[nodiscard]] Result<JsContextPtr> NewJetStream(natsConnection* connection, jsOptions* options);

// Creates the stream if missing (subjects "<prefix>.>", file storage, the duplicate window);
// if it exists, checks it takes those subjects and updates the duplicate window if it differs.
[[nodiscard]] Status EnsureStream(jsCtx* js, const NatsStreamOptions& options);

// The end of the stream as the ledger sees it.
struct StreamTail {
  std::uint64_t last_sequence = 0;  // The stream's last sequence (0: nothing was ever stored).
  std::uint64_t messages = 0;       // Messages it still holds.
  // From the last stored message, when the stream holds one.
  std::optional<std::uint64_t> last_position;
  std::string ledger_id;
  Hash last_hash{};
};
// kNotFound "stream_not_found" if the stream does not exist; kCorruption if its last message
// lacks the ledger headers.
[[nodiscard]] Result<StreamTail> ReadStreamTail(jsCtx* js, const std::string& stream);

// The stream sequence that holds `position`. The publisher stores positions at consecutive
// sequences, so the last message fixes the offset for all; with no message, the sequence after
// the last one.
[[nodiscard]] std::uint64_t SequenceOfPosition(std::uint64_t position, const StreamTail& tail);

// "<prefix>.<EventType>".
[[nodiscard]] std::string EventSubject(std::string_view prefix, EventType type);
// "<ledger id>-<position>".
[[nodiscard]] std::string MessageId(std::string_view ledger_id, std::uint64_t position);

// The ledger headers of one message.
struct LedgerHeaders {
  std::string ledger_id;  // From Nats-Msg-Id.
  std::uint64_t position = 0;
  std::string event_type;
  Hash hash{};
  PayloadFormat format = PayloadFormat::kCapnp;
};
// kCorruption "bad_message" naming the missing or malformed header.
[[nodiscard]] Result<LedgerHeaders> ReadLedgerHeaders(natsMsg* message);
// The value of header `name`, or nullopt. Allocates nothing (called per message).
[[nodiscard]] std::optional<std::string_view> HeaderValue(natsMsg* message, const char* name);

}  // namespace ledger::transport
