#include "transport/json_events.h"

#include <string_view>
#include <variant>

#include "transport/internal/json_write.h"
#include "transport/rfc3339.h"

namespace ledger::transport {
namespace {

using internal::Field;
using internal::Key;
using internal::Str;
using internal::TimeField;
using internal::UnsignedField;

void MetadataField(JsonWriter& writer, const Metadata& metadata) {
  Key(writer, "metadata");
  writer.StartObject();
  for (const auto& [key, value] : metadata) Field(writer, key, value);
  writer.EndObject();
}

void LinesField(JsonWriter& writer, const std::vector<SettlementLine>& lines) {
  Key(writer, "lines");
  writer.StartArray();
  for (const SettlementLine& line : lines) {
    writer.StartObject();
    Field(writer, "to", line.to);
    Field(writer, "kind", line.kind);
    Field(writer, "amount", line.amount);
    if (line.bps >= 0) Field(writer, "bps", std::int64_t{line.bps});
    writer.EndObject();
  }
  writer.EndArray();
}

// One overload per payload type writes its fields (the surrounding object is the caller's).
struct PayloadWriter {
  JsonWriter& w;

  void operator()(const AccountOpened& p) const {
    Field(w, "account", p.account);
    Key(w, "allow_negative");
    w.Bool(p.allow_negative);
    Key(w, "frozen");
    w.Bool(p.frozen);
    MetadataField(w, p.metadata);
  }
  void operator()(const AssetChanged& p) const {
    Field(w, "account", p.account);
    Field(w, "asset", p.asset);
    Field(w, "amount", p.amount);
    Field(w, "counterparty", p.counterparty);
    Field(w, "source", p.source);
    Field(w, "reason", p.reason);
    Field(w, "ref", p.ref);
  }
  void operator()(const Transferred& p) const {
    Field(w, "ref", p.ref);
    MetadataField(w, p.metadata);
  }
  void operator()(const OrderSettled& p) const {
    Field(w, "order_id", p.order_id);
    Field(w, "merchant", p.merchant);
    Field(w, "payer", p.payer);
    Field(w, "asset", p.asset);
    Field(w, "gross", p.gross);
    LinesField(w, p.lines);
    TimeField(w, "occurred_at", p.occurred_at_us);
  }
  void operator()(const OrderRefunded& p) const {
    Field(w, "order_id", p.order_id);
    Field(w, "refund_id", p.refund_id);
    Field(w, "merchant", p.merchant);
    Field(w, "payer", p.payer);
    Field(w, "asset", p.asset);
    Field(w, "amount", p.amount);
    Field(w, "refunded_total", p.refunded_total);
    LinesField(w, p.lines);
  }
  void operator()(const MerchantPaidOut& p) const {
    Field(w, "payout_id", p.payout_id);
    Field(w, "merchant", p.merchant);
    Field(w, "asset", p.asset);
    Field(w, "amount", p.amount);
    Field(w, "bank_account", p.bank_account);
  }
  void operator()(const CampaignCreated& p) const {
    Field(w, "campaign_id", p.campaign_id);
    Field(w, "kind", p.kind == CampaignKind::kBalance ? "balance" : "coupon");
    Field(w, "asset", p.asset);
    Field(w, "unit_amount", p.unit_amount);
    Field(w, "budget", p.budget);
    Field(w, "per_user_limit", p.per_user_limit);
    TimeField(w, "valid_from", p.valid_from_us);
    TimeField(w, "valid_until", p.valid_until_us);
    Field(w, "funding_account", p.funding_account);
    Field(w, "owner_client", p.owner_client);
  }
  void operator()(const VoucherGranted& p) const {
    Field(w, "campaign_id", p.campaign_id);
    Field(w, "grant_id", p.grant_id);
    Field(w, "user", p.user);
    Field(w, "asset", p.asset);
    Field(w, "amount", p.amount);
  }
  void operator()(const VoucherRedeemed& p) const {
    Field(w, "campaign_id", p.campaign_id);
    Field(w, "redemption_id", p.redemption_id);
    Field(w, "user", p.user);
    Field(w, "order_id", p.order_id);
    Field(w, "asset", p.asset);
    Field(w, "amount", p.amount);
  }
};

void WriteEnvelope(const Envelope& envelope, JsonWriter& writer) {
  UnsignedField(writer, "position", envelope.position);
  Field(writer, "stream", envelope.stream);
  UnsignedField(writer, "stream_version", envelope.stream_version);
  Field(writer, "type", EventTypeName(envelope.type));
  TimeField(writer, "recorded_at", envelope.recorded_at_us);
  Field(writer, "client_id", envelope.client_id);
  Field(writer, "idempotency_key", envelope.idempotency_key);
  Field(writer, "correlation_id", envelope.correlation_id);
  Field(writer, "causation_id", envelope.causation_id);
  Field(writer, "prev_hash", HashToHex(envelope.prev_hash));
  Field(writer, "hash", HashToHex(envelope.hash));
}

void WritePostings(const std::vector<Posting>& postings, JsonWriter& writer) {
  Key(writer, "postings");
  writer.StartArray();
  for (const Posting& posting : postings) {
    writer.StartObject();
    Field(writer, "from", posting.from);
    Field(writer, "to", posting.to);
    Field(writer, "asset", posting.asset);
    Field(writer, "amount", posting.amount);
    writer.EndObject();
  }
  writer.EndArray();
}

void WriteEvents(const std::vector<StoredEvent>& events, JsonWriter& writer) {
  Key(writer, "events");
  writer.StartArray();
  for (const StoredEvent& stored : events) WriteEventJson(stored.event, writer);
  writer.EndArray();
}

std::string Take(const rapidjson::StringBuffer& buffer) {
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace

void WriteEventJson(const Event& event, JsonWriter& writer) {
  writer.StartObject();
  WriteEnvelope(event.envelope, writer);
  WritePostings(event.postings, writer);
  Key(writer, "payload");
  writer.StartObject();
  std::visit(PayloadWriter{writer}, event.payload);
  writer.EndObject();
  writer.EndObject();
}

std::string EventToJson(const Event& event) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  WriteEventJson(event, writer);
  return Take(buffer);
}

std::string ErrorToJson(const Error& error) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, "error");
  writer.StartObject();
  Field(writer, "code", error.code);
  Field(writer, "message", error.message);
  writer.EndObject();
  writer.EndObject();
  return Take(buffer);
}

std::string CommandResultToJson(const Event& event, bool replayed) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  UnsignedField(writer, "position", event.envelope.position);
  Field(writer, "type", EventTypeName(event.envelope.type));
  Key(writer, "event");
  WriteEventJson(event, writer);
  Key(writer, "replayed");
  writer.Bool(replayed);
  writer.EndObject();
  return Take(buffer);
}

std::string EventsPageToJson(const std::vector<StoredEvent>& events, std::uint64_t next_after,
                             std::uint64_t head) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  WriteEvents(events, writer);
  UnsignedField(writer, "next_after", next_after);
  UnsignedField(writer, "head", head);
  writer.EndObject();
  return Take(buffer);
}

std::string StreamPageToJson(std::string_view stream, const std::vector<StoredEvent>& events,
                             std::uint64_t next_from_version, std::uint64_t head) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "stream", stream);
  WriteEvents(events, writer);
  UnsignedField(writer, "next_from_version", next_from_version);
  UnsignedField(writer, "head", head);
  writer.EndObject();
  return Take(buffer);
}

}  // namespace ledger::transport
