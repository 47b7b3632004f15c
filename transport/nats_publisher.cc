#include "transport/nats_publisher.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <utility>

#include "ledger/event_codec.h"
#include "ledger/limits.h"
#include "transport/json_events.h"

namespace ledger::transport {
namespace {

constexpr char kCursorKey[] = "cursor";
constexpr std::int64_t kCursorSaveIntervalUs = 200'000;
constexpr std::int64_t kIdleWaitUs = 100'000;
constexpr std::int64_t kStallWaitMs = 50;

std::int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Error Fatal(std::string code, std::string message) {
  return MakeError(ErrorKind::kConflict, std::move(code), std::move(message));
}

// Errors after which retrying cannot help: the stream belongs to someone else.
bool IsFatal(const Error& error) {
  return error.kind == ErrorKind::kConflict || error.kind == ErrorKind::kCorruption ||
         error.kind == ErrorKind::kInvalidArgument;
}

}  // namespace

// One connection to NATS. Members are destroyed in reverse order: the JetStream context
// before the connection it uses.
struct NatsPublisher::Session {
  NatsConnectionPtr connection;
  jsOptions js_options;
  JsContextPtr js;
  std::uint64_t next = 1;                  // The next position to publish.
  std::uint64_t expected_last_sequence = 0;  // The stream's sequence of the last one published.
  bool published_any = false;
};

NatsPublisher::NatsPublisher(Store& store, Metrics& metrics, NatsPublisherOptions options)
    : store_(store),
      metrics_(metrics),
      options_(std::move(options)),
      published_(metrics.GetCounter("ledger_publisher_published_total",
                                    "Events handed to JetStream (re-sends after errors included)")),
      acks_(metrics.GetCounter("ledger_publisher_acks_total",
                               "Publish acknowledgments received from JetStream")),
      duplicates_(metrics.GetCounter(
          "ledger_publisher_duplicates_total",
          "Acks for messages JetStream already held (dropped by its duplicate window)")),
      resyncs_(metrics.GetCounter("ledger_publisher_resyncs_total",
                                  "Times the publisher re-read the stream's end after an error")),
      errors_(metrics.GetCounter("ledger_publisher_errors_total",
                                 "Failed connects, refused publishes and missing acks")) {
  for (EventType type : kAllEventTypes) {
    const auto index = static_cast<std::size_t>(type);
    if (index >= subjects_.size()) subjects_.resize(index + 1);
    subjects_[index] = EventSubject(options_.stream.subject_prefix, type);
  }
}

NatsPublisher::~NatsPublisher() { Stop(); }

Status NatsPublisher::Start() {
  if (auto valid = ValidateStreamOptions(options_.stream); !valid) return valid;
  if (options_.in_flight_max < 1 || options_.in_flight_max > kNatsInFlightMax) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_in_flight",
                                     "in-flight messages are 1.." +
                                         std::to_string(kNatsInFlightMax)));
  }
  outbox_ = store_.ColumnFamily(kOutboxFamily);
  if (outbox_ == nullptr) {
    return std::unexpected(MakeError(ErrorKind::kInternal, "internal",
                                     "the store was opened without the outbox column family"));
  }
  ledger_id_ = store_.LedgerId();
  std::string value;
  rocksdb::Status status = store_.db()->Get(rocksdb::ReadOptions(), outbox_, kCursorKey, &value);
  if (status.ok()) {
    if (value.size() != 8) {
      return std::unexpected(MakeError(ErrorKind::kCorruption, "corruption",
                                       "the outbox cursor is not 8 bytes"));
    }
    saved_cursor_ = ReadBigEndian64(value.data());
  } else if (!status.IsNotFound()) {
    return std::unexpected(MakeError(ErrorKind::kUnavailable, "storage_unavailable",
                                     "reading the outbox cursor: " + status.ToString()));
  }
  // acked_ stays 0 until the stream's end was read: the cursor may belong to another stream.
  metrics_.SetGaugeFunction("ledger_publisher_acked_position",
                            "Last position JetStream acknowledged",
                            [this] { return static_cast<double>(acked_.load()); });
  metrics_.SetGaugeFunction("ledger_publisher_lag_events",
                            "Log head minus the last acknowledged position", [this] {
                              const std::uint64_t head = store_.HeadPosition();
                              const std::uint64_t acked = acked_.load();
                              return static_cast<double>(head > acked ? head - acked : 0);
                            });
  metrics_.SetGaugeFunction("ledger_publisher_connected", "1 while connected to NATS",
                            [this] { return connected_.load() ? 1.0 : 0.0; });
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void NatsPublisher::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  changed_.notify_all();
  thread_.join();
  metrics_.RemoveGaugeFunction("ledger_publisher_acked_position");
  metrics_.RemoveGaugeFunction("ledger_publisher_lag_events");
  metrics_.RemoveGaugeFunction("ledger_publisher_connected");
}

