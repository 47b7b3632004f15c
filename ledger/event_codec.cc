#include "ledger/event_codec.h"

#include <openssl/evp.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "ledger/limits.h"
#include "ledger/schema/events.capnp.h"

namespace ledger {
namespace {

// Scratch space for the first segment; events are small, so most fit without a heap segment.
constexpr std::size_t kScratchWords = 512;

kj::StringPtr Text(const std::string& value) { return kj::StringPtr(value.c_str(), value.size()); }
std::string ToString(capnp::Text::Reader text) { return std::string(text.cStr(), text.size()); }

template <typename Builder>
void SetMetadata(const Metadata& metadata, Builder builder) {
  for (unsigned i = 0; i < metadata.size(); ++i) {
    builder[i].setKey(Text(metadata[i].first));
    builder[i].setValue(Text(metadata[i].second));
  }
}

Metadata GetMetadata(capnp::List<schema::KeyValue>::Reader list) {
  Metadata metadata;
  metadata.reserve(list.size());
  for (auto entry : list) metadata.emplace_back(ToString(entry.getKey()), ToString(entry.getValue()));
  return metadata;
}

template <typename Builder>
void SetLines(const std::vector<SettlementLine>& lines, Builder builder) {
  for (unsigned i = 0; i < lines.size(); ++i) {
    builder[i].setTo(Text(lines[i].to));
    builder[i].setKind(Text(lines[i].kind));
    builder[i].setAmount(lines[i].amount);
    builder[i].setBps(lines[i].bps);
  }
}

std::vector<SettlementLine> GetLines(capnp::List<schema::SettlementLine>::Reader list) {
  std::vector<SettlementLine> lines;
  lines.reserve(list.size());
  for (auto line : list) {
    lines.push_back(SettlementLine{ToString(line.getTo()), ToString(line.getKind()),
                                   line.getAmount(), line.getBps()});
  }
  return lines;
}

void SetPayload(const Payload& payload, schema::Event::Payload::Builder out) {
  std::visit(
      [&](const auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, AccountOpened>) {
          auto b = out.initAccountOpened();
          b.setAccount(Text(p.account));
          b.setAllowNegative(p.allow_negative);
          b.setFrozen(p.frozen);
          SetMetadata(p.metadata, b.initMetadata(static_cast<unsigned>(p.metadata.size())));
        } else if constexpr (std::is_same_v<T, AssetChanged>) {
          auto b = out.initAssetChanged();
          b.setAccount(Text(p.account));
          b.setAsset(Text(p.asset));
          b.setAmount(p.amount);
          b.setCounterparty(Text(p.counterparty));
          b.setSource(Text(p.source));
          b.setReason(Text(p.reason));
          b.setRef(Text(p.ref));
        } else if constexpr (std::is_same_v<T, Transferred>) {
          auto b = out.initTransferred();
          b.setRef(Text(p.ref));
          SetMetadata(p.metadata, b.initMetadata(static_cast<unsigned>(p.metadata.size())));
        } else if constexpr (std::is_same_v<T, OrderSettled>) {
          auto b = out.initOrderSettled();
          b.setOrderId(Text(p.order_id));
          b.setMerchant(Text(p.merchant));
          b.setPayer(Text(p.payer));
          b.setAsset(Text(p.asset));
          b.setGross(p.gross);
          SetLines(p.lines, b.initLines(static_cast<unsigned>(p.lines.size())));
          b.setOccurredAt(p.occurred_at_us);
        } else if constexpr (std::is_same_v<T, OrderRefunded>) {
          auto b = out.initOrderRefunded();
          b.setOrderId(Text(p.order_id));
          b.setRefundId(Text(p.refund_id));
          b.setMerchant(Text(p.merchant));
          b.setPayer(Text(p.payer));
          b.setAsset(Text(p.asset));
          b.setAmount(p.amount);
          b.setRefundedTotal(p.refunded_total);
          SetLines(p.lines, b.initLines(static_cast<unsigned>(p.lines.size())));
        } else if constexpr (std::is_same_v<T, MerchantPaidOut>) {
          auto b = out.initMerchantPaidOut();
          b.setPayoutId(Text(p.payout_id));
          b.setMerchant(Text(p.merchant));
          b.setAsset(Text(p.asset));
          b.setAmount(p.amount);
          b.setBankAccount(Text(p.bank_account));
        } else if constexpr (std::is_same_v<T, CampaignCreated>) {
          auto b = out.initCampaignCreated();
          b.setCampaignId(Text(p.campaign_id));
          b.setKind(p.kind == CampaignKind::kCoupon ? schema::CampaignKind::COUPON
                                                    : schema::CampaignKind::BALANCE);
          b.setAsset(Text(p.asset));
          b.setUnitAmount(p.unit_amount);
          b.setBudget(p.budget);
          b.setPerUserLimit(p.per_user_limit);
          b.setValidFrom(p.valid_from_us);
          b.setValidUntil(p.valid_until_us);
          b.setFundingAccount(Text(p.funding_account));
          b.setOwnerClient(Text(p.owner_client));
        } else if constexpr (std::is_same_v<T, VoucherGranted>) {
          auto b = out.initVoucherGranted();
          b.setCampaignId(Text(p.campaign_id));
          b.setGrantId(Text(p.grant_id));
          b.setUser(Text(p.user));
          b.setAsset(Text(p.asset));
          b.setAmount(p.amount);
        } else {
          static_assert(std::is_same_v<T, VoucherRedeemed>);
          auto b = out.initVoucherRedeemed();
          b.setCampaignId(Text(p.campaign_id));
          b.setRedemptionId(Text(p.redemption_id));
          b.setUser(Text(p.user));
          b.setOrderId(Text(p.order_id));
          b.setAsset(Text(p.asset));
          b.setAmount(p.amount);
        }
      },
      payload);
}

void FillEvent(const Event& event, bool with_hash, schema::Event::Builder b) {
  const Envelope& e = event.envelope;
  b.setPosition(e.position);
  b.setStream(Text(e.stream));
  b.setStreamVersion(e.stream_version);
  b.setType(static_cast<std::uint16_t>(e.type));
  b.setRecordedAt(e.recorded_at_us);
  b.setClientId(Text(e.client_id));
  b.setIdempotencyKey(Text(e.idempotency_key));
  b.setCorrelationId(Text(e.correlation_id));
  b.setCausationId(Text(e.causation_id));
  b.setPrevHash(capnp::Data::Reader(e.prev_hash.data(), e.prev_hash.size()));
  if (with_hash) b.setHash(capnp::Data::Reader(e.hash.data(), e.hash.size()));
  auto postings = b.initPostings(static_cast<unsigned>(event.postings.size()));
  for (unsigned i = 0; i < event.postings.size(); ++i) {
    const Posting& p = event.postings[i];
    postings[i].setFrom(Text(p.from));
    postings[i].setTo(Text(p.to));
    postings[i].setAsset(Text(p.asset));
    postings[i].setAmount(p.amount);
  }
  SetPayload(event.payload, b.initPayload());
}

void AppendFramed(kj::ArrayPtr<const capnp::word> words, std::string* out) {
  // Single-segment framing: uint32 (segment count - 1) = 0, uint32 segment size in words.
  std::uint32_t header[2] = {0, static_cast<std::uint32_t>(words.size())};
  out->append(reinterpret_cast<const char*>(header), sizeof(header));
  out->append(reinterpret_cast<const char*>(words.begin()), words.size() * sizeof(capnp::word));
}

Result<Payload> GetPayload(schema::Event::Payload::Reader p) {
  switch (p.which()) {
    case schema::Event::Payload::ACCOUNT_OPENED: {
      auto r = p.getAccountOpened();
      return AccountOpened{ToString(r.getAccount()), r.getAllowNegative(), r.getFrozen(),
                           GetMetadata(r.getMetadata())};
    }
    case schema::Event::Payload::ASSET_CHANGED: {
      auto r = p.getAssetChanged();
      return AssetChanged{ToString(r.getAccount()), ToString(r.getAsset()), r.getAmount(),
                          ToString(r.getCounterparty()), ToString(r.getSource()),
                          ToString(r.getReason()), ToString(r.getRef())};
    }
    case schema::Event::Payload::TRANSFERRED: {
      auto r = p.getTransferred();
      return Transferred{ToString(r.getRef()), GetMetadata(r.getMetadata())};
    }
    case schema::Event::Payload::ORDER_SETTLED: {
      auto r = p.getOrderSettled();
      return OrderSettled{ToString(r.getOrderId()), ToString(r.getMerchant()),
                          ToString(r.getPayer()),   ToString(r.getAsset()),
                          r.getGross(),             GetLines(r.getLines()),
                          r.getOccurredAt()};
    }
    case schema::Event::Payload::ORDER_REFUNDED: {
      auto r = p.getOrderRefunded();
      return OrderRefunded{ToString(r.getOrderId()), ToString(r.getRefundId()),
                           ToString(r.getMerchant()), ToString(r.getPayer()),
                           ToString(r.getAsset()),   r.getAmount(),
                           r.getRefundedTotal(),     GetLines(r.getLines())};
    }
    case schema::Event::Payload::MERCHANT_PAID_OUT: {
      auto r = p.getMerchantPaidOut();
      return MerchantPaidOut{ToString(r.getPayoutId()), ToString(r.getMerchant()),
                             ToString(r.getAsset()), r.getAmount(), ToString(r.getBankAccount())};
    }
    case schema::Event::Payload::CAMPAIGN_CREATED: {
      auto r = p.getCampaignCreated();
      CampaignKind kind;
      switch (r.getKind()) {
        case schema::CampaignKind::COUPON: kind = CampaignKind::kCoupon; break;
        case schema::CampaignKind::BALANCE: kind = CampaignKind::kBalance; break;
        default: return Fail(ErrorKind::kCorruption, "corruption", "unknown campaign kind");
      }
      return CampaignCreated{ToString(r.getCampaignId()), kind, ToString(r.getAsset()),
                             r.getUnitAmount(), r.getBudget(), r.getPerUserLimit(),
                             r.getValidFrom(), r.getValidUntil(), ToString(r.getFundingAccount()),
                             ToString(r.getOwnerClient())};
    }
    case schema::Event::Payload::VOUCHER_GRANTED: {
      auto r = p.getVoucherGranted();
      return VoucherGranted{ToString(r.getCampaignId()), ToString(r.getGrantId()),
                            ToString(r.getUser()), ToString(r.getAsset()), r.getAmount()};
    }
    case schema::Event::Payload::VOUCHER_REDEEMED: {
      auto r = p.getVoucherRedeemed();
      return VoucherRedeemed{ToString(r.getCampaignId()), ToString(r.getRedemptionId()),
                             ToString(r.getUser()),       ToString(r.getOrderId()),
                             ToString(r.getAsset()),      r.getAmount()};
    }
  }
  return Fail(ErrorKind::kCorruption, "corruption", "unknown event payload");
}

Result<Hash> GetHash(capnp::Data::Reader data, const char* what) {
  Hash hash{};
  if (data.size() != hash.size()) {
    return Fail(ErrorKind::kCorruption, "corruption", std::string(what) + " is not 32 bytes");
  }
  std::memcpy(hash.data(), data.begin(), hash.size());
  return hash;
}

Result<Event> ReadEvent(schema::Event::Reader r, const Hash& hash) {
  Event event;
  Envelope& e = event.envelope;
  e.position = r.getPosition();
  e.stream = ToString(r.getStream());
  e.stream_version = r.getStreamVersion();
  e.type = static_cast<EventType>(r.getType());
  e.recorded_at_us = r.getRecordedAt();
  e.client_id = ToString(r.getClientId());
  e.idempotency_key = ToString(r.getIdempotencyKey());
  e.correlation_id = ToString(r.getCorrelationId());
  e.causation_id = ToString(r.getCausationId());
  auto prev = GetHash(r.getPrevHash(), "prev_hash");
  if (!prev) return std::unexpected(prev.error());
  e.prev_hash = *prev;
  e.hash = hash;
  auto postings = r.getPostings();
  event.postings.reserve(postings.size());
  for (auto p : postings) {
    event.postings.push_back(
        Posting{ToString(p.getFrom()), ToString(p.getTo()), ToString(p.getAsset()), p.getAmount()});
  }
  auto payload = GetPayload(r.getPayload());
  if (!payload) return std::unexpected(payload.error());
  event.payload = std::move(*payload);
  if (PayloadType(event.payload) != e.type) {
    return Fail(ErrorKind::kCorruption, "corruption", "event type does not match its payload");
  }
  return event;
}

}  // namespace

