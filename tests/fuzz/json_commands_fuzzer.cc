// libFuzzer target: the HTTP API's JSON command decoders (transport/json_commands.h), followed
// by the domain's decision on what they decode.
//
// Input: one selector byte naming the decoder, then the request body. The seed corpus uses the
// letters c t s r p o m g v (change, transfer, settle, refund, payout, open, campaign, grant,
// redeem); any other byte picks a decoder by its value.
//
// A decoded command is decided (commands::Decide) against a small ledger built once from valid
// commands. An accepted decision is applied to a copy of that state, and then double entry must
// hold: every posting moves a positive amount and every asset still sums to zero. A protected
// account going negative panics inside WriteState::Apply, which the fuzzer reports as a crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "commands/decide.h"
#include "commands/write_state.h"
#include "ledger/status.h"
#include "tests/support/decided_event.h"
#include "transport/json_commands.h"

namespace {

using namespace ledger;
using namespace ledger::transport;

constexpr std::string_view kSelectors = "ctsrpomgv";
constexpr TimestampUs kNowUs = 1'795'000'000'000'000;  // 2026-11-18, inside the campaigns.

Result<commands::Command> DecodeCommand(std::size_t selector, std::string_view body) {
  const auto wrap = [](auto decoded) -> Result<commands::Command> {
    if (!decoded) return std::unexpected(std::move(decoded.error()));
    return commands::Command{commands::CommandContext{.client_id = "fuzz", .is_admin = true},
                             std::move(*decoded)};
  };
  switch (selector) {
    case 0: return wrap(DecodeChangeAsset(body));
    case 1: return wrap(DecodeTransfer(body));
    case 2: return wrap(DecodeSettleOrder(body));
    case 3: return wrap(DecodeRefundOrder(body, "order-1"));
    case 4: return wrap(DecodePayOut(body));
    case 5: return wrap(DecodeOpenAccount(body));
    case 6: return wrap(DecodeCreateCampaign(body));
    case 7: return wrap(DecodeGrantVoucher(body, "welcome"));
    default: return wrap(DecodeRedeemVoucher(body, "welcome"));
  }
}

// Decides `command` against `state` and, if accepted, applies its event. The accepted event.
Result<Event> Accept(commands::WriteState& state, const commands::Command& command,
                     std::uint64_t position) {
  auto decision = commands::Decide(state, command, kNowUs);
  if (!decision) return std::unexpected(std::move(decision.error()));
  Event event = commands::testing::ToEvent(state, std::move(*decision), position,
                                           command.context, kNowUs);
  state.Apply(event);
  return event;
}

// The ledger every input is decided against: funded users, a merchant with a settled order,
// a coupon campaign.
const commands::WriteState& BaseState() {
  static const commands::WriteState state = [] {
    commands::WriteState built;
    const std::pair<std::size_t, std::string_view> setup[] = {
        {5, R"({"account": "merchant:acme"})"},
        {5, R"({"account": "user:frozen", "frozen": true})"},
        {0, R"({"account": "user:1", "asset": "EUR", "amount": 100000, "source": "card",
                "reason": "top-up", "ref": "r1"})"},
        {0, R"({"account": "user:2", "asset": "EUR", "amount": 5000, "source": "card",
                "reason": "top-up", "ref": "r2"})"},
        {2, R"({"order_id": "order-1", "merchant": "merchant:acme", "payer": "user:1",
                "asset": "EUR", "gross": 10000, "splits": [{"to": "host:h1",
                "kind": "host_commission", "amount": 800}, {"to": "platform:main",
                "kind": "platform_share", "bps": 500}]})"},
        {6, R"({"campaign_id": "welcome", "kind": "coupon", "asset": "COUPON",
                "unit_amount": 1, "budget": 100, "per_user_limit": 2,
                "valid_from": "2026-01-01T00:00:00Z", "valid_until": "2028-01-01T00:00:00Z",
                "funding_account": "external:marketing"})"},
        {7, R"({"grant_id": "g-1", "user": "user:1"})"},
    };
    std::uint64_t position = 0;
    for (const auto& [selector, body] : setup) {
      auto command = DecodeCommand(selector, body);
      LEDGER_ASSERT(command.has_value());
      auto accepted = Accept(built, *command, ++position);
      LEDGER_ASSERT(accepted.has_value());
    }
    return built;
  }();
  return state;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::size_t selector = kSelectors.find(static_cast<char>(data[0]));
  if (selector == std::string_view::npos) selector = data[0] % kSelectors.size();
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto command = DecodeCommand(selector, body);
  if (!command) {
    LEDGER_ASSERT(!command.error().code.empty() && !command.error().message.empty());
    return 0;
  }
  commands::WriteState state = BaseState();
  auto event = Accept(state, *command, 1'000);
  if (!event) return 0;
  for (const Posting& posting : event->postings) {
    LEDGER_ASSERT(posting.amount > 0);
    LEDGER_ASSERT(state.AssetSum(posting.asset) == 0);
  }
  return 0;
}
