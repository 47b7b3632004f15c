#include "transport/nats_common.h"

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "ledger/limits.h"

namespace ledger::transport {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// A NATS subject token or stream name: letters, digits, '_' and '-'.
bool IsToken(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (!IsTokenChar(c)) return false;
  }
  return true;
}

// A subject prefix: tokens separated by single dots.
bool IsSubjectPrefix(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    if (!IsToken(text.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

Error BadMessage(std::string message) {
  return MakeError(ErrorKind::kCorruption, "bad_message", std::move(message));
}

}  // namespace

std::string_view PayloadFormatName(PayloadFormat format) {
  return format == PayloadFormat::kJson ? "json" : "capnp";
}

std::optional<PayloadFormat> ParsePayloadFormat(std::string_view name) {
  if (name == "capnp") return PayloadFormat::kCapnp;
  if (name == "json") return PayloadFormat::kJson;
  return std::nullopt;
}

Status ValidateStreamOptions(const NatsStreamOptions& options) {
  if (options.url.empty()) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_nats_url",
                                     "the NATS URL is empty"));
  }
  if (!IsToken(options.stream)) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_stream",
                                     "a stream name is 1-64 letters, digits, '_' or '-'"));
  }
  if (!IsSubjectPrefix(options.subject_prefix)) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_subject_prefix",
                                     "a subject prefix is dot-separated tokens of letters, "
                                     "digits, '_' or '-' (no wildcards)"));
  }
  if (options.duplicate_window_ms < 1000 || options.duplicate_window_ms > 7 * 24 * 3600 * 1000LL) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_duplicate_window",
                                     "the duplicate window is 1 s .. 7 days"));
  }
  if (options.replicas < 1 || options.replicas > 5) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_replicas",
                                     "stream replicas are 1..5"));
  }
  return Ok();
}

struct NatsClosedLatch {
  std::mutex mutex;
  std::condition_variable changed;
  bool closed = false;
};

namespace {

void OnNatsClosed(natsConnection*, void* closure) {
  auto* latch = static_cast<NatsClosedLatch*>(closure);
  std::lock_guard lock(latch->mutex);
  latch->closed = true;
  latch->changed.notify_all();
}

}  // namespace

void NatsConnectionDeleter::operator()(natsConnection* connection) const {
  natsConnection_Close(connection);
  if (closed != nullptr) {
    // Without this wait a disconnected callback could still run after its closure (an object
    // of the caller's, e.g. ledger-tail's) was destroyed: AddressSanitizer caught it.
    std::unique_lock lock(closed->mutex);
    closed->changed.wait_for(lock, std::chrono::milliseconds(kNatsCloseWaitMs),
                             [&] { return closed->closed; });
  }
  natsConnection_Destroy(connection);
}

void NatsSubscriptionDeleter::operator()(natsSubscription* subscription) const {
  natsSubscription_Destroy(subscription);
}

Error NatsError(std::string_view what, natsStatus status, jsErrCode js_code) {
  std::string message = std::string(what) + ": " + natsStatus_GetText(status);
  if (js_code != 0) message += " (JetStream error " + std::to_string(js_code) + ")";
  if (const char* last = nats_GetLastError(nullptr); last != nullptr && *last != '\0') {
    message += ": ";
    message += last;
  }
  return MakeError(ErrorKind::kUnavailable, "nats_unavailable", std::move(message));
}