void EncodeEvent(const Event& event, std::string* out) {
  alignas(capnp::word) static thread_local capnp::word scratch[kScratchWords];
  capnp::MallocMessageBuilder message(kj::arrayPtr(scratch, kScratchWords));
  FillEvent(event, /*with_hash=*/false, message.initRoot<schema::Event>());
  // capnp::canonicalize() without its closing isCanonical() self-check, which walks the whole
  // message again (a third of the encoding time). The copy below is the same canonical copy
  // (setStruct with canonical = true); tests compare it with capnp::canonicalize().
  auto reader = capnp::_::PointerHelpers<schema::Event>::getInternalReader(
      message.getRoot<schema::Event>().asReader());
  const auto words = static_cast<std::size_t>(reader.totalSize().wordCount) + 1;
  LEDGER_ASSERT(words <= kEventBytesMax / sizeof(capnp::word));
  alignas(capnp::word) static thread_local capnp::word canonical[kEventBytesMax / sizeof(capnp::word)];
  capnp::FlatMessageBuilder builder(kj::arrayPtr(canonical, words));
  capnp::_::PointerHelpers<capnp::AnyPointer>::getInternalBuilder(
      builder.initRoot<capnp::AnyPointer>())
      .setStruct(reader, /*canonical=*/true);
  kj::ArrayPtr<const capnp::word> segment = builder.getSegmentsForOutput()[0];
  AppendFramed(segment, out);
  // FlatMessageBuilder needs zeroed space next time.
  std::memset(canonical, 0, words * sizeof(capnp::word));
}

