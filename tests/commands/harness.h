// Test helpers for the command layer: decide a command against a WriteState and, when accepted,
// wrap the decision into an Event the way the sequencer does and apply it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands/command.h"
#include "commands/decide.h"
#include "commands/write_state.h"
#include "ledger/event.h"
#include "ledger/status.h"
#include "tests/support/decided_event.h"

namespace ledger::commands::testing {

// 2023-11-14T22:13:20Z: an arbitrary fixed "now" for deterministic tests.
inline constexpr TimestampUs kNow = 1'700'000'000'000'000;

inline CommandContext Client(std::string client_id = "writer", bool is_admin = false) {
  CommandContext context;
  context.client_id = std::move(client_id);
  context.is_admin = is_admin;
  return context;
}

// A WriteState with the log that built it.
class Harness {
 public:
  // Decides `body`; on success applies the event and returns it.
  Result<Event> Run(CommandBody body, const CommandContext& context = Client(),
                    TimestampUs now_us = kNow) {
    Command command{context, std::move(body)};
    Result<Decision> decision = Decide(state, command, now_us);
    if (!decision) return std::unexpected(decision.error());
    Event event = ToEvent(state, std::move(*decision), events.size() + 1, context, now_us);
    state.Apply(event);
    events.push_back(event);
    return event;
  }

  // Runs a command that must succeed (fails the test otherwise) and returns its event.
  Event Must(CommandBody body, const CommandContext& context = Client(),
             TimestampUs now_us = kNow) {
    Result<Event> event = Run(std::move(body), context, now_us);
    if (!event) {
      ADD_FAILURE() << "command failed: " << event.error().code << ": " << event.error().message;
      return Event{};
    }
    return *std::move(event);
  }

  std::int64_t Balance(std::string_view account, std::string_view asset) const {
    const AccountState* state_account = state.FindAccount(account);
    return state_account == nullptr ? 0 : state_account->Balance(asset);
  }

  WriteState state;
  std::vector<Event> events;
};

// --- Command builders ------------------------------------------------------------------------

// Credits (amount > 0) or debits `account` against "external:<source>".
inline ChangeAsset Change(std::string account, std::int64_t amount, std::string asset = "USD",
                          std::string source = "bank") {
  ChangeAsset command;
  command.account = std::move(account);
  command.asset = std::move(asset);
  command.amount = amount;
  command.source = std::move(source);
  return command;
}

inline Posting Post(std::string from, std::string to, std::int64_t amount,
                    std::string asset = "USD") {
  return Posting{std::move(from), std::move(to), std::move(asset), amount};
}

inline Transfer TransferOf(std::vector<Posting> postings) {
  Transfer command;
  command.postings = std::move(postings);
  return command;
}

inline Split BpsSplit(std::string to, std::string kind, std::int64_t bps) {
  return Split{std::move(to), std::move(kind), bps, std::nullopt};
}

inline Split AmountSplit(std::string to, std::string kind, std::int64_t amount) {
  return Split{std::move(to), std::move(kind), std::nullopt, amount};
}

// Order `order_id` of `gross` USD paid by "external:payments" to "merchant:1".
inline SettleOrder Settle(std::string order_id, std::int64_t gross, std::vector<Split> splits = {},
                          std::string payer = "external:payments") {
  SettleOrder command;
  command.order_id = std::move(order_id);
  command.merchant = "merchant:1";
  command.payer = std::move(payer);
  command.asset = "USD";
  command.gross = gross;
  command.splits = std::move(splits);
  return command;
}

inline RefundOrder Refund(std::string order_id, std::string refund_id, std::int64_t amount) {
  return RefundOrder{std::move(order_id), std::move(refund_id), amount};
}

// A coupon campaign running [kNow - 1h, kNow + 1h) funded by "external:marketing".
inline CreateCampaign Campaign(std::string campaign_id, std::int64_t budget = 10,
                               std::int64_t per_user_limit = 2) {
  CreateCampaign command;
  command.campaign_id = std::move(campaign_id);
  command.kind = CampaignKind::kCoupon;
  command.asset = "COUPON";
  command.unit_amount = 1;
  command.budget = budget;
  command.per_user_limit = per_user_limit;
  command.valid_from_us = kNow - 3'600'000'000;
  command.valid_until_us = kNow + 3'600'000'000;
  command.funding_account = "external:marketing";
  return command;
}

// Passes when `result` failed with `kind` and `code`.
template <typename T>
::testing::AssertionResult IsError(const Result<T>& result, ErrorKind kind, std::string_view code) {
  if (result) return ::testing::AssertionFailure() << "succeeded; expected " << code;
  if (result.error().kind != kind || result.error().code != code) {
    return ::testing::AssertionFailure()
           << "failed with " << result.error().code << " (kind "
           << static_cast<int>(result.error().kind) << "): " << result.error().message
           << "; expected " << code << " (kind " << static_cast<int>(kind) << ")";
  }
  return ::testing::AssertionSuccess();
}

template <typename Payload>
const Payload& PayloadOf(const Event& event) {
  return std::get<Payload>(event.payload);
}

}  // namespace ledger::commands::testing
