// The ledger's events as plain C++ values. The stored form is the Cap'n Proto schema in
// schema/events.capnp (see event_codec.h); this is what the rest of the code works with.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ledger {

using Hash = std::array<std::uint8_t, 32>;
// Microseconds since the Unix epoch, UTC.
using TimestampUs = std::int64_t;
using Metadata = std::vector<std::pair<std::string, std::string>>;

// Stable numbering: the values are part of the stored format (see docs/events.md).
enum class EventType : std::uint16_t {
  kAccountOpened = 1,
  kAssetChanged = 2,
  kTransferred = 3,
  kOrderSettled = 4,
  kOrderRefunded = 5,
  kMerchantPaidOut = 6,
  kCampaignCreated = 7,
  kVoucherGranted = 8,
  kVoucherRedeemed = 9,
};

// "AssetChanged" etc.; the names used in JSON, NATS subjects and metrics.
[[nodiscard]] std::string_view EventTypeName(EventType type);
[[nodiscard]] std::optional<EventType> EventTypeFromName(std::string_view name);
inline constexpr EventType kAllEventTypes[] = {
    EventType::kAccountOpened,   EventType::kAssetChanged,    EventType::kTransferred,
    EventType::kOrderSettled,    EventType::kOrderRefunded,   EventType::kMerchantPaidOut,
    EventType::kCampaignCreated, EventType::kVoucherGranted,  EventType::kVoucherRedeemed};

// One movement of value. Double entry: `from` loses `amount`, `to` gains it; amount > 0.
struct Posting {
  std::string from;
  std::string to;
  std::string asset;
  std::int64_t amount = 0;
  bool operator==(const Posting&) const = default;
};

struct Envelope {
  std::uint64_t position = 0;        // Global, gapless, from 1.
  std::string stream;                // The aggregate: "account/<id>", "order/<id>", ...
  std::uint64_t stream_version = 0;  // 1-based within the stream.
  EventType type = EventType::kAccountOpened;
  TimestampUs recorded_at_us = 0;
  std::string client_id;             // The authenticated client that caused the event.
  std::string idempotency_key;       // Effective key ("" when the command had none).
  std::string correlation_id;
  std::string causation_id;
  Hash prev_hash{};                  // Hash of position - 1 (all zero for position 1).
  Hash hash{};                       // SHA-256(prev_hash || canonical bytes); see event_codec.h.
  bool operator==(const Envelope&) const = default;
};

// --- Payloads ------------------------------------------------------------------------------

struct AccountOpened {
  std::string account;
  bool allow_negative = false;
  bool frozen = false;
  Metadata metadata;
  bool operator==(const AccountOpened&) const = default;
};

// A credit (amount > 0) or debit (amount < 0) of `account` against `counterparty`.
struct AssetChanged {
  std::string account;
  std::string asset;
  std::int64_t amount = 0;
  std::string counterparty;
  std::string source;
  std::string reason;
  std::string ref;
  bool operator==(const AssetChanged&) const = default;
};

struct Transferred {
  std::string ref;
  Metadata metadata;
  bool operator==(const Transferred&) const = default;
};

// The kind of a settlement's last line: the merchant's own share (part of the stored format).
inline constexpr std::string_view kMerchantLineKind = "merchant";

// One line of a settlement: who receives what. The merchant's own line has kind
// kMerchantLineKind. `bps` is the share in basis points when the split was given as one, else -1.
struct SettlementLine {
  std::string to;
  std::string kind;
  std::int64_t amount = 0;
  std::int32_t bps = -1;
  bool operator==(const SettlementLine&) const = default;
};

struct OrderSettled {
  std::string order_id;
  std::string merchant;
  std::string payer;
  std::string asset;
  std::int64_t gross = 0;
  std::vector<SettlementLine> lines;  // Split lines, then the merchant's line; sum == gross.
  TimestampUs occurred_at_us = 0;
  bool operator==(const OrderSettled&) const = default;
};

// A refund reverses every line of the order in proportion; lines sum to `amount`.
struct OrderRefunded {
  std::string order_id;
  std::string refund_id;
  std::string merchant;
  std::string payer;
  std::string asset;
  std::int64_t amount = 0;
  std::int64_t refunded_total = 0;  // Cumulative refunds of the order, this one included.
  std::vector<SettlementLine> lines;
  bool operator==(const OrderRefunded&) const = default;
};

struct MerchantPaidOut {
  std::string payout_id;
  std::string merchant;
  std::string asset;
  std::int64_t amount = 0;
  std::string bank_account;
  bool operator==(const MerchantPaidOut&) const = default;
};

enum class CampaignKind : std::uint8_t { kCoupon = 1, kBalance = 2 };

struct CampaignCreated {
  std::string campaign_id;
  CampaignKind kind = CampaignKind::kCoupon;
  std::string asset;
  std::int64_t unit_amount = 0;
  std::int64_t budget = 0;          // Number of grants.
  std::int64_t per_user_limit = 0;  // Grants per user.
  TimestampUs valid_from_us = 0;
  TimestampUs valid_until_us = 0;
  std::string funding_account;
  std::string owner_client;
  bool operator==(const CampaignCreated&) const = default;
};

struct VoucherGranted {
  std::string campaign_id;
  std::string grant_id;
  std::string user;
  std::string asset;
  std::int64_t amount = 0;
  bool operator==(const VoucherGranted&) const = default;
};

struct VoucherRedeemed {
  std::string campaign_id;
  std::string redemption_id;
  std::string user;
  std::string order_id;
  std::string asset;
  std::int64_t amount = 0;
  bool operator==(const VoucherRedeemed&) const = default;
};

using Payload = std::variant<AccountOpened, AssetChanged, Transferred, OrderSettled, OrderRefunded,
                             MerchantPaidOut, CampaignCreated, VoucherGranted, VoucherRedeemed>;

// The EventType a payload alternative stands for.
[[nodiscard]] EventType PayloadType(const Payload& payload);

struct Event {
  Envelope envelope;
  std::vector<Posting> postings;  // Empty for AccountOpened and CampaignCreated.
  Payload payload;
  bool operator==(const Event&) const = default;
};

[[nodiscard]] std::string HashToHex(const Hash& hash);
// Writes the 64 hex digits and a terminating '\0' to `out` (kHashHexChars + 1 bytes).
inline constexpr std::size_t kHashHexChars = 64;
void HashToHexChars(const Hash& hash, char* out);
// The value of one hexadecimal digit (either case), or -1.
[[nodiscard]] int HexValue(char c);
[[nodiscard]] std::optional<Hash> HashFromHex(std::string_view hex);

}  // namespace ledger