PublisherStatus NatsPublisher::Snapshot() const {
  PublisherStatus status;
  status.acked = acked_.load();
  status.head = store_.HeadPosition();
  std::lock_guard lock(mutex_);
  status.state = state_;
  status.error = error_;
  return status;
}

std::uint64_t NatsPublisher::WaitForAcked(std::uint64_t position, std::int64_t timeout_us) const {
  const std::int64_t deadline = NowUs() + timeout_us;
  while (acked_.load() < position && NowUs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return acked_.load();
}

void NatsPublisher::SetState(std::string_view state, std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  // Logged once per change, not once per retry while NATS stays away.
  if (error && (!error_ || error_->message != error->message)) {
    std::fprintf(stderr, "ledgerd: nats publisher: %s (%s)\n", error->message.c_str(),
                 error->code.c_str());
  }
  state_ = std::string(state);
  if (error) error_ = std::move(error);
  if (state == "publishing" || state == "following") error_.reset();  // Recovered.
}

void NatsPublisher::NoteAcked(std::uint64_t position) {
  std::uint64_t current = acked_.load();
  while (position > current && !acked_.compare_exchange_weak(current, position)) {
  }
}

void NatsPublisher::OnAck(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error,
                          void* closure) {
  auto* self = static_cast<NatsPublisher*>(closure);
  if (ack != nullptr) {
    if (auto text = HeaderValue(message, kHeaderPosition)) {
      std::uint64_t position = 0;
      std::from_chars(text->data(), text->data() + text->size(), position);
      self->NoteAcked(position);
    }
    self->acks_.Add();
    if (ack->Duplicate) self->duplicates_.Add();
    self->last_ack_us_.store(NowUs());
  } else if (error != nullptr) {
    self->errors_.Add();
    // Only the first refusal of a window says anything; the ones after it follow from it.
    if (!self->publish_failed_.exchange(true)) {
      const auto position = HeaderValue(message, kHeaderPosition);
      std::string text = "publishing position " + std::string(position.value_or("?")) + ": " +
                         natsStatus_GetText(error->Err);
      if (error->ErrText != nullptr) text += std::string(": ") + error->ErrText;
      std::lock_guard lock(self->mutex_);
      self->error_ = MakeError(ErrorKind::kUnavailable, "nats_publish_refused", std::move(text));
    }
  }
  natsMsg_Destroy(message);
}

void NatsPublisher::OnDisconnected(natsConnection*, void* closure) {
  auto* self = static_cast<NatsPublisher*>(closure);
  self->connected_.store(false);
  self->connection_changed_.store(true);
}

void NatsPublisher::OnReconnected(natsConnection*, void* closure) {
  auto* self = static_cast<NatsPublisher*>(closure);
  self->connected_.store(true);
  self->connection_changed_.store(true);
  self->changed_.notify_all();
}

void NatsPublisher::Loop() {
  while (!stopping_.load()) {
    RunSession();
    {
      std::lock_guard lock(mutex_);
      if (state_ == "failed") break;
    }
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(options_.retry_wait_ms),
                      [this] { return stopping_.load(); });
  }
  SaveCursor(true);
}