std::string EncodeEventWithHash(const Event& event) {
  capnp::MallocMessageBuilder message;
  FillEvent(event, /*with_hash=*/true, message.initRoot<schema::Event>());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

namespace {

// Runs `read(root)` on the Cap'n Proto message in `bytes`; kCorruption if it does not decode.
template <typename T, typename Read>
Result<T> WithRoot(std::string_view bytes, Read read) {
  if (bytes.size() < 8 || bytes.size() % sizeof(capnp::word) != 0 || bytes.size() > kEventBytesMax) {
    return Fail(ErrorKind::kCorruption, "corruption", "event bytes have an impossible size");
  }
  // Cap'n Proto needs word-aligned input; storage gives no alignment guarantee.
  alignas(capnp::word) static thread_local capnp::word aligned[kEventBytesMax / sizeof(capnp::word)];
  std::memcpy(aligned, bytes.data(), bytes.size());
  kj::ArrayPtr<const capnp::word> words(aligned, bytes.size() / sizeof(capnp::word));
  Result<T> result = Fail(ErrorKind::kCorruption, "corruption", "event does not decode");
  kj::Maybe<kj::Exception> exception = kj::runCatchingExceptions([&]() {
    capnp::ReaderOptions options;
    // A stored event is canonical: reading it visits each of its words once. A message that
    // makes the reader visit more (pointers sharing data) is not one we wrote, and would decode
    // to an event larger than its bytes (past kEventBytesMax): found by the stored_events fuzzer.
    options.traversalLimitInWords = words.size();
    options.nestingLimit = 16;
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      result = Fail(ErrorKind::kCorruption, "corruption", "trailing bytes after the event");
      return;
    }
    result = read(reader.getRoot<schema::Event>());
  });
  KJ_IF_MAYBE(e, exception) {
    return Fail(ErrorKind::kCorruption, "corruption",
                std::string("event does not decode: ") + e->getDescription().cStr());
  }
  return result;
}

}  // namespace

