#include "transport/binary_protocol.h"

#include <capnp/serialize.h>
#include <kj/io.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "ledger/limits.h"
#include "transport/http_response.h"
#include "transport/request_ids.h"

namespace ledger::transport {
namespace {

// Reads the fields of one wire command, remembering the first error. Names in errors are the
// schema's: "commands[3].changeAsset.account".
class WireFields {
 public:
  WireFields(std::size_t index, std::string_view body) : index_(index), body_(body) {}

  [[nodiscard]] bool ok() const { return !error_.has_value(); }
  [[nodiscard]] Error TakeError() { return std::move(*error_); }

  // Fields named from here on belong to element `index` of the list `list` ("splits[2].to"),
  // until EndItem().
  void Item(std::string_view list, std::size_t index) {
    list_ = list;
    item_ = index;
  }
  void EndItem() { list_ = {}; }

  void Fail(std::string_view field, std::string_view problem) {
    if (error_) return;
    // Built only on failure: decoding a valid command allocates no name or message.
    std::string name = "commands[" + std::to_string(index_) + "]." + std::string(body_);
    if (!list_.empty()) name += "." + std::string(list_) + "[" + std::to_string(item_) + "]";
    if (!field.empty()) name += "." + std::string(field);
    error_ = MakeError(ErrorKind::kInvalidArgument, "invalid_argument",
                       name + ": " + std::string(problem));
  }

  // A required Text field: unset is an error, so is invalid UTF-8.
  std::string Required(bool has, capnp::Text::Reader text, std::string_view field) {
    if (!has) {
      Fail(field, "missing required field");
      return {};
    }
    return Optional(text, field);
  }

  // An optional Text field: unset reads as "".
  std::string Optional(capnp::Text::Reader text, std::string_view field) {
    std::string_view value(text.cStr(), text.size());
    if (!IsValidUtf8(value)) Fail(field, "must be valid UTF-8");
    return std::string(value);
  }

  Metadata KeyValues(capnp::List<wire::KeyValue>::Reader list, std::string_view field) {
    Metadata metadata;
    if (list.size() > kMetadataEntriesMax) {
      Fail(field, "at most " + std::to_string(kMetadataEntriesMax) + " entries");
      return metadata;
    }
    metadata.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto entry = list[i];
      Item(field, i);
      std::string key = Required(entry.hasKey(), entry.getKey(), "key");
      std::string value = Required(entry.hasValue(), entry.getValue(), "value");
      metadata.emplace_back(std::move(key), std::move(value));
    }
    EndItem();
    return metadata;
  }

