#include "transport/nats_replica.h"

#include <chrono>
#include <cstdio>
#include <utility>
#include <vector>

namespace ledger::transport {
namespace {

constexpr std::int64_t kNanosPerMilli = 1'000'000;
// A fetched but unacknowledged message is redelivered after this long (the replica never holds
// one longer than a synced write).
constexpr std::int64_t kAckWaitMs = 30'000;

Error Refused(std::string code, std::string message) {
  return MakeError(ErrorKind::kConflict, std::move(code), std::move(message));
}

bool IsFatal(const Error& error) {
  return error.kind == ErrorKind::kConflict || error.kind == ErrorKind::kCorruption ||
         error.kind == ErrorKind::kInvalidArgument;
}

}  // namespace

struct NatsReplica::Session {
  NatsConnectionPtr connection;
  JsContextPtr js;
  NatsSubscriptionPtr subscription;
  bool delivered = false;  // Whether this session appended or skipped anything yet.
};

NatsReplica::NatsReplica(Store& store, Metrics& metrics, NatsReplicaOptions options)
    : store_(store),
      metrics_(metrics),
      options_(std::move(options)),
      applied_(metrics.GetCounter("ledger_replica_events_total",
                                  "Events the replica appended to its log from the stream")),
      redelivered_(metrics.GetCounter(
          "ledger_replica_redelivered_total",
          "Messages at or below the replica's head (redeliveries), acknowledged and skipped")),
      errors_(metrics.GetCounter("ledger_replica_errors_total",
                                 "Failed connects, fetches and writes of the replica")) {}

NatsReplica::~NatsReplica() { Stop(); }

Status NatsReplica::Start() {
  if (auto valid = ValidateStreamOptions(options_.stream); !valid) return valid;
  if (options_.fetch_batch < 1 || options_.fetch_batch > kNatsFetchBatchMax) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_fetch_batch",
                                     "the fetch batch is 1.." + std::to_string(kNatsFetchBatchMax)));
  }
  if (options_.consumer.empty() || options_.consumer.size() > 64 ||
      options_.consumer.find_first_of(" .*>") != std::string::npos) {
    return std::unexpected(MakeError(ErrorKind::kInvalidArgument, "invalid_consumer",
                                     "a consumer name is 1-64 characters without spaces, '.', "
                                     "'*' or '>'"));
  }
  metrics_.SetGaugeFunction("ledger_replica_position", "The replica's log head",
                            [this] { return static_cast<double>(store_.HeadPosition()); });
  metrics_.SetGaugeFunction("ledger_replica_pending_events",
                            "Messages the stream still has for this replica (last known)",
                            [this] { return static_cast<double>(pending_.load()); });
  thread_ = std::thread([this] { Loop(); });
  return Ok();
}

void NatsReplica::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  stop_.notify_all();
  thread_.join();
  metrics_.RemoveGaugeFunction("ledger_replica_position");
  metrics_.RemoveGaugeFunction("ledger_replica_pending_events");
}

ReplicaStatus NatsReplica::Snapshot() const {
  ReplicaStatus status;
  status.position = store_.HeadPosition();
  status.pending = pending_.load();
  std::lock_guard lock(mutex_);
  status.state = state_;
  status.error = error_;
  return status;
}

void NatsReplica::SetState(std::string_view state, std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  // Logged once per change, not once per retry while NATS stays away.
  if (error && (!error_ || error_->message != error->message)) {
    std::fprintf(stderr, "ledgerd: nats replica: %s (%s)\n", error->message.c_str(),
                 error->code.c_str());
  }
  state_ = std::string(state);
  if (error) error_ = std::move(error);
  if (state == "publishing" || state == "following") error_.reset();  // Recovered.
}

void NatsReplica::Wait(std::int64_t ms) {
  std::unique_lock lock(mutex_);
  stop_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_.load(); });
}

void NatsReplica::Loop() {
  while (!stopping_.load()) {
    RunSession();
    Wait(options_.retry_wait_ms);
  }
}