Result<NatsConnectionPtr> ConnectNats(const std::string& url, const std::string& name,
                                      const NatsConnectionEvents& events,
                                      std::int64_t reconnect_wait_ms) {
  natsOptions* raw_options = nullptr;
  if (natsStatus s = natsOptions_Create(&raw_options); s != NATS_OK) {
    return std::unexpected(NatsError("creating NATS options", s));
  }
  NatsOptionsPtr options(raw_options);
  natsStatus s = natsOptions_SetURL(options.get(), url.c_str());
  if (s == NATS_OK) s = natsOptions_SetName(options.get(), name.c_str());
  if (s == NATS_OK) s = natsOptions_SetTimeout(options.get(), 2000);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(options.get(), -1);
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(options.get(), reconnect_wait_ms);
  if (s == NATS_OK && events.disconnected != nullptr) {
    s = natsOptions_SetDisconnectedCB(options.get(), events.disconnected, events.closure);
  }
  if (s == NATS_OK && events.reconnected != nullptr) {
    s = natsOptions_SetReconnectedCB(options.get(), events.reconnected, events.closure);
  }
  // The latch outlives the connection: the deleter holds it until the closed callback ran.
  auto closed = std::make_shared<NatsClosedLatch>();
  if (s == NATS_OK) s = natsOptions_SetClosedCB(options.get(), &OnNatsClosed, closed.get());
  if (s != NATS_OK) return std::unexpected(NatsError("setting NATS options", s));
  natsConnection* connection = nullptr;
  s = natsConnection_Connect(&connection, options.get());
  if (s != NATS_OK) return std::unexpected(NatsError("connecting to " + url, s));
  return NatsConnectionPtr(connection, NatsConnectionDeleter{std::move(closed)});
}

Result<JsContextPtr> NewJetStream(natsConnection* connection, jsOptions* options) {
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, connection, options); s != NATS_OK) {
    return std::unexpected(NatsError("opening a JetStream context", s));
  }
  return JsContextPtr(js);
}

Status EnsureStream(jsCtx* js, const NatsStreamOptions& options) {
  const std::string subjects = options.subject_prefix + ".>";
  const char* subject_list[] = {subjects.c_str()};
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = options.stream.c_str();
  config.Subjects = subject_list;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  config.Duplicates = options.duplicate_window_ms * kNanosPerMilli;
  config.Replicas = static_cast<int64_t>(options.replicas);

  jsStreamInfo* info = nullptr;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, options.stream.c_str(), nullptr, &js_code);
  if (s == NATS_NOT_FOUND) {
    s = js_AddStream(&info, js, &config, nullptr, &js_code);
    if (s != NATS_OK) return std::unexpected(NatsError("creating stream " + options.stream, s, js_code));
    jsStreamInfo_Destroy(info);
    return Ok();
  }
  if (s != NATS_OK) {
    return std::unexpected(NatsError("reading stream " + options.stream, s, js_code));
  }
  bool takes_subjects = false;
  for (int i = 0; i < info->Config->SubjectsLen; ++i) {
    if (subjects == info->Config->Subjects[i]) takes_subjects = true;
  }
  const bool window_differs = info->Config->Duplicates != config.Duplicates;
  jsStreamInfo_Destroy(info);
  if (!takes_subjects) {
    return std::unexpected(MakeError(
        ErrorKind::kInvalidArgument, "stream_subjects_differ",
        "stream " + options.stream + " exists but does not take subjects " + subjects));
  }
  if (window_differs) {
    s = js_UpdateStream(&info, js, &config, nullptr, &js_code);
    if (s != NATS_OK) {
      return std::unexpected(
          NatsError("updating the duplicate window of stream " + options.stream, s, js_code));
    }
    jsStreamInfo_Destroy(info);
  }
  return Ok();
}