 private:
  std::size_t index_;
  std::string_view body_;
  std::string_view list_;
  std::size_t item_ = 0;
  std::optional<Error> error_;
};

template <typename T>
Result<commands::CommandBody> Finish(WireFields& fields, T command) {
  if (!fields.ok()) return std::unexpected(fields.TakeError());
  return commands::CommandBody(std::move(command));
}

Result<commands::CommandBody> DecodeChangeAsset(wire::ChangeAsset::Reader in, std::size_t index) {
  WireFields fields(index, "changeAsset");
  commands::ChangeAsset out;
  out.account = fields.Required(in.hasAccount(), in.getAccount(), "account");
  out.asset = fields.Required(in.hasAsset(), in.getAsset(), "asset");
  out.amount = in.getAmount();
  out.source = fields.Required(in.hasSource(), in.getSource(), "source");
  if (in.hasCounterparty()) out.counterparty = fields.Optional(in.getCounterparty(), "counterparty");
  out.reason = fields.Required(in.hasReason(), in.getReason(), "reason");
  out.ref = fields.Required(in.hasRef(), in.getRef(), "ref");
  const auto expected = in.getExpectedVersion();
  if (expected.isValue()) out.expected_version = expected.getValue();
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeTransfer(wire::Transfer::Reader in, std::size_t index) {
  WireFields fields(index, "transfer");
  commands::Transfer out;
  const auto postings = in.getPostings();
  if (!in.hasPostings()) fields.Fail("postings", "missing required field");
  out.postings.reserve(std::min<std::size_t>(postings.size(), kTransferPostingsMax + 1));
  for (std::size_t i = 0; i < postings.size() && fields.ok(); ++i) {
    const auto posting = postings[i];
    fields.Item("postings", i);
    Posting decoded;
    decoded.from = fields.Required(posting.hasFrom(), posting.getFrom(), "from");
    decoded.to = fields.Required(posting.hasTo(), posting.getTo(), "to");
    decoded.asset = fields.Required(posting.hasAsset(), posting.getAsset(), "asset");
    decoded.amount = posting.getAmount();
    out.postings.push_back(std::move(decoded));
  }
  fields.EndItem();
  out.ref = fields.Optional(in.getRef(), "ref");
  out.metadata = fields.KeyValues(in.getMetadata(), "metadata");
  const auto versions = in.getExpectedVersions();
  for (std::size_t i = 0; i < versions.size(); ++i) {
    fields.Item("expectedVersions", i);
    std::string account = fields.Required(versions[i].hasAccount(), versions[i].getAccount(),
                                          "account");
    if (fields.ok() && out.expected_versions.contains(account)) {
      fields.Fail("account", "'" + account + "' appears twice");
    }
    out.expected_versions.emplace(std::move(account), versions[i].getVersion());
  }
  fields.EndItem();
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeSettleOrder(wire::SettleOrder::Reader in, std::size_t index) {
  WireFields fields(index, "settleOrder");
  commands::SettleOrder out;
  out.order_id = fields.Required(in.hasOrderId(), in.getOrderId(), "orderId");
  out.merchant = fields.Required(in.hasMerchant(), in.getMerchant(), "merchant");
  out.payer = fields.Required(in.hasPayer(), in.getPayer(), "payer");
  out.asset = fields.Required(in.hasAsset(), in.getAsset(), "asset");
  out.gross = in.getGross();
  if (!in.hasSplits()) fields.Fail("splits", "missing required field");
  const auto splits = in.getSplits();
  out.splits.reserve(std::min<std::size_t>(splits.size(), kSettlementSplitsMax + 1));
  for (std::size_t i = 0; i < splits.size() && fields.ok(); ++i) {
    const auto split = splits[i];
    fields.Item("splits", i);
    commands::Split decoded;
    decoded.to = fields.Required(split.hasTo(), split.getTo(), "to");
    decoded.kind = fields.Required(split.hasKind(), split.getKind(), "kind");
    const auto share = split.getShare();
    switch (share.which()) {
      case wire::Split::Share::BPS:
        decoded.bps = share.getBps();
        break;
      case wire::Split::Share::AMOUNT:
        decoded.amount = share.getAmount();
        break;
      default:
        fields.Fail("", "must have exactly one of 'bps' and 'amount'");
        break;
    }
    out.splits.push_back(std::move(decoded));
  }
  fields.EndItem();
  const auto occurred = in.getOccurredAt();
  if (occurred.isMicros()) out.occurred_at_us = occurred.getMicros();
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeRefundOrder(wire::RefundOrder::Reader in, std::size_t index) {
  WireFields fields(index, "refundOrder");
  commands::RefundOrder out;
  out.order_id = fields.Required(in.hasOrderId(), in.getOrderId(), "orderId");
  out.refund_id = fields.Required(in.hasRefundId(), in.getRefundId(), "refundId");
  out.amount = in.getAmount();
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodePayOut(wire::PayOut::Reader in, std::size_t index) {
  WireFields fields(index, "payOut");
  commands::PayOut out;
  out.payout_id = fields.Required(in.hasPayoutId(), in.getPayoutId(), "payoutId");
  out.merchant = fields.Required(in.hasMerchant(), in.getMerchant(), "merchant");
  out.asset = fields.Required(in.hasAsset(), in.getAsset(), "asset");
  out.amount = in.getAmount();
  out.bank_account = fields.Required(in.hasBankAccount(), in.getBankAccount(), "bankAccount");
  const auto expected = in.getExpectedVersion();
  if (expected.isValue()) out.expected_version = expected.getValue();
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeOpenAccount(wire::OpenAccount::Reader in, std::size_t index) {
  WireFields fields(index, "openAccount");
  commands::OpenAccount out;
  out.account = fields.Required(in.hasAccount(), in.getAccount(), "account");
  out.allow_negative = in.getAllowNegative();
  out.frozen = in.getFrozen();
  out.metadata = fields.KeyValues(in.getMetadata(), "metadata");
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeCreateCampaign(wire::CreateCampaign::Reader in,
                                                   std::size_t index) {
  WireFields fields(index, "createCampaign");
  commands::CreateCampaign out;
  out.campaign_id = fields.Required(in.hasCampaignId(), in.getCampaignId(), "campaignId");
  switch (in.getKind()) {
    case wire::CampaignKind::COUPON:
      out.kind = CampaignKind::kCoupon;
      break;
    case wire::CampaignKind::BALANCE:
      out.kind = CampaignKind::kBalance;
      break;
    default:
      fields.Fail("kind", "must be coupon or balance");
      break;
  }
  out.asset = fields.Required(in.hasAsset(), in.getAsset(), "asset");
  out.unit_amount = in.getUnitAmount();
  out.budget = in.getBudget();
  out.per_user_limit = in.getPerUserLimit();
  out.valid_from_us = in.getValidFrom();
  out.valid_until_us = in.getValidUntil();
  out.funding_account =
      fields.Required(in.hasFundingAccount(), in.getFundingAccount(), "fundingAccount");
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeGrantVoucher(wire::GrantVoucher::Reader in,
                                                 std::size_t index) {
  WireFields fields(index, "grantVoucher");
  commands::GrantVoucher out;
  out.campaign_id = fields.Required(in.hasCampaignId(), in.getCampaignId(), "campaignId");
  out.grant_id = fields.Required(in.hasGrantId(), in.getGrantId(), "grantId");
  out.user = fields.Required(in.hasUser(), in.getUser(), "user");
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeRedeemVoucher(wire::RedeemVoucher::Reader in,
                                                  std::size_t index) {
  WireFields fields(index, "redeemVoucher");
  commands::RedeemVoucher out;
  out.campaign_id = fields.Required(in.hasCampaignId(), in.getCampaignId(), "campaignId");
  out.redemption_id =
      fields.Required(in.hasRedemptionId(), in.getRedemptionId(), "redemptionId");
  out.user = fields.Required(in.hasUser(), in.getUser(), "user");
  out.order_id = fields.Optional(in.getOrderId(), "orderId");
  return Finish(fields, std::move(out));
}

Result<commands::CommandBody> DecodeBody(wire::Command::Body::Reader body, std::size_t index) {
  switch (body.which()) {
    case wire::Command::Body::CHANGE_ASSET:
      return DecodeChangeAsset(body.getChangeAsset(), index);
    case wire::Command::Body::TRANSFER:
      return DecodeTransfer(body.getTransfer(), index);
    case wire::Command::Body::SETTLE_ORDER:
      return DecodeSettleOrder(body.getSettleOrder(), index);
    case wire::Command::Body::REFUND_ORDER:
      return DecodeRefundOrder(body.getRefundOrder(), index);
    case wire::Command::Body::PAY_OUT:
      return DecodePayOut(body.getPayOut(), index);
    case wire::Command::Body::OPEN_ACCOUNT:
      return DecodeOpenAccount(body.getOpenAccount(), index);
    case wire::Command::Body::CREATE_CAMPAIGN:
      return DecodeCreateCampaign(body.getCreateCampaign(), index);
    case wire::Command::Body::GRANT_VOUCHER:
      return DecodeGrantVoucher(body.getGrantVoucher(), index);
    case wire::Command::Body::REDEEM_VOUCHER:
      return DecodeRedeemVoucher(body.getRedeemVoucher(), index);
    case wire::Command::Body::UNSET:
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                  "commands[" + std::to_string(index) + "]: command has no body");
  }
  return Fail(ErrorKind::kInvalidArgument, "unknown_command",
              "commands[" + std::to_string(index) + "]: unknown command (union member " +
                  std::to_string(static_cast<unsigned>(body.which())) +
                  "); this server speaks protocol version " +
                  std::to_string(wire::PROTOCOL_VERSION));
}

capnp::Text::Reader TextOf(const std::string& value) {
  return capnp::Text::Reader(value.data(), value.size());
}

template <typename Builder>
void EncodeKeyValues(const Metadata& metadata, Builder init) {
  for (std::size_t i = 0; i < metadata.size(); ++i) {
    init[i].setKey(TextOf(metadata[i].first));
    init[i].setValue(TextOf(metadata[i].second));
  }
}

// Encodes one command body; an overload per alternative of commands::CommandBody.
struct BodyEncoder {
  wire::Command::Body::Builder body;

  void operator()(const commands::ChangeAsset& c) {
    auto out = body.initChangeAsset();
    out.setAccount(TextOf(c.account));
    out.setAsset(TextOf(c.asset));
    out.setAmount(c.amount);
    out.setSource(TextOf(c.source));
    if (c.counterparty) out.setCounterparty(TextOf(*c.counterparty));
    out.setReason(TextOf(c.reason));
    out.setRef(TextOf(c.ref));
    if (c.expected_version) out.getExpectedVersion().setValue(*c.expected_version);
  }
  void operator()(const commands::Transfer& c) {
    auto out = body.initTransfer();
    auto postings = out.initPostings(static_cast<unsigned>(c.postings.size()));
    for (std::size_t i = 0; i < c.postings.size(); ++i) {
      postings[i].setFrom(TextOf(c.postings[i].from));
      postings[i].setTo(TextOf(c.postings[i].to));
      postings[i].setAsset(TextOf(c.postings[i].asset));
      postings[i].setAmount(c.postings[i].amount);
    }
    out.setRef(TextOf(c.ref));
    EncodeKeyValues(c.metadata, out.initMetadata(static_cast<unsigned>(c.metadata.size())));
    auto versions = out.initExpectedVersions(static_cast<unsigned>(c.expected_versions.size()));
    unsigned i = 0;
    for (const auto& [account, version] : c.expected_versions) {
      versions[i].setAccount(TextOf(account));
      versions[i].setVersion(version);
      ++i;
    }
  }
  void operator()(const commands::SettleOrder& c) {
    auto out = body.initSettleOrder();
    out.setOrderId(TextOf(c.order_id));
    out.setMerchant(TextOf(c.merchant));
    out.setPayer(TextOf(c.payer));
    out.setAsset(TextOf(c.asset));
    out.setGross(c.gross);
    auto splits = out.initSplits(static_cast<unsigned>(c.splits.size()));
    for (std::size_t i = 0; i < c.splits.size(); ++i) {
      splits[i].setTo(TextOf(c.splits[i].to));
      splits[i].setKind(TextOf(c.splits[i].kind));
      if (c.splits[i].bps) splits[i].getShare().setBps(*c.splits[i].bps);
      if (c.splits[i].amount) splits[i].getShare().setAmount(*c.splits[i].amount);
    }
    if (c.occurred_at_us) out.getOccurredAt().setMicros(*c.occurred_at_us);
  }
  void operator()(const commands::RefundOrder& c) {
    auto out = body.initRefundOrder();
    out.setOrderId(TextOf(c.order_id));
    out.setRefundId(TextOf(c.refund_id));
    out.setAmount(c.amount);
  }
  void operator()(const commands::PayOut& c) {
    auto out = body.initPayOut();
    out.setPayoutId(TextOf(c.payout_id));
    out.setMerchant(TextOf(c.merchant));
    out.setAsset(TextOf(c.asset));
    out.setAmount(c.amount);
    out.setBankAccount(TextOf(c.bank_account));
    if (c.expected_version) out.getExpectedVersion().setValue(*c.expected_version);
  }
  void operator()(const commands::OpenAccount& c) {
    auto out = body.initOpenAccount();
    out.setAccount(TextOf(c.account));
    out.setAllowNegative(c.allow_negative);
    out.setFrozen(c.frozen);
    EncodeKeyValues(c.metadata, out.initMetadata(static_cast<unsigned>(c.metadata.size())));
  }
  void operator()(const commands::CreateCampaign& c) {
    auto out = body.initCreateCampaign();
    out.setCampaignId(TextOf(c.campaign_id));
    out.setKind(c.kind == CampaignKind::kBalance ? wire::CampaignKind::BALANCE
                                                 : wire::CampaignKind::COUPON);
    out.setAsset(TextOf(c.asset));
    out.setUnitAmount(c.unit_amount);
    out.setBudget(c.budget);
    out.setPerUserLimit(c.per_user_limit);
    out.setValidFrom(c.valid_from_us);
    out.setValidUntil(c.valid_until_us);
    out.setFundingAccount(TextOf(c.funding_account));
  }
  void operator()(const commands::GrantVoucher& c) {
    auto out = body.initGrantVoucher();
    out.setCampaignId(TextOf(c.campaign_id));
    out.setGrantId(TextOf(c.grant_id));
    out.setUser(TextOf(c.user));
  }
  void operator()(const commands::RedeemVoucher& c) {
    auto out = body.initRedeemVoucher();
    out.setCampaignId(TextOf(c.campaign_id));
    out.setRedemptionId(TextOf(c.redemption_id));
    out.setUser(TextOf(c.user));
    if (!c.order_id.empty()) out.setOrderId(TextOf(c.order_id));
  }
};

void WriteRejection(const CommandReply& reply, wire::Rejection::Builder out) {
  out.setCode(TextOf(reply.code));
  out.setMessage(TextOf(reply.message));
  out.setHttpStatus(reply.http_status);
  out.setRetryAfterSeconds(reply.retry_after_seconds);
}

std::string_view ViewOf(capnp::Text::Reader text) { return {text.cStr(), text.size()}; }

}  // namespace

Result<std::size_t> FrameLength(const unsigned char prefix[kFramePrefixBytes],
                                std::size_t frame_bytes_max) {
  const std::size_t length = static_cast<std::size_t>(prefix[0]) |
                             (static_cast<std::size_t>(prefix[1]) << 8) |
                             (static_cast<std::size_t>(prefix[2]) << 16) |
                             (static_cast<std::size_t>(prefix[3]) << 24);
  if (length > frame_bytes_max) {
    return Fail(ErrorKind::kTooLarge, "frame_too_large",
                "frame of " + std::to_string(length) + " bytes exceeds the limit of " +
                    std::to_string(frame_bytes_max) + " bytes");
  }
  if (length == 0 || length % sizeof(capnp::word) != 0) {
    return Fail(ErrorKind::kInvalidArgument, "malformed_frame",
                "frame length " + std::to_string(length) +
                    " is not a positive multiple of 8 (a Cap'n Proto message is whole words)");
  }
  return length;
}

std::string EncodeFrame(capnp::MessageBuilder& message) {
  const std::size_t words = capnp::computeSerializedSizeInWords(message);
  const std::size_t bytes = words * sizeof(capnp::word);
  std::string frame(kFramePrefixBytes + bytes, '\0');
  for (std::size_t i = 0; i < kFramePrefixBytes; ++i) {
    frame[i] = static_cast<char>((bytes >> (8 * i)) & 0xff);
  }
  kj::ArrayOutputStream stream(
      kj::arrayPtr(reinterpret_cast<kj::byte*>(frame.data() + kFramePrefixBytes), bytes));
  capnp::writeMessage(stream, message);
  return frame;
}

FrameReader::FrameReader(std::span<const capnp::word> words)
    : words_(words),
      reader_(kj::arrayPtr(words.data(), words.size()),
              capnp::ReaderOptions{.traversalLimitInWords = 8 * words.size() + 1024,
                                   .nestingLimit = 16}) {}

Status FrameReader::Check() const {
  if (reader_.getEnd() != words_.data() + words_.size()) {
    return Fail(ErrorKind::kInvalidArgument, "malformed_frame",
                "the frame's Cap'n Proto segment table does not match its length");
  }
  return Ok();
}

wire::Frame::Reader FrameReader::Root() { return reader_.getRoot<wire::Frame>(); }

Result<commands::Command> DecodeWireCommand(wire::Command::Reader command, std::size_t index,
                                            const Client& client) {
  const auto optional_id = [](bool has, capnp::Text::Reader text) {
    return has ? std::optional<std::string_view>(ViewOf(text)) : std::nullopt;
  };
  auto context = MakeCommandContext(
      client,
      {.idempotency_key = optional_id(command.hasIdempotencyKey(), command.getIdempotencyKey()),
       .correlation_id = optional_id(command.hasCorrelationId(), command.getCorrelationId()),
       .causation_id = optional_id(command.hasCausationId(), command.getCausationId())},
      {.idempotency_key = "idempotencyKey",
       .correlation_id = "correlationId",
       .causation_id = "causationId"});
  if (!context) {
    Error error = std::move(context.error());
    error.message = "commands[" + std::to_string(index) + "]." + error.message;
    return std::unexpected(std::move(error));
  }
  auto body = DecodeBody(command.getBody(), index);
  if (!body) return std::unexpected(std::move(body.error()));
  return commands::Command{std::move(*context), std::move(*body)};
}

void EncodeWireCommand(const commands::Command& command, wire::Command::Builder out) {
  const commands::CommandContext& context = command.context;
  if (!context.idempotency_key.empty()) out.setIdempotencyKey(TextOf(context.idempotency_key));
  if (!context.correlation_id.empty()) out.setCorrelationId(TextOf(context.correlation_id));
  if (!context.causation_id.empty()) out.setCausationId(TextOf(context.causation_id));
  std::visit(BodyEncoder{out.getBody()}, command.body);
}

CommandReply ReplyFor(const Result<commands::CommandOutcome>& outcome) {
  if (!outcome) return RejectionReply(outcome.error());
  CommandReply reply;
  reply.accepted = true;
  const Envelope& envelope = outcome->event.envelope;
  reply.position = envelope.position;
  reply.stream_version = envelope.stream_version;
  reply.event_type = envelope.type;
  reply.replayed = outcome->replayed;
  reply.hash = envelope.hash;
  return reply;
}

CommandReply RejectionReply(const Error& error) {
  CommandReply reply;
  reply.code = error.code;
  reply.message = error.message;
  reply.http_status = static_cast<std::uint16_t>(HttpStatusFor(error.kind));
  if (error.kind == ErrorKind::kOverloaded) reply.retry_after_seconds = kOverloadRetryAfterSeconds;
  if (error.kind == ErrorKind::kUnavailable) reply.retry_after_seconds = kStorageRetryAfterSeconds;
  return reply;
}

std::string EncodeResults(std::uint64_t request_id, std::span<const CommandReply> replies,
                          const CommandReply* refused) {
  // The first segment sized for the whole answer (~64 bytes per accepted command), so a batch's
  // results are one allocation.
  capnp::MallocMessageBuilder message(static_cast<unsigned>(16 + replies.size() * 10));
  auto results = message.initRoot<wire::Frame>().initResults();
  results.setRequestId(request_id);
  if (refused != nullptr) WriteRejection(*refused, results.initRefused());
  auto list = results.initResults(static_cast<unsigned>(replies.size()));
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const CommandReply& reply = replies[i];
    if (!reply.accepted) {
      WriteRejection(reply, list[i].initRejected());
      continue;
    }
    auto accepted = list[i].initAccepted();
    accepted.setPosition(reply.position);
    accepted.setStreamVersion(reply.stream_version);
    accepted.setEventType(static_cast<std::uint16_t>(reply.event_type));
    accepted.setReplayed(reply.replayed);
    accepted.setHash(capnp::Data::Reader(reply.hash.data(), reply.hash.size()));
  }
  return EncodeFrame(message);
}

std::string EncodeConnectionError(std::string_view code, std::string_view message) {
  capnp::MallocMessageBuilder builder;
  auto error = builder.initRoot<wire::Frame>().initError();
  error.setCode(capnp::Text::Reader(code.data(), code.size()));
  error.setMessage(capnp::Text::Reader(message.data(), message.size()));
  return EncodeFrame(builder);
}

CommandReply ReadRejection(wire::Rejection::Reader rejection) {
  CommandReply reply;
  reply.code = std::string(ViewOf(rejection.getCode()));
  reply.message = std::string(ViewOf(rejection.getMessage()));
  reply.http_status = rejection.getHttpStatus();
  reply.retry_after_seconds = rejection.getRetryAfterSeconds();
  return reply;
}

CommandReply ReadCommandResult(wire::CommandResult::Reader result) {
  if (result.isRejected()) return ReadRejection(result.getRejected());
  if (!result.isAccepted()) {
    return RejectionReply(MakeError(ErrorKind::kInternal, "unknown_result",
                                    "the server sent a result this client does not know"));
  }
  const auto accepted = result.getAccepted();
  CommandReply reply;
  reply.accepted = true;
  reply.position = accepted.getPosition();
  reply.stream_version = accepted.getStreamVersion();
  reply.event_type = static_cast<EventType>(accepted.getEventType());
  reply.replayed = accepted.getReplayed();
  const auto hash = accepted.getHash();
  // An unset hash is an empty Data with a null pointer: memcpy must not see it (UBSan).
  if (hash.size() > 0) {
    std::memcpy(reply.hash.data(), hash.begin(), std::min(hash.size(), reply.hash.size()));
  }
  return reply;
}

}  // namespace ledger::transport