void NatsReplica::RunSession() {
  Session session;
  auto connection = ConnectNats(options_.stream.url, "ledgerd-replica", {}, options_.retry_wait_ms);
  if (!connection) {
    errors_.Add();
    SetState("disconnected", connection.error());
    return;
  }
  session.connection = std::move(*connection);
  auto js = NewJetStream(session.connection.get(), nullptr);
  if (!js) {
    errors_.Add();
    SetState("disconnected", js.error());
    return;
  }
  session.js = std::move(*js);
  if (auto subscribed = Subscribe(session, false); !subscribed) {
    errors_.Add();
    const bool waiting = subscribed.error().code == "stream_not_found";
    if (IsFatal(subscribed.error())) {
      SetState("failed", subscribed.error());
      stopping_.store(true);
    } else {
      SetState(waiting ? "waiting_for_stream" : "disconnected", subscribed.error());
    }
    return;
  }
  SetState("following");
  while (!stopping_.load()) {
    natsMsgList messages{};
    jsErrCode js_code = static_cast<jsErrCode>(0);
    const natsStatus s =
        natsSubscription_Fetch(&messages, session.subscription.get(),
                               static_cast<int>(options_.fetch_batch), options_.fetch_wait_ms,
                               &js_code);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      errors_.Add();
      SetState("disconnected", NatsError("fetching from stream " + options_.stream.stream, s,
                                         js_code));
      return;
    }
    auto applied = Apply(session, messages);
    natsMsgList_Destroy(&messages);
    if (!applied) {
      errors_.Add();
      if (applied.error().code == "recreate_consumer") {
        // The consumer is ahead of this replica's log: start it again after our head.
        if (auto subscribed = Subscribe(session, true); !subscribed) {
          SetState(IsFatal(subscribed.error()) ? "failed" : "disconnected", subscribed.error());
          if (IsFatal(subscribed.error())) stopping_.store(true);
          return;
        }
        continue;
      }
      if (IsFatal(applied.error())) {
        SetState("failed", applied.error());
        stopping_.store(true);  // Refuse the stream; keep serving what was verified.
      } else {
        SetState("disconnected", applied.error());
      }
      return;
    }
    SetState("following");
  }
}

Status NatsReplica::Subscribe(Session& session, bool recreate) {
  session.subscription.reset();
  auto tail = ReadStreamTail(session.js.get(), options_.stream.stream);
  if (!tail) return std::unexpected(tail.error());
  const std::string& stream = options_.stream.stream;
  const std::uint64_t next = store_.HeadPosition() + 1;
  jsErrCode js_code = static_cast<jsErrCode>(0);
  jsConsumerInfo* info = nullptr;
  natsStatus s = js_GetConsumerInfo(&info, session.js.get(), stream.c_str(),
                                    options_.consumer.c_str(), nullptr, &js_code);
  if (s == NATS_OK) jsConsumerInfo_Destroy(info);
  bool exists = s == NATS_OK;
  if (s != NATS_OK && s != NATS_NOT_FOUND) {
    return std::unexpected(NatsError("reading consumer " + options_.consumer, s, js_code));
  }
  if (exists && recreate) {
    s = js_DeleteConsumer(session.js.get(), stream.c_str(), options_.consumer.c_str(), nullptr,
                          &js_code);
    if (s != NATS_OK) {
      return std::unexpected(NatsError("deleting consumer " + options_.consumer, s, js_code));
    }
    exists = false;
  }
  if (!exists) {
    jsConsumerConfig config;
    jsConsumerConfig_Init(&config);
    config.Durable = options_.consumer.c_str();
    config.AckPolicy = js_AckExplicit;
    config.AckWait = kAckWaitMs * kNanosPerMilli;
    config.MaxAckPending = static_cast<int64_t>(options_.fetch_batch) * 4;
    if (next == 1) {
      config.DeliverPolicy = js_DeliverAll;
    } else {
      config.DeliverPolicy = js_DeliverByStartSequence;
      config.OptStartSeq = SequenceOfPosition(next, *tail);
    }
    s = js_AddConsumer(&info, session.js.get(), stream.c_str(), &config, nullptr, &js_code);
    if (s != NATS_OK) {
      return std::unexpected(NatsError("creating consumer " + options_.consumer, s, js_code));
    }
    jsConsumerInfo_Destroy(info);
  }
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Consumer = options_.consumer.c_str();
  const std::string subject = options_.stream.subject_prefix + ".>";
  natsSubscription* raw = nullptr;
  s = js_PullSubscribe(&raw, session.js.get(), subject.c_str(), options_.consumer.c_str(), nullptr,
                       &sub_options, &js_code);
  if (s != NATS_OK) {
    return std::unexpected(NatsError("subscribing with consumer " + options_.consumer, s, js_code));
  }
  session.subscription.reset(raw);
  session.delivered = false;
  return Ok();
}

