// Commands: what writers ask for, already decoded from JSON or binary frames, not yet validated
// against business rules. Decoders (transport/) check syntax and types; Decide() checks the rest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ledger/event.h"

namespace ledger::commands {

// Who sent a command, and the request-level ids that go into the event's envelope.
struct CommandContext {
  std::string client_id;
  bool is_admin = false;
  std::string idempotency_key;  // From the Idempotency-Key header; "" if none.
  std::string correlation_id;
  std::string causation_id;
};

struct OpenAccount {
  std::string account;
  bool allow_negative = false;
  bool frozen = false;
  Metadata metadata;
};

// amount > 0 credits `account`, amount < 0 debits it. Counterparty defaults to "external:<source>".
struct ChangeAsset {
  std::string account;
  std::string asset;
  std::int64_t amount = 0;
  std::string source;
  std::optional<std::string> counterparty;
  std::string reason;
  std::string ref;
  std::optional<std::uint64_t> expected_version;  // Of `account`.
};

struct Transfer {
  std::vector<Posting> postings;
  std::string ref;
  Metadata metadata;
  std::map<std::string, std::uint64_t> expected_versions;  // account -> version.
};

// A split is given either as basis points of gross or as a fixed amount, never both.
struct Split {
  std::string to;
  std::string kind;
  std::optional<std::int64_t> bps;
  std::optional<std::int64_t> amount;
};

struct SettleOrder {
  std::string order_id;
  std::string merchant;
  std::string payer;
  std::string asset;
  std::int64_t gross = 0;
  std::vector<Split> splits;
  std::optional<TimestampUs> occurred_at_us;  // Defaults to the time the ledger records it.
};

struct RefundOrder {
  std::string order_id;
  std::string refund_id;
  std::int64_t amount = 0;
};

struct PayOut {
  std::string payout_id;
  std::string merchant;
  std::string asset;
  std::int64_t amount = 0;
  std::string bank_account;
  std::optional<std::uint64_t> expected_version;  // Of `merchant`.
};

// The owner is the calling client (CommandContext::client_id).
struct CreateCampaign {
  std::string campaign_id;
  CampaignKind kind = CampaignKind::kCoupon;
  std::string asset;
  std::int64_t unit_amount = 0;
  std::int64_t budget = 0;
  std::int64_t per_user_limit = 0;
  TimestampUs valid_from_us = 0;
  TimestampUs valid_until_us = 0;
  std::string funding_account;
};

struct GrantVoucher {
  std::string campaign_id;
  std::string grant_id;
  std::string user;
};

struct RedeemVoucher {
  std::string campaign_id;
  std::string redemption_id;
  std::string user;
  std::string order_id;  // Optional: "" if none.
};

using CommandBody = std::variant<OpenAccount, ChangeAsset, Transfer, SettleOrder, RefundOrder,
                                 PayOut, CreateCampaign, GrantVoucher, RedeemVoucher>;

struct Command {
  CommandContext context;
  CommandBody body;
};

// The event type a command produces when accepted.
[[nodiscard]] EventType CommandEventType(const CommandBody& body);

}  // namespace ledger::commands
