#include "commands/command.h"

#include <type_traits>

namespace ledger::commands {

namespace {

template <typename Body>
inline constexpr bool kAlwaysFalse = false;

// The event each command body produces, checked at compile time for every alternative.
template <typename Body>
constexpr EventType EventTypeOf() {
  if constexpr (std::is_same_v<Body, OpenAccount>) {
    return EventType::kAccountOpened;
  } else if constexpr (std::is_same_v<Body, ChangeAsset>) {
    return EventType::kAssetChanged;
  } else if constexpr (std::is_same_v<Body, Transfer>) {
    return EventType::kTransferred;
  } else if constexpr (std::is_same_v<Body, SettleOrder>) {
    return EventType::kOrderSettled;
  } else if constexpr (std::is_same_v<Body, RefundOrder>) {
    return EventType::kOrderRefunded;
  } else if constexpr (std::is_same_v<Body, PayOut>) {
    return EventType::kMerchantPaidOut;
  } else if constexpr (std::is_same_v<Body, CreateCampaign>) {
    return EventType::kCampaignCreated;
  } else if constexpr (std::is_same_v<Body, GrantVoucher>) {
    return EventType::kVoucherGranted;
  } else if constexpr (std::is_same_v<Body, RedeemVoucher>) {
    return EventType::kVoucherRedeemed;
  } else {
    static_assert(kAlwaysFalse<Body>, "every command body needs an event type");
  }
}

}  // namespace

EventType CommandEventType(const CommandBody& body) {
  return std::visit(
      [](const auto& command) { return EventTypeOf<std::decay_t<decltype(command)>>(); }, body);
}

}  // namespace ledger::commands