Status NatsReplica::Apply(Session& session, natsMsgList& messages) {
  AppendBatch batch = store_.NewBatch();
  std::vector<natsMsg*> to_ack;
  to_ack.reserve(static_cast<std::size_t>(messages.Count));
  std::string ledger_id = store_.LedgerId();
  for (int i = 0; i < messages.Count; ++i) {
    natsMsg* message = messages.Msgs[i];
    auto headers = ReadLedgerHeaders(message);
    if (!headers) return std::unexpected(Refused("bad_message", headers.error().message));
    const std::uint64_t expected = store_.HeadPosition() + batch.event_count() + 1;
    if (headers->ledger_id != ledger_id) {
      if (expected == 1) {
        // An empty replica adopts the ledger it copies.
        if (auto adopted = store_.SetLedgerId(headers->ledger_id); !adopted) return adopted;
        ledger_id = headers->ledger_id;
      } else {
        return std::unexpected(Refused("stream_of_another_ledger",
                                       "the stream carries ledger " + headers->ledger_id +
                                           ", this replica copies ledger " + ledger_id));
      }
    }
    if (headers->position < expected) {  // Redelivered: already in our log.
      redelivered_.Add();
      to_ack.push_back(message);
      session.delivered = true;
      continue;
    }
    if (headers->position > expected) {
      if (!session.delivered && batch.event_count() == 0 && recreated_at_ != expected) {
        recreated_at_ = expected;
        return std::unexpected(MakeError(ErrorKind::kUnavailable, "recreate_consumer",
                                         "consumer " + options_.consumer + " delivered position " +
                                             std::to_string(headers->position) +
                                             ", the replica needs " + std::to_string(expected)));
      }
      return std::unexpected(Refused("stream_gap", "the stream delivered position " +
                                                       std::to_string(headers->position) +
                                                       " where " + std::to_string(expected) +
                                                       " was due: refusing the gap"));
    }
    if (headers->format != PayloadFormat::kCapnp) {
      return std::unexpected(Refused("replica_needs_capnp",
                                     "read replicas need the stored Cap'n Proto bytes; the "
                                     "writer publishes --nats-format json"));
    }
    const std::string_view bytes(natsMsg_GetData(message),
                                 static_cast<std::size_t>(natsMsg_GetDataLength(message)));
    auto event = batch.AddReplicated(bytes, headers->hash);
    if (!event) return std::unexpected(event.error());
    to_ack.push_back(message);
    session.delivered = true;
  }
  if (batch.event_count() > 0) {
    if (auto committed = store_.Commit(batch); !committed) return committed;
    applied_.Add(batch.event_count());
  }
  // Durable: now the stream may forget them for this consumer.
  for (natsMsg* message : to_ack) (void)natsMsg_Ack(message, nullptr);
  if (messages.Count > 0) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, messages.Msgs[messages.Count - 1]) == NATS_OK) {
      pending_.store(meta->NumPending);
      jsMsgMetaData_Destroy(meta);
    }
  }
  return Ok();
}

}  // namespace ledger::transport
