#include "tests/crash/command_mix.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <variant>

namespace ledger::crash {
namespace {

constexpr std::size_t kCampaigns = 4;
constexpr std::uint64_t kPayers = 32;     // user:0..31, funded in round 1.
constexpr std::uint64_t kUsers = 5'000;   // Credited and granted vouchers.
constexpr std::uint64_t kMerchants = 64;  // Settled to.
constexpr std::int64_t kPayerFunds = 1'000'000'000'000;

Sent MakeSent(commands::CommandBody body, std::string context_key, const std::string& client_id,
              bool must_reject = false) {
  Sent sent;
  sent.command.context.idempotency_key = std::move(context_key);
  sent.command.body = std::move(body);
  sent.key = EffectiveKey(sent.command, client_id);
  sent.must_reject = must_reject;
  return sent;
}

std::string CampaignId(std::size_t k) { return "crash-c" + std::to_string(k); }

}  // namespace

// The effective idempotency key of `command` sent by `client_id` (docs/api.md#idempotency).
std::string EffectiveKey(const commands::Command& command, const std::string& client_id) {
  const commands::CommandBody& body = command.body;
  if (const auto* c = std::get_if<commands::SettleOrder>(&body)) return "order/" + c->order_id;
  if (const auto* c = std::get_if<commands::RefundOrder>(&body)) {
    return "refund/" + c->order_id + "|" + c->refund_id;
  }
  if (const auto* c = std::get_if<commands::PayOut>(&body)) return "payout/" + c->payout_id;
  if (const auto* c = std::get_if<commands::CreateCampaign>(&body)) {
    return "campaign/" + c->campaign_id;
  }
  if (const auto* c = std::get_if<commands::GrantVoucher>(&body)) {
    return "grant/" + c->campaign_id + "|" + c->grant_id;
  }
  return "key/" + client_id + "|" + command.context.idempotency_key;
}

// Round 1's set-up: the campaigns and the funded payers.
std::vector<Sent> SetUpCommands(const std::string& client_id) {
  std::vector<Sent> setup;
  for (std::size_t k = 0; k < kCampaigns; ++k) {
    setup.push_back(MakeSent(commands::CreateCampaign{.campaign_id = CampaignId(k),
                                                      .kind = CampaignKind::kCoupon,
                                                      .asset = "coupon:" + CampaignId(k),
                                                      .unit_amount = 500,
                                                      .budget = 1'000'000'000'000,
                                                      .per_user_limit = 1'000'000,
                                                      .valid_from_us = 1'577'836'800'000'000,
                                                      .valid_until_us = 4'070'908'800'000'000,
                                                      .funding_account = "external:marketing"},
                             "setup-c" + std::to_string(k), client_id));
  }
  for (std::uint64_t payer = 0; payer < kPayers; ++payer) {
    setup.push_back(MakeSent(commands::ChangeAsset{.account = "user:" + std::to_string(payer),
                                                   .asset = "CNY",
                                                   .amount = kPayerFunds,
                                                   .source = "topup",
                                                   .counterparty = std::nullopt,
                                                   .reason = "crash harness funding",
                                                   .ref = "setup",
                                                   .expected_version = std::nullopt},
                             "setup-p" + std::to_string(payer), client_id));
  }
  return setup;
}

Sent Generator::Next() {
  const std::uint64_t draw = Uniform(100);
  if (draw < 40) return Credit();
  if (draw < 48) return Debit();
  if (draw < 66) return Settle();
  if (draw < 78) return Grant();
  if (draw < 90) return RefundOrPayOut();
  return Rejected();
}

// An acknowledged settlement can be refunded once, and its merchant paid out.
void Generator::Accepted(const Sent& sent) {
  if (const auto* settle = std::get_if<commands::SettleOrder>(&sent.command.body)) {
    orders_.push_back({settle->order_id, settle->gross});
    merchants_.push_back(settle->merchant);
  }
}

Sent Generator::Change(std::string account, std::int64_t amount, bool must_reject) {
  const bool debit = amount < 0;
  return MakeSent(commands::ChangeAsset{.account = std::move(account),
                                        .asset = "CNY",
                                        .amount = amount,
                                        .source = debit ? "spend" : "topup",
                                        .counterparty = std::nullopt,
                                        .reason = debit ? "purchase" : "top-up",
                                        .ref = "crash",
                                        .expected_version = std::nullopt},
                  Name("k"), client_id_, must_reject);
}

Sent Generator::Credit() {
  return Change("user:" + std::to_string(kPayers + Uniform(kUsers)), Amount(1, 50'000));
}

Sent Generator::Debit() {
  return Change("user:" + std::to_string(Uniform(kPayers)), -Amount(1, 500));
}

Sent Generator::Settle() {
  commands::SettleOrder settle{.order_id = Name("o"),
                               .merchant = "merchant:" + std::to_string(Uniform(kMerchants)),
                               .payer = "user:" + std::to_string(Uniform(kPayers)),
                               .asset = "CNY",
                               .gross = Amount(100, 100'000),
                               .splits = {},
                               .occurred_at_us = std::nullopt};
  settle.splits.push_back({.to = "platform:fees", .kind = "commission", .bps = 300, .amount = {}});
  settle.splits.push_back({.to = "host:" + std::to_string(Uniform(100)),
                           .kind = "host_commission",
                           .bps = 100,
                           .amount = {}});
  if (Uniform(2) == 0) {
    settle.splits.push_back(
        {.to = "platform:tech", .kind = "technical_service_fee", .bps = 20, .amount = {}});
  }
  return MakeSent(std::move(settle), Name("k"), client_id_);
}

Sent Generator::Grant() {
  return MakeSent(
      commands::GrantVoucher{.campaign_id = CampaignId(Uniform(kCampaigns)),
                             .grant_id = Name("g"),
                             .user = "user:" + std::to_string(kPayers + Uniform(kUsers))},
      Name("k"), client_id_);
}

Sent Generator::RefundOrPayOut() {
  if (!orders_.empty() && Uniform(2) == 0) {
    const Order order = orders_.front();
    orders_.erase(orders_.begin());
    return MakeSent(commands::RefundOrder{.order_id = order.id,
                                          .refund_id = "r1",
                                          .amount = std::max<std::int64_t>(1, order.gross / 10)},
                    Name("k"), client_id_);
  }
  if (merchants_.empty()) return Credit();  // Nothing of this round's settled yet.
  const std::string merchant = merchants_[Uniform(merchants_.size())];
  return MakeSent(commands::PayOut{.payout_id = Name("p"),
                                   .merchant = merchant,
                                   .asset = "CNY",
                                   .amount = Amount(1, 50),
                                   .bank_account = "b-" + merchant.substr(9),
                                   .expected_version = std::nullopt},
                  Name("k"), client_id_);
}

// Always refused: a debit of a user who never held anything, a refund of an order that was
// never settled, a grant from a campaign that does not exist.
Sent Generator::Rejected() {
  switch (Uniform(3)) {
    case 0:
      return Change("user:" + std::to_string(1'000'000 + Uniform(1'000)), -Amount(1, 500), true);
    case 1:
      return MakeSent(
          commands::RefundOrder{.order_id = Name("missing-o"), .refund_id = "r1", .amount = 10},
          Name("k"), client_id_, true);
    default:
      return MakeSent(
          commands::GrantVoucher{
              .campaign_id = Name("missing-c"), .grant_id = Name("g"), .user = "user:40"},
          Name("k"), client_id_, true);
  }
}

}  // namespace ledger::crash
