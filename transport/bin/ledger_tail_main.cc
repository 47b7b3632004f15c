// ledger-tail: follows the ledger's JetStream stream (message format: transport/nats_common.h)
// and prints every event as one compact JSON object per line, the shape GET /v1/events/{pos}
// answers, checking the chain as it reads: positions consecutive, Ledger-Hash =
// SHA-256(prev_hash || payload), every prev_hash the Ledger-Hash of the position before.
//
// It reads through an ephemeral pull consumer created at a stream sequence, which it deletes on
// exit; the server drops it after kInactiveThresholdMs should ledger-tail die without that.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "ledger/event.h"
#include "ledger/event_codec.h"
#include "transport/json_events.h"
#include "transport/nats_common.h"
#include "transport/bin/cli.h"
#include "transport/url.h"

namespace {

using namespace ledger;

constexpr std::string_view kUsage =
    "Usage: ledger-tail --nats URL [--stream NAME] [--subject-prefix P] [--from POSITION]\n"
    "                   [--count N] [--idle-exit SECONDS]\n"
    "\n"
    "Prints the ledger's events from its NATS JetStream stream, one JSON object per line (the\n"
    "shape of GET /v1/events/{position}), checking the hash chain as it reads.\n"
    "\n"
    "  --nats URL            NATS server(s), e.g. nats://127.0.0.1:4222 (comma-separated)\n"
    "  --stream NAME         JetStream stream; default LEDGER\n"
    "  --subject-prefix P    subjects P.<EventType>; default ledger\n"
    "  --from POSITION       start at this position (1: everything the stream holds);\n"
    "                        default: only events published from now on\n"
    "  --count N             exit after printing N events\n"
    "  --idle-exit SECONDS   exit when no event arrived for this long (1..604800)\n"
    "  --help                print this and exit\n"
    "\n"
    "Exit status: 0 done (--count, --idle-exit, SIGINT, SIGTERM or stdout closed);\n"
    "1 the chain is broken ('ledger-tail: chain broken at position N: ...' on stderr) or stdout\n"
    "cannot be written; 2 usage error; 3 NATS unreachable or the stream missing.\n";

enum ExitCode : int { kExitDone = 0, kExitBroken = 1, kExitUsage = 2, kExitNats = 3 };

// This tool's limits (ledger/limits.h holds the server's).
constexpr int kFetchBatchMax = 256;  // Messages per pull request.
// Longest wait of one pull request: how late a signal or --idle-exit is noticed.
constexpr std::int64_t kFetchWaitMs = 200;
// Messages are acknowledged after each batch is printed; a batch still unacknowledged after
// this long (stdout blocked) is redelivered, and skipped as a redelivery.
constexpr std::int64_t kAckWaitMs = 60'000;
constexpr std::int64_t kInactiveThresholdMs = 30'000;
constexpr std::int64_t kRetryWaitMs = 250;      // Between attempts to re-create the consumer.
constexpr std::int64_t kNatsGiveUpMs = 60'000;  // NATS failing this long without pause: exit 3.
constexpr std::uint64_t kIdleExitSecondsMax = 7 * 24 * 3600;
constexpr std::int64_t kNanosPerMilli = 1'000'000;

struct Flags {
  transport::NatsStreamOptions nats;
  bool has_url = false;
  std::optional<std::uint64_t> from;
  std::optional<std::uint64_t> count;
  std::optional<std::int64_t> idle_exit_ms;
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "ledger-tail: %s\n\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  std::exit(kExitUsage);
}

// Applies one "--name value" pair; false if the value is invalid.
bool ApplyFlag(std::string_view name, std::string_view value, Flags* flags) {
  if (name == "--nats") {
    flags->nats.url = std::string(value);
    flags->has_url = true;
    return !value.empty();
  }
  if (name == "--stream") {
    flags->nats.stream = std::string(value);
    return true;  // Checked with the prefix by ValidateStreamOptions.
  }
  if (name == "--subject-prefix") {
    flags->nats.subject_prefix = std::string(value);
    return true;
  }
  std::uint64_t number = 0;
  if (name == "--from") {
    if (!transport::ParseUnsigned(value, &number) || number < 1) return false;
    flags->from = number;
    return true;
  }
  if (name == "--count") {
    if (!transport::ParseUnsigned(value, &number) || number < 1) return false;
    flags->count = number;
    return true;
  }
  if (name == "--idle-exit") {
    if (!transport::ParseUnsigned(value, &number) || number < 1 || number > kIdleExitSecondsMax) {
      return false;
    }
    flags->idle_exit_ms = static_cast<std::int64_t>(number) * 1000;
    return true;
  }
  UsageError("unknown flag " + std::string(name));
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  cli::ParseFlags(
      argc, argv, kUsage,
      [&flags](std::string_view name, std::string_view value) {
        return ApplyFlag(name, value, &flags);
      },
      [](const std::string& message) { UsageError(message); });
  if (!flags.has_url) UsageError("--nats is required");
  if (auto valid = transport::ValidateStreamOptions(flags.nats); !valid) {
    UsageError(valid.error().message);
  }
  return flags;
}

volatile std::sig_atomic_t stop_signal = 0;

void OnStopSignal(int number) { stop_signal = number; }

// SIGINT/SIGTERM end the loop, which then deletes the consumer and exits 0.
void CatchStopSignals() {
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // A closed stdout shows up as EPIPE instead.
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Why following ended before its time: the exit code, and a message for stderr ("" for none).
struct Stop {
  int exit_code = kExitDone;
  std::string message;
};
template <typename T>
using Step = std::expected<T, Stop>;

Stop ChainBroken(std::uint64_t position, const std::string& what) {
  return {kExitBroken, "chain broken at position " + std::to_string(position) + ": " + what};
}

Stop NatsFailure(const Error& error) { return {kExitNats, error.message}; }

std::string LinkMismatch(std::uint64_t position, const Hash& prev_hash, const Hash& expected) {
  if (position == 1) {
    return "prev_hash " + HashToHex(prev_hash) + " is not all zero (position 1 starts the chain)";
  }
  return "prev_hash " + HashToHex(prev_hash) + " is not the Ledger-Hash " + HashToHex(expected) +
         " of position " + std::to_string(position - 1);
}

// Set from the NATS client's threads.
struct ConnectionEvents {
  std::atomic<bool> disconnected{false};
  std::atomic<bool> reconnected{false};
};

void OnDisconnected(natsConnection*, void* closure) {
  static_cast<ConnectionEvents*>(closure)->disconnected.store(true);
}

void OnReconnected(natsConnection*, void* closure) {
  static_cast<ConnectionEvents*>(closure)->reconnected.store(true);
}

// Where the chain stands: what the next message must carry.
struct ChainState {
  std::optional<std::uint64_t> next_position;  // nullopt: whatever comes first.
  // The hash the next event must link to; nullopt until the first message when not known.
  std::optional<Hash> prev_hash;
  bool first = true;      // No message handled yet.
  std::string ledger_id;  // Of the messages so far ("" until the first).
};

class Tail {
 public:
  explicit Tail(Flags flags) : flags_(std::move(flags)) {}

  // Connects, follows until done, deletes the consumer; the exit code.
  int Run();

 private:
  [[nodiscard]] Step<void> Start();
  [[nodiscard]] Step<void> Subscribe(std::uint64_t start_sequence);
  void Unsubscribe();
  [[nodiscard]] Step<void> Follow();
  [[nodiscard]] Step<void> Resume();
  [[nodiscard]] Step<void> Recover(const Error& error);
  [[nodiscard]] Error ReadError(natsStatus status,
                                jsErrCode code = static_cast<jsErrCode>(0)) const {
    return transport::NatsError("reading stream " + flags_.nats.stream, status, code);
  }
  [[nodiscard]] Step<void> HandleBatch(const natsMsgList& messages);
  // The message's JSON line, or nullopt for a message already handled, delivered again.
  [[nodiscard]] Step<std::optional<std::string>> Handle(natsMsg* message);
  // Whether `position`, at stream `sequence`, is the one due: true if so, false for one before
  // the start position (skipped), an error if the order is broken.
  [[nodiscard]] Step<bool> CheckOrder(std::uint64_t position, std::uint64_t sequence) const;
  // The hash position `position` (at stream `sequence`) must link to, looked up on the stream;
  // nullopt (with a warning) if the stream no longer holds the position before it.
  [[nodiscard]] Step<std::optional<Hash>> LinkBefore(std::uint64_t position,
                                                     std::uint64_t sequence);
  [[nodiscard]] Step<std::string> CheckCapnp(const transport::LedgerHeaders& headers,
                                             std::string_view payload) const;
  [[nodiscard]] Step<std::string> CheckJson(const transport::LedgerHeaders& headers,
                                            std::string_view payload) const;
  [[nodiscard]] Step<void> Write(const std::string& line);
  [[nodiscard]] Step<void> Flush();
  [[nodiscard]] bool CountReached() const { return flags_.count && printed_ >= *flags_.count; }

  const Flags flags_;
  // Declared before the connection, whose callbacks use it, so it outlives it.
  ConnectionEvents events_;
  transport::NatsConnectionPtr connection_;
  transport::JsContextPtr js_;
  transport::NatsSubscriptionPtr subscription_;
  ChainState chain_;
  std::uint64_t start_sequence_ = 1;  // Where the first consumer started.
  bool start_guessed_ = false;        // start_sequence_ came from SequenceOfPosition.
  std::uint64_t next_sequence_ = 1;   // Where a re-created consumer starts.
  std::uint64_t printed_ = 0;
  std::int64_t failing_since_ms_ = 0;  // Start of the current run of NATS failures; 0 if none.
};

int Tail::Run() {
  Step<void> done = Start();
  if (done) done = Follow();
  Unsubscribe();
  if (done) done = Flush();
  if (!done) {
    if (!done.error().message.empty()) {
      std::fprintf(stderr, "ledger-tail: %s\n", done.error().message.c_str());
    }
    return done.error().exit_code;
  }
  return kExitDone;
}

Step<void> Tail::Start() {
  auto connection = transport::ConnectNats(flags_.nats.url, "ledger-tail",
                                           {&OnDisconnected, &OnReconnected, &events_});
  if (!connection) return std::unexpected(NatsFailure(connection.error()));
  connection_ = std::move(*connection);
  auto js = transport::NewJetStream(connection_.get(), nullptr);
  if (!js) return std::unexpected(NatsFailure(js.error()));
  js_ = std::move(*js);
  auto tail = transport::ReadStreamTail(js_.get(), flags_.nats.stream);
  if (!tail) {
    const bool corrupt = tail.error().kind == ErrorKind::kCorruption;
    return std::unexpected(Stop{corrupt ? kExitBroken : kExitNats, tail.error().message});
  }
  if (tail->last_position) chain_.ledger_id = tail->ledger_id;
  if (flags_.from) {
    chain_.next_position = *flags_.from;
    if (*flags_.from == 1) chain_.prev_hash = Hash{};
    // Position 1 is the stream's first message whatever happened later (a duplicate stored
    // after it shifts where SequenceOfPosition looks).
    start_guessed_ = *flags_.from > 1;
    next_sequence_ = start_guessed_ ? transport::SequenceOfPosition(*flags_.from, *tail) : 1;
  } else {
    // Rather than DeliverNew: the sequence after the tail just read, so nothing published
    // between reading the tail and creating the consumer is missed, and the first new event's
    // link to the tail can be checked.
    next_sequence_ = tail->last_sequence + 1;
    if (tail->last_position) {
      chain_.next_position = *tail->last_position + 1;
      chain_.prev_hash = tail->last_hash;
    } else if (tail->last_sequence == 0) {  // A new stream starts at position 1.
      chain_.next_position = 1;
      chain_.prev_hash = Hash{};
    }
  }
  start_sequence_ = next_sequence_;
  if (auto subscribed = Subscribe(next_sequence_); !subscribed) return subscribed;
  const std::string from =
      chain_.next_position ? "position " + std::to_string(*chain_.next_position) : "the next event";
  std::fprintf(stderr, "ledger-tail: following stream %s from %s (stream sequence %llu)\n",
               flags_.nats.stream.c_str(), from.c_str(),
               static_cast<unsigned long long>(next_sequence_));
  return {};
}

Step<void> Tail::Subscribe(std::uint64_t start_sequence) {
  Unsubscribe();
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = flags_.nats.stream.c_str();
  options.Config.DeliverPolicy = js_DeliverByStartSequence;
  options.Config.OptStartSeq = start_sequence;
  options.Config.AckPolicy = js_AckAll;  // One ack per printed batch.
  options.Config.AckWait = kAckWaitMs * kNanosPerMilli;
  options.Config.MaxAckPending = kFetchBatchMax * 4;
  options.Config.InactiveThreshold = kInactiveThresholdMs * kNanosPerMilli;
  const std::string subject = flags_.nats.subject_prefix + ".>";
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  // No durable name: an ephemeral consumer.
  const natsStatus s =
      js_PullSubscribe(&raw, js_.get(), subject.c_str(), nullptr, nullptr, &options, &code);
  if (s != NATS_OK) {
    return std::unexpected(NatsFailure(
        transport::NatsError("creating a consumer on stream " + flags_.nats.stream, s, code)));
  }
  subscription_.reset(raw);
  return {};
}

// Unsubscribing deletes the consumer the client library created for us.
void Tail::Unsubscribe() {
  if (subscription_ == nullptr) return;
  (void)natsSubscription_Unsubscribe(subscription_.get());
  subscription_.reset();
}

Step<void> Tail::Follow() {
  std::int64_t last_arrival_ms = NowMs();
  while (stop_signal == 0 && !CountReached()) {
    if (flags_.idle_exit_ms && NowMs() - last_arrival_ms >= *flags_.idle_exit_ms) return {};
    if (events_.reconnected.exchange(false)) {
      if (auto resumed = Resume(); !resumed) return resumed;
    }
    int batch = kFetchBatchMax;
    if (flags_.count && *flags_.count - printed_ < static_cast<std::uint64_t>(batch)) {
      batch = static_cast<int>(*flags_.count - printed_);
    }
    natsMsgList messages{};
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus s =
        natsSubscription_Fetch(&messages, subscription_.get(), batch, kFetchWaitMs, &code);
    if (s == NATS_TIMEOUT && !events_.disconnected.load()) {
      failing_since_ms_ = 0;
      continue;
    }
    if (s == NATS_TIMEOUT) {  // Disconnected: the client is reconnecting.
      if (auto recovered = Recover(ReadError(NATS_CONNECTION_DISCONNECTED)); !recovered) {
        return recovered;
      }
      continue;
    }
    if (s != NATS_OK) {
      if (auto recovered = Recover(ReadError(s, code)); !recovered) return recovered;
      continue;
    }
    failing_since_ms_ = 0;
    last_arrival_ms = NowMs();
    Step<void> handled = HandleBatch(messages);
    natsMsgList_Destroy(&messages);
    if (!handled) return handled;
  }
  return {};
}

// After a reconnect the server may have lost the consumer (a restart): re-create it where we
// are. Messages the old one still delivers are skipped by their sequence.
Step<void> Tail::Resume() {
  events_.disconnected.store(false);
  std::fprintf(stderr, "ledger-tail: reconnected to NATS, resuming at stream sequence %llu\n",
               static_cast<unsigned long long>(next_sequence_));
  if (auto subscribed = Subscribe(next_sequence_); !subscribed) {
    return Recover(MakeError(ErrorKind::kUnavailable, "nats_unavailable",
                             std::move(subscribed.error().message)));
  }
  return {};
}

// After a failed pull: gives up if the connection is closed or NATS has failed for
// kNatsGiveUpMs, else waits a little and re-creates the consumer where we are.
Step<void> Tail::Recover(const Error& error) {
  const std::int64_t now = NowMs();
  if (failing_since_ms_ == 0) {
    failing_since_ms_ = now;
    std::fprintf(stderr, "ledger-tail: %s; retrying\n", error.message.c_str());
  }
  if (natsConnection_Status(connection_.get()) == NATS_CONN_STATUS_CLOSED ||
      now - failing_since_ms_ >= kNatsGiveUpMs) {
    return std::unexpected(NatsFailure(error));
  }
  for (std::int64_t waited = 0; waited < kRetryWaitMs && stop_signal == 0; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (natsConnection_Status(connection_.get()) == NATS_CONN_STATUS_CONNECTED) {
    (void)Subscribe(next_sequence_);  // Failing again shows up at the next pull.
  }
  return {};
}

Step<void> Tail::HandleBatch(const natsMsgList& messages) {
  natsMsg* last_handled = nullptr;
  Step<void> result;
  for (int i = 0; i < messages.Count && !CountReached(); ++i) {
    auto line = Handle(messages.Msgs[i]);
    if (!line) {
      result = std::unexpected(line.error());
      break;
    }
    last_handled = messages.Msgs[i];
    if (!*line) continue;  // Delivered again, or before the start position.
    if (auto written = Write(**line); !written) {
      result = written;
      break;
    }
    ++printed_;
  }
  // The consumer acknowledges everything up to the last message handled (js_AckAll).
  if (last_handled != nullptr) (void)natsMsg_Ack(last_handled, nullptr);
  if (!result) return result;
  return Flush();
}

Step<std::optional<std::string>> Tail::Handle(natsMsg* message) {
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) != NATS_OK) {
    return std::unexpected(Stop{kExitNats, "a message without JetStream metadata arrived"});
  }
  const std::uint64_t sequence = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  // A sequence handled already: delivered again (no ack in time, or a consumer the server
  // restored after a restart), not a second copy on the stream.
  if (sequence < next_sequence_) return std::optional<std::string>();
  const std::uint64_t due = chain_.next_position.value_or(0);
  auto headers = transport::ReadLedgerHeaders(message);
  if (!headers) {
    const std::string what = "stream sequence " + std::to_string(sequence) +
                             " is not a ledger event: " + headers.error().message;
    if (due == 0) return std::unexpected(Stop{kExitBroken, "chain broken: " + what});
    return std::unexpected(ChainBroken(due, what));
  }
  const std::uint64_t position = headers->position;
  auto in_order = CheckOrder(position, sequence);
  if (!in_order) return std::unexpected(in_order.error());
  if (!*in_order) return std::optional<std::string>();
  if (!chain_.ledger_id.empty() && headers->ledger_id != chain_.ledger_id) {
    return std::unexpected(ChainBroken(position, "a message of ledger " + headers->ledger_id +
                                                     " in a stream of ledger " + chain_.ledger_id));
  }
  const std::string subject = natsMsg_GetSubject(message);
  if (subject != flags_.nats.subject_prefix + "." + headers->event_type) {
    return std::unexpected(ChainBroken(
        position,
        "subject " + subject + " does not match Ledger-Event-Type " + headers->event_type));
  }
  if (chain_.first && !chain_.prev_hash) {
    auto link = LinkBefore(position, sequence);
    if (!link) return std::unexpected(link.error());
    chain_.prev_hash = *link;
  }
  const std::string_view payload(natsMsg_GetData(message),
                                 static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  auto line = headers->format == transport::PayloadFormat::kCapnp ? CheckCapnp(*headers, payload)
                                                                  : CheckJson(*headers, payload);
  if (!line) return std::unexpected(line.error());
  chain_.first = false;
  chain_.next_position = position + 1;
  chain_.prev_hash = headers->hash;
  chain_.ledger_id = headers->ledger_id;
  next_sequence_ = sequence + 1;
  return std::optional<std::string>(std::move(*line));
}

Step<bool> Tail::CheckOrder(std::uint64_t position, std::uint64_t sequence) const {
  if (!chain_.next_position) return true;  // The first message, wherever the stream starts.
  const std::uint64_t due = *chain_.next_position;
  if (position == due) return true;
  // Not there yet: the start sequence was counted from a stream end that had not reached the
  // start position (or from an empty stream).
  if (chain_.first && position < due) return false;
  const std::string where = "stream sequence " + std::to_string(sequence);
  if (chain_.first && start_guessed_ && sequence == start_sequence_) {
    // SequenceOfPosition counted back from the stream's last message, assuming one sequence
    // per position.
    return std::unexpected(ChainBroken(
        due, "not at " + where + ", where the stream's end puts it (position " +
                 std::to_string(position) + " is there): the stream has a gap or a duplicate"));
  }
  if (chain_.first) {  // Removed by the stream's limits, or never there.
    return std::unexpected(
        ChainBroken(due, "not on the stream: the first message from stream sequence " +
                             std::to_string(start_sequence_) + " on is position " +
                             std::to_string(position) + " (" + where + ")"));
  }
  if (position < due) {
    return std::unexpected(ChainBroken(due, "position " + std::to_string(position) +
                                                " delivered again (a duplicate, " + where + ")"));
  }
  return std::unexpected(ChainBroken(due, "missing: the stream delivered position " +
                                              std::to_string(position) + " in its place (" + where +
                                              ")"));
}

Step<std::optional<Hash>> Tail::LinkBefore(std::uint64_t position, std::uint64_t sequence) {
  if (position == 1) return Hash{};
  const std::string before = std::to_string(position - 1);
  auto unchecked = [&]() -> Step<std::optional<Hash>> {
    std::fprintf(stderr,
                 "ledger-tail: stream %s no longer holds position %s: the link of position %llu "
                 "to it is not checked\n",
                 flags_.nats.stream.c_str(), before.c_str(),
                 static_cast<unsigned long long>(position));
    return std::optional<Hash>();
  };
  if (sequence <= 1) return unchecked();
  natsMsg* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s =
      js_GetMsg(&raw, js_.get(), flags_.nats.stream.c_str(), sequence - 1, nullptr, &code);
  if (s == NATS_NOT_FOUND) return unchecked();
  if (s != NATS_OK) {
    return std::unexpected(NatsFailure(transport::NatsError(
        "reading position " + before + " from stream " + flags_.nats.stream, s, code)));
  }
  transport::NatsMsgPtr previous(raw);
  auto headers = transport::ReadLedgerHeaders(previous.get());
  if (!headers || headers->position != position - 1) {
    return std::unexpected(
        ChainBroken(position, "the message before it on the stream (sequence " +
                                  std::to_string(sequence - 1) + ") is not position " + before +
                                  (headers ? " but " + std::to_string(headers->position)
                                           : ": " + headers.error().message)));
  }
  return std::optional<Hash>(headers->hash);
}

Step<std::string> Tail::CheckCapnp(const transport::LedgerHeaders& headers,
                                   std::string_view payload) const {
  const std::uint64_t position = headers.position;
  auto event = DecodeEvent(payload, headers.hash);
  if (!event) {
    return std::unexpected(
        ChainBroken(position, "the payload does not decode: " + event.error().message));
  }
  const Envelope& envelope = event->envelope;
  const Hash computed = ChainHash(envelope.prev_hash, payload);
  if (computed != headers.hash) {
    return std::unexpected(ChainBroken(position, "Ledger-Hash " + HashToHex(headers.hash) +
                                                     " is not SHA-256(prev_hash || payload) " +
                                                     HashToHex(computed)));
  }
  if (envelope.position != position) {
    return std::unexpected(ChainBroken(
        position, "the event in the payload is position " + std::to_string(envelope.position)));
  }
  if (EventTypeName(envelope.type) != headers.event_type) {
    return std::unexpected(ChainBroken(
        position, "the event in the payload is a " + std::string(EventTypeName(envelope.type)) +
                      ", Ledger-Event-Type says " + headers.event_type));
  }
  if (chain_.prev_hash && envelope.prev_hash != *chain_.prev_hash) {
    return std::unexpected(
        ChainBroken(position, LinkMismatch(position, envelope.prev_hash, *chain_.prev_hash)));
  }
  return transport::EventToJson(*event);
}

// A JSON payload carries no canonical bytes to hash: it must agree with its headers and link
// to the previous Ledger-Hash.
Step<std::string> Tail::CheckJson(const transport::LedgerHeaders& headers,
                                  std::string_view payload) const {
  const std::uint64_t position = headers.position;
  rapidjson::Document document;
  document.Parse(payload.data(), payload.size());
  if (document.HasParseError() || !document.IsObject()) {
    return std::unexpected(ChainBroken(position, "the payload is not a JSON object"));
  }
  auto hash_field = [&document](const char* name) -> std::optional<Hash> {
    const auto member = document.FindMember(name);
    if (member == document.MemberEnd() || !member->value.IsString()) return std::nullopt;
    return HashFromHex(
        std::string_view(member->value.GetString(), member->value.GetStringLength()));
  };
  const auto position_field = document.FindMember("position");
  if (position_field == document.MemberEnd() || !position_field->value.IsUint64() ||
      position_field->value.GetUint64() != position) {
    return std::unexpected(
        ChainBroken(position, "the payload's \"position\" is not " + std::to_string(position)));
  }
  if (hash_field("hash") != headers.hash) {
    return std::unexpected(ChainBroken(
        position, "the payload's \"hash\" is not Ledger-Hash " + HashToHex(headers.hash)));
  }
  const std::optional<Hash> prev_hash = hash_field("prev_hash");
  if (!prev_hash) {
    return std::unexpected(ChainBroken(position, "the payload has no valid \"prev_hash\""));
  }
  if (chain_.prev_hash && *prev_hash != *chain_.prev_hash) {
    return std::unexpected(
        ChainBroken(position, LinkMismatch(position, *prev_hash, *chain_.prev_hash)));
  }
  if (payload.find_first_of("\r\n") == std::string_view::npos) return std::string(payload);
  // Pretty-printed: one line per event all the same.
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  document.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

Step<void> Tail::Write(const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), stdout) == line.size() &&
      std::fputc('\n', stdout) != EOF) {
    return {};
  }
  if (errno == EPIPE) return std::unexpected(Stop{kExitDone, ""});  // The reader is gone.
  return std::unexpected(Stop{kExitBroken, std::string("writing stdout: ") + std::strerror(errno)});
}

Step<void> Tail::Flush() {
  if (std::fflush(stdout) == 0) return {};
  if (errno == EPIPE) return std::unexpected(Stop{kExitDone, ""});
  return std::unexpected(Stop{kExitBroken, std::string("writing stdout: ") + std::strerror(errno)});
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  CatchStopSignals();
  int exit_code = kExitDone;
  {
    Tail tail(flags);
    exit_code = tail.Run();
  }
  nats_Close();
  return exit_code;
}
