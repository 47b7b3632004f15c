// JSON request bodies -> commands (syntax and types only; business rules are commands::Decide's).
// Every decoder is strict: the body must be one JSON object (valid UTF-8, depth at most
// kJsonDepthMax, no duplicate keys) with exactly the documented field names; unknown fields,
// missing required fields and wrong types are kInvalidArgument errors that name the field.
// Integers must be JSON integers within int64 (1.0, 1e3 and 2^63 are refused). JSON null is
// accepted for an optional field and means "absent". Field reference: transport/README.md.
#pragma once

#include <string_view>

#include "commands/command.h"
#include "ledger/status.h"

namespace ledger::transport {

// POST /v1/assets/changes
// {account, asset, amount, source, counterparty?, reason, ref, expected_version?}
[[nodiscard]] Result<commands::ChangeAsset> DecodeChangeAsset(std::string_view body);

// POST /v1/transfers
// {postings: [{from, to, asset, amount}], ref?, metadata?: {k: v}, expected_versions?: {acct: n}}
[[nodiscard]] Result<commands::Transfer> DecodeTransfer(std::string_view body);

// POST /v1/settlements
// {order_id, merchant, payer, asset, gross, splits: [{to, kind, bps | amount}], occurred_at?}
// Each split must carry exactly one of bps and amount.
[[nodiscard]] Result<commands::SettleOrder> DecodeSettleOrder(std::string_view body);

// POST /v1/settlements/{order_id}/refunds  {refund_id, amount}; `order_id` comes from the path.
[[nodiscard]] Result<commands::RefundOrder> DecodeRefundOrder(std::string_view body,
                                                              std::string_view order_id);

// POST /v1/payouts  {payout_id, merchant, asset, amount, bank_account, expected_version?}
[[nodiscard]] Result<commands::PayOut> DecodePayOut(std::string_view body);

// POST /v1/accounts  {account, allow_negative?, frozen?, metadata?}
[[nodiscard]] Result<commands::OpenAccount> DecodeOpenAccount(std::string_view body);

// POST /v1/campaigns  {campaign_id, kind: "coupon"|"balance", asset, unit_amount, budget,
// per_user_limit, valid_from, valid_until, funding_account}; timestamps are RFC 3339.
[[nodiscard]] Result<commands::CreateCampaign> DecodeCreateCampaign(std::string_view body);

// POST /v1/campaigns/{campaign_id}/grants  {grant_id, user}
[[nodiscard]] Result<commands::GrantVoucher> DecodeGrantVoucher(std::string_view body,
                                                                std::string_view campaign_id);

// POST /v1/campaigns/{campaign_id}/redemptions  {redemption_id, user, order_id?}
[[nodiscard]] Result<commands::RedeemVoucher> DecodeRedeemVoucher(std::string_view body,
                                                                  std::string_view campaign_id);

}  // namespace ledger::transport