Result<Event> DecodeEvent(std::string_view bytes, const Hash& hash) {
  return WithRoot<Event>(bytes, [&hash](schema::Event::Reader root) { return ReadEvent(root, hash); });
}

Result<EventSummary> PeekEvent(std::string_view bytes) {
  return WithRoot<EventSummary>(bytes, [](schema::Event::Reader root) -> Result<EventSummary> {
    EventSummary summary;
    summary.position = root.getPosition();
    summary.type = static_cast<EventType>(root.getType());
    auto prev = GetHash(root.getPrevHash(), "prev_hash");
    if (!prev) return std::unexpected(prev.error());
    summary.prev_hash = *prev;
    return summary;
  });
}

namespace {

// One digest context per thread, with SHA-256 fetched once (fetching per call costs more than
// hashing a small event).
class Sha256Context {
 public:
  Sha256Context() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), context_(EVP_MD_CTX_new()) {
    LEDGER_ASSERT(md_ != nullptr && context_ != nullptr);
  }
  ~Sha256Context() {
    EVP_MD_CTX_free(context_);
    EVP_MD_free(md_);
  }
  Hash Digest(std::string_view first, std::string_view second) {
    Hash hash{};
    unsigned size = 0;
    LEDGER_ASSERT(EVP_DigestInit_ex2(context_, md_, nullptr) == 1);
    LEDGER_ASSERT(EVP_DigestUpdate(context_, first.data(), first.size()) == 1);
    LEDGER_ASSERT(EVP_DigestUpdate(context_, second.data(), second.size()) == 1);
    LEDGER_ASSERT(EVP_DigestFinal_ex(context_, hash.data(), &size) == 1 && size == hash.size());
    return hash;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* context_;
};

Sha256Context& ThreadSha256() {
  static thread_local Sha256Context context;
  return context;
}

}  // namespace

Hash ChainHash(const Hash& prev_hash, std::string_view bytes) {
  return ThreadSha256().Digest(
      std::string_view(reinterpret_cast<const char*>(prev_hash.data()), prev_hash.size()), bytes);
}

Hash Sha256(std::string_view bytes) { return ThreadSha256().Digest({}, bytes); }

}  // namespace ledger
