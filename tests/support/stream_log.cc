#include "tests/support/stream_log.h"

#include <atomic>
#include <string_view>

namespace ledger::testing {
namespace {

// The message as the checks see it; kCorruption when its ledger headers are missing.
Result<StreamMessage> ReadMessage(natsMsg* message) {
  StreamMessage read;
  jsMsgMetaData* meta = nullptr;
  if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
    read.sequence = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
  }
  read.subject = natsMsg_GetSubject(message);
  auto headers = transport::ReadLedgerHeaders(message);
  if (!headers) return std::unexpected(headers.error());
  read.headers = std::move(*headers);
  read.payload.assign(natsMsg_GetData(message),
                      static_cast<std::size_t>(natsMsg_GetDataLength(message)));
  return read;
}

}  // namespace

Result<std::vector<StreamMessage>> ReadStream(const std::string& url, std::uint64_t first_sequence,
                                              const std::string& stream,
                                              const std::string& prefix) {
  std::vector<StreamMessage> messages;
  auto connection = transport::ConnectNats(url, "test-reader");
  if (!connection) return std::unexpected(connection.error());
  auto js = transport::NewJetStream(connection->get(), nullptr);
  if (!js) return std::unexpected(js.error());
  auto tail = transport::ReadStreamTail(js->get(), stream);
  if (!tail) return std::unexpected(tail.error());
  if (tail->messages == 0 || tail->last_sequence < first_sequence) return messages;
  const std::uint64_t wanted = tail->last_sequence - first_sequence + 1;
  static std::atomic<int> readers{0};
  const std::string durable = "test-reader-" + std::to_string(readers.fetch_add(1));
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = stream.c_str();
  options.Config.AckPolicy = js_AckNone;
  options.Config.DeliverPolicy = first_sequence <= 1 ? js_DeliverAll : js_DeliverByStartSequence;
  if (first_sequence > 1) options.Config.OptStartSeq = first_sequence;
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subjects = prefix + ".>";
  natsStatus s = js_PullSubscribe(&raw, js->get(), subjects.c_str(), durable.c_str(), nullptr,
                                  &options, &code);
  if (s != NATS_OK) return std::unexpected(transport::NatsError("pull subscribe", s, code));
  transport::NatsSubscriptionPtr subscription(raw);
  Status failed;
  while (failed && messages.size() < wanted) {
    natsMsgList list{};
    s = natsSubscription_Fetch(&list, subscription.get(), 1024, 5000, &code);
    if (s != NATS_OK) {
      failed =
          std::unexpected(transport::NatsError("fetch after " + std::to_string(messages.size()) +
                                                   " of " + std::to_string(wanted) + " messages",
                                               s, code));
      break;
    }
    for (int i = 0; i < list.Count && failed; ++i) {
      auto message = ReadMessage(list.Msgs[i]);
      if (!message) {
        failed = std::unexpected(message.error());
      } else {
        messages.push_back(std::move(*message));
      }
    }
    natsMsgList_Destroy(&list);
  }
  (void)js_DeleteConsumer(js->get(), stream.c_str(), durable.c_str(), nullptr, nullptr);
  if (!failed) return std::unexpected(failed.error());
  return messages;
}

std::string CompareStreamWithLog(const std::vector<StreamMessage>& messages, const Store& store,
                                 std::uint64_t first_position, const std::string& prefix) {
  const std::uint64_t head = store.HeadPosition();
  const std::uint64_t expected = head >= first_position ? head - first_position + 1 : 0;
  if (messages.size() != expected) {
    return "the stream holds " + std::to_string(messages.size()) + " messages from position " +
           std::to_string(first_position) + ", the log " + std::to_string(expected) +
           " events (head " + std::to_string(head) + ")";
  }
  const std::string ledger_id = store.LedgerId();
  std::uint64_t position = first_position;
  while (position <= head) {
    auto events = store.ReadFrom(position, 4096);
    if (!events)
      return "reading the log at " + std::to_string(position) + ": " + events.error().message;
    if (events->empty()) return "the log ends before its head at " + std::to_string(position);
    for (const StoredEvent& stored : *events) {
      const StreamMessage& message = messages[position - first_position];
      const std::string at = " at position " + std::to_string(position);
      if (message.headers.position != position) {
        return "stream order differs" + at + ": the message says position " +
               std::to_string(message.headers.position);
      }
      if (message.sequence != messages[0].sequence + (position - first_position)) {
        return "stream sequence " + std::to_string(message.sequence) + " is not consecutive" + at;
      }
      if (message.headers.ledger_id != ledger_id) {
        return "ledger id " + message.headers.ledger_id + " is not " + ledger_id + at;
      }
      if (message.headers.hash != stored.event.envelope.hash) {
        return "hash " + HashToHex(message.headers.hash) + " is not the log's " +
               HashToHex(stored.event.envelope.hash) + at;
      }
      if (message.payload != stored.bytes) return "payload is not the stored bytes" + at;
      if (message.subject != transport::EventSubject(prefix, stored.event.envelope.type)) {
        return "subject " + message.subject + " is not for the event's type" + at;
      }
      if (message.headers.event_type != EventTypeName(stored.event.envelope.type)) {
        return "event type header " + message.headers.event_type + " is not the event's" + at;
      }
      ++position;
    }
  }
  return "";
}

}  // namespace ledger::testing