void NatsPublisher::RunSession() {
  Session session;
  SetState("connecting");
  auto connection = ConnectNats(options_.stream.url, "ledgerd-publisher",
                                {&OnDisconnected, &OnReconnected, this}, options_.retry_wait_ms);
  if (!connection) {
    errors_.Add();
    SetState("disconnected", connection.error());
    return;
  }
  session.connection = std::move(*connection);
  jsOptions_Init(&session.js_options);
  session.js_options.Wait = options_.ack_timeout_ms;
  session.js_options.PublishAsync.MaxPending = static_cast<int64_t>(options_.in_flight_max);
  session.js_options.PublishAsync.AckHandler = &OnAck;
  session.js_options.PublishAsync.AckHandlerClosure = this;
  session.js_options.PublishAsync.StallWait = kStallWaitMs;
  auto js = NewJetStream(session.connection.get(), &session.js_options);
  if (!js) {
    errors_.Add();
    SetState("disconnected", js.error());
    return;
  }
  session.js = std::move(*js);
  connected_.store(true);

  while (!stopping_.load()) {
    if (!connected_.load()) {
      // The client reconnects by itself; wait for it rather than fail requests meanwhile.
      SetState("disconnected");
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::milliseconds(kIdleWaitUs / 1000),
                        [this] { return stopping_.load() || connected_.load(); });
      continue;
    }
    if (auto synced = Resync(session); !synced) {
      errors_.Add();
      if (IsFatal(synced.error())) {
        SetState("failed", synced.error());
        stopping_.store(true);  // Nothing more this process can do; ledgerd goes on without it.
        return;
      }
      SetState("disconnected", synced.error());
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, std::chrono::milliseconds(options_.retry_wait_ms),
                        [this] { return stopping_.load(); });
      continue;
    }
    SetState("publishing");
    auto published = PublishAvailable(session);
    if (stopping_.load()) break;
    if (!published) {
      if (IsFatal(published.error())) {
        SetState("failed", published.error());
        stopping_.store(true);
        return;
      }
      SetState("disconnected", published.error());
    }
    resyncs_.Add();
  }
  // Stopping: let what is in flight be acknowledged, so the cursor is as fresh as it can be.
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = options_.ack_timeout_ms;
  (void)js_PublishAsyncComplete(session.js.get(), &wait);
  connected_.store(false);
}

Status NatsPublisher::Resync(Session& session) {
  connection_changed_.store(false);
  publish_failed_.store(false);
  // Take back what is still in flight: acks for it would come to nothing now. (libnats 3.4
  // crashes in this call before the context's first asynchronous publish.)
  if (session.published_any) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, session.js.get()) == NATS_OK) {
      natsMsgList_Destroy(&pending);
    }
  }
  if (auto ensured = EnsureStream(session.js.get(), options_.stream); !ensured) return ensured;
  auto tail = ReadStreamTail(session.js.get(), options_.stream.stream);
  if (!tail) return std::unexpected(tail.error());
  std::uint64_t last = 0;
  if (tail->last_position) {
    if (tail->ledger_id != ledger_id_) {
      return std::unexpected(Fatal(
          "stream_of_another_ledger",
          "stream " + options_.stream.stream + " holds events of ledger " + tail->ledger_id +
              ", this is ledger " + ledger_id_ + ": use another stream (--nats-stream)"));
    }
    last = *tail->last_position;
  } else if (tail->last_sequence > 0) {
    // The stream's limits removed every message: go on after the last acknowledged one.
    last = std::max(saved_cursor_, acked_.load());
  }
  const std::uint64_t head = store_.HeadPosition();
  if (last > head) {
    return std::unexpected(Fatal("stream_ahead_of_log",
                                 "stream " + options_.stream.stream + " holds position " +
                                     std::to_string(last) + " but this log ends at " +
                                     std::to_string(head)));
  }
  session.next = last + 1;
  session.expected_last_sequence = tail->last_sequence;
  acked_.store(last);
  last_ack_us_.store(NowUs());
  SaveCursor(true);
  return Ok();
}

Result<NatsMsgPtr> NatsPublisher::BuildMessage(const RawEvent& raw) {
  std::string json;
  std::string_view payload = raw.bytes;
  if (options_.format == PayloadFormat::kJson) {
    auto event = DecodeEvent(raw.bytes, raw.hash);
    if (!event) return std::unexpected(event.error());
    json = EventToJson(*event);
    payload = json;
  }
  const auto type_index = static_cast<std::size_t>(raw.type);
  if (type_index >= subjects_.size() || subjects_[type_index].empty()) {
    return std::unexpected(MakeError(ErrorKind::kCorruption, "corruption",
                                     "event " + std::to_string(raw.position) +
                                         " has an unknown type"));
  }
  natsMsg* message = nullptr;
  natsStatus s = natsMsg_Create(&message, subjects_[type_index].c_str(), nullptr, payload.data(),
                                static_cast<int>(payload.size()));
  if (s != NATS_OK) return std::unexpected(NatsError("creating a message", s));
  NatsMsgPtr owned(message);
  // Nats-Msg-Id is set by js_PublishMsgAsync from jsPubOptions.MsgId.
  char position[24];
  *std::to_chars(position, position + sizeof position - 1, raw.position).ptr = '\0';
  char hash[kHashHexChars + 1];
  HashToHexChars(raw.hash, hash);
  s = natsMsgHeader_Set(message, kHeaderPosition, position);
  // EventTypeName returns a string literal: NUL-terminated.
  if (s == NATS_OK) s = natsMsgHeader_Set(message, kHeaderEventType, EventTypeName(raw.type).data());
  if (s == NATS_OK) s = natsMsgHeader_Set(message, kHeaderHash, hash);
  // Absent means capnp: one header less per message on the default path.
  if (s == NATS_OK && options_.format == PayloadFormat::kJson) {
    s = natsMsgHeader_Set(message, kHeaderFormat, PayloadFormatName(options_.format).data());
  }
  if (s != NATS_OK) return std::unexpected(NatsError("setting message headers", s));
  return owned;
}