Result<StreamTail> ReadStreamTail(jsCtx* js, const std::string& stream) {
  jsStreamInfo* info = nullptr;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  natsStatus s = js_GetStreamInfo(&info, js, stream.c_str(), nullptr, &js_code);
  if (s == NATS_NOT_FOUND) {
    return std::unexpected(MakeError(ErrorKind::kNotFound, "stream_not_found",
                                     "JetStream stream " + stream + " does not exist"));
  }
  if (s != NATS_OK) return std::unexpected(NatsError("reading stream " + stream, s, js_code));
  StreamTail tail;
  tail.last_sequence = info->State.LastSeq;
  tail.messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  if (tail.messages == 0) return tail;

  natsMsg* raw = nullptr;
  s = js_GetMsg(&raw, js, stream.c_str(), tail.last_sequence, nullptr, &js_code);
  if (s != NATS_OK) {
    return std::unexpected(NatsError("reading the last message of stream " + stream, s, js_code));
  }
  NatsMsgPtr last(raw);
  auto headers = ReadLedgerHeaders(last.get());
  if (!headers) {
    return std::unexpected(BadMessage("the last message of stream " + stream + " (sequence " +
                                      std::to_string(tail.last_sequence) +
                                      ") is not a ledger event: " + headers.error().message));
  }
  tail.last_position = headers->position;
  tail.ledger_id = std::move(headers->ledger_id);
  tail.last_hash = headers->hash;
  return tail;
}

std::uint64_t SequenceOfPosition(std::uint64_t position, const StreamTail& tail) {
  if (!tail.last_position) return tail.last_sequence + 1;
  if (position > *tail.last_position) return tail.last_sequence + (position - *tail.last_position);
  const std::uint64_t back = *tail.last_position - position;
  return back >= tail.last_sequence ? 1 : tail.last_sequence - back;
}

std::string EventSubject(std::string_view prefix, EventType type) {
  std::string subject(prefix);
  subject.push_back('.');
  subject.append(EventTypeName(type));
  return subject;
}

std::string MessageId(std::string_view ledger_id, std::uint64_t position) {
  std::string id(ledger_id);
  id.push_back('-');
  id.append(std::to_string(position));
  return id;
}

std::optional<std::string_view> HeaderValue(natsMsg* message, const char* name) {
  const char* value = nullptr;
  if (natsMsgHeader_Get(message, name, &value) != NATS_OK || value == nullptr) {
    return std::nullopt;
  }
  return std::string_view(value);
}

Result<LedgerHeaders> ReadLedgerHeaders(natsMsg* message) {
  LedgerHeaders headers;
  auto required = [message](const char* name) -> Result<std::string_view> {
    auto value = HeaderValue(message, name);
    if (!value) return std::unexpected(BadMessage("header " + std::string(name) + " is missing"));
    return *value;
  };
  auto position_text = required(kHeaderPosition);
  if (!position_text) return std::unexpected(position_text.error());
  const char* end = position_text->data() + position_text->size();
  auto [ptr, ec] = std::from_chars(position_text->data(), end, headers.position);
  if (ec != std::errc() || ptr != end || headers.position == 0) {
    return std::unexpected(BadMessage("header Ledger-Position is not a position: '" +
                                      std::string(*position_text) + "'"));
  }
  auto id = required(kHeaderMsgId);
  if (!id) return std::unexpected(id.error());
  const std::size_t dash = id->rfind('-');
  if (dash == std::string_view::npos || dash == 0 ||
      id->substr(dash + 1) != std::to_string(headers.position)) {
    return std::unexpected(BadMessage("header Nats-Msg-Id '" + std::string(*id) +
                                      "' is not <ledger id>-<Ledger-Position>"));
  }
  headers.ledger_id = std::string(id->substr(0, dash));
  auto type = required(kHeaderEventType);
  if (!type) return std::unexpected(type.error());
  headers.event_type = std::string(*type);
  auto hash_text = required(kHeaderHash);
  if (!hash_text) return std::unexpected(hash_text.error());
  auto hash = HashFromHex(*hash_text);
  if (!hash) return std::unexpected(BadMessage("header Ledger-Hash is not 64 hex digits"));
  headers.hash = *hash;
  if (auto format = HeaderValue(message, kHeaderFormat)) {
    auto parsed = ParsePayloadFormat(*format);
    if (!parsed) {
      return std::unexpected(BadMessage("header Ledger-Format '" + std::string(*format) +
                                        "' is neither capnp nor json"));
    }
    headers.format = *parsed;
  }
  return headers;
}

}  // namespace ledger::transport
