#include "ledger/event.h"

#include <type_traits>

namespace ledger {

std::string_view EventTypeName(EventType type) {
  switch (type) {
    case EventType::kAccountOpened: return "AccountOpened";
    case EventType::kAssetChanged: return "AssetChanged";
    case EventType::kTransferred: return "Transferred";
    case EventType::kOrderSettled: return "OrderSettled";
    case EventType::kOrderRefunded: return "OrderRefunded";
    case EventType::kMerchantPaidOut: return "MerchantPaidOut";
    case EventType::kCampaignCreated: return "CampaignCreated";
    case EventType::kVoucherGranted: return "VoucherGranted";
    case EventType::kVoucherRedeemed: return "VoucherRedeemed";
  }
  return "Unknown";
}

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (EventType type : kAllEventTypes) {
    if (EventTypeName(type) == name) return type;
  }
  return std::nullopt;
}

EventType PayloadType(const Payload& payload) {
  // The variant's alternatives are declared in EventType order, starting at 1.
  static_assert(std::is_same_v<std::variant_alternative_t<0, Payload>, AccountOpened>);
  static_assert(std::is_same_v<std::variant_alternative_t<8, Payload>, VoucherRedeemed>);
  return static_cast<EventType>(payload.index() + 1);
}

void HashToHexChars(const Hash& hash, char* out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < hash.size(); ++i) {
    out[2 * i] = kDigits[hash[i] >> 4];
    out[2 * i + 1] = kDigits[hash[i] & 0xF];
  }
  out[2 * hash.size()] = '\0';
}

std::string HashToHex(const Hash& hash) {
  char hex[2 * std::tuple_size_v<Hash> + 1];
  HashToHexChars(hash, hex);
  return std::string(hex, 2 * hash.size());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Hash> HashFromHex(std::string_view hex) {
  Hash hash{};
  if (hex.size() != hash.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < hash.size(); ++i) {
    int high = HexValue(hex[2 * i]);
    int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    hash[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  return hash;
}

}  // namespace ledger