Status NatsPublisher::PublishAvailable(Session& session) {
  auto stalled = [this, &session]() -> std::optional<Error> {
    const std::uint64_t acked = acked_.load();
    if (session.next - 1 <= acked) return std::nullopt;
    const std::int64_t waited_us = NowUs() - last_ack_us_.load();
    if (waited_us <= options_.ack_timeout_ms * 1000) return std::nullopt;
    return MakeError(ErrorKind::kUnavailable, "nats_ack_timeout",
                     "no publish ack for " + std::to_string(waited_us / 1000) + " ms with " +
                         std::to_string(session.next - 1 - acked) + " messages in flight");
  };
  auto interrupted = [this] {
    return stopping_.load() || publish_failed_.load() || connection_changed_.load();
  };
  while (!interrupted()) {
    if (session.next > store_.HeadPosition()) {
      SaveCursor(false);
      (void)store_.WaitForHeadAbove(session.next - 1, kIdleWaitUs);
      if (auto error = stalled()) return std::unexpected(*error);
      continue;
    }
    auto events = store_.ReadRawFrom(session.next, options_.read_batch);
    if (!events) return std::unexpected(events.error());
    std::string id = ledger_id_ + '-';
    const std::size_t id_prefix = id.size();
    for (const RawEvent& raw_event : *events) {
      auto message = BuildMessage(raw_event);
      if (!message) return std::unexpected(message.error());
      id.resize(id_prefix);
      id.append(std::to_string(raw_event.position));
      jsPubOptions publish;
      jsPubOptions_Init(&publish);
      publish.MsgId = id.c_str();
      // 0 means "no expectation": only the very first message of a new stream goes without.
      publish.ExpectLastSeq = session.expected_last_sequence;
      if (acked_.load() + 1 == session.next) last_ack_us_.store(NowUs());  // Window was empty.
      natsMsg* raw = message->release();
      while (true) {
        const natsStatus s = js_PublishMsgAsync(session.js.get(), &raw, &publish);
        session.published_any = true;
        if (s == NATS_OK) break;
        if (s == NATS_TIMEOUT && !interrupted()) {  // The window is full: wait for acks.
          if (auto error = stalled()) {
            natsMsg_Destroy(raw);
            return std::unexpected(*error);
          }
          continue;
        }
        natsMsg_Destroy(raw);
        if (interrupted()) return Ok();
        return std::unexpected(NatsError("publishing position " + std::to_string(session.next), s));
      }
      ++session.next;
      ++session.expected_last_sequence;
      published_.Add();
    }
    SaveCursor(false);
  }
  return Ok();
}

void NatsPublisher::SaveCursor(bool force) {
  const std::uint64_t acked = acked_.load();
  const std::int64_t now = NowUs();
  if (acked == saved_cursor_ || (!force && now - saved_cursor_at_us_ < kCursorSaveIntervalUs)) {
    return;
  }
  std::string value;
  AppendBigEndian64(acked, &value);
  // Not synced: after a crash the stream's own last message says where publishing stands;
  // the cursor only matters when the stream's limits removed every message.
  rocksdb::Status status = store_.db()->Put(rocksdb::WriteOptions(), outbox_, kCursorKey, value);
  if (!status.ok()) {
    errors_.Add();
    return;
  }
  saved_cursor_ = acked;
  saved_cursor_at_us_ = now;
}

}  // namespace ledger::transport
