#include "transport/json_commands.h"

#include <optional>
#include <string>
#include <utility>

#include "transport/internal/json_fields.h"

namespace ledger::transport {
namespace {

using internal::JsonFields;

// Parses `body` and runs `decode(fields, error)` on its root object; returns the command or
// the first error found.
template <typename CommandT, typename DecodeFn>
Result<CommandT> DecodeBody(std::string_view body, std::initializer_list<std::string_view> allowed,
                            DecodeFn decode) {
  auto document = internal::ParseJsonDocument(body);
  if (!document) return std::unexpected(std::move(document.error()));
  std::optional<Error> error;
  JsonFields fields(*document, "", allowed, error);
  CommandT command = decode(fields, error);
  if (error) return std::unexpected(std::move(*error));
  return command;
}

std::string Indexed(std::string_view name, std::size_t index) {
  return std::string(name) + "[" + std::to_string(index) + "].";
}

std::vector<Posting> DecodePostings(JsonFields& fields, std::optional<Error>& error) {
  std::vector<Posting> postings;
  const rapidjson::Value* array = fields.Array("postings");
  if (array == nullptr) return postings;
  for (rapidjson::SizeType i = 0; i < array->Size() && !error; ++i) {
    JsonFields item((*array)[i], Indexed("postings", i), {"from", "to", "asset", "amount"}, error);
    Posting posting;
    posting.from = item.String("from");
    posting.to = item.String("to");
    posting.asset = item.String("asset");
    posting.amount = item.Amount("amount");
    postings.push_back(std::move(posting));
  }
  return postings;
}

std::map<std::string, std::uint64_t> DecodeExpectedVersions(JsonFields& fields) {
  std::map<std::string, std::uint64_t> versions;
  const rapidjson::Value* object = fields.OptionalObject("expected_versions");
  if (object == nullptr) return versions;
  for (const auto& member : object->GetObject()) {
    std::string account(member.name.GetString(), member.name.GetStringLength());
    if (!member.value.IsUint64()) {
      fields.Fail("field '" + fields.FieldName("expected_versions") + "." + account +
                  "' must be a non-negative integer within uint64");
      break;
    }
    versions.emplace(std::move(account), member.value.GetUint64());
  }
  return versions;
}

std::vector<commands::Split> DecodeSplits(JsonFields& fields, std::optional<Error>& error) {
  std::vector<commands::Split> splits;
  const rapidjson::Value* array = fields.Array("splits");
  if (array == nullptr) return splits;
  for (rapidjson::SizeType i = 0; i < array->Size() && !error; ++i) {
    const std::string prefix = Indexed("splits", i);
    JsonFields item((*array)[i], prefix, {"to", "kind", "bps", "amount"}, error);
    commands::Split split;
    split.to = item.String("to");
    split.kind = item.String("kind");
    split.bps = item.OptionalInt64("bps");
    split.amount = item.OptionalAmount("amount");
    if (item.ok() && split.bps.has_value() == split.amount.has_value()) {
      item.Fail("'" + prefix.substr(0, prefix.size() - 1) +
                "' must have exactly one of 'bps' and 'amount'");
    }
    splits.push_back(std::move(split));
  }
  return splits;
}

CampaignKind DecodeCampaignKind(JsonFields& fields) {
  const std::string kind = fields.String("kind");
  if (!fields.ok() || kind == "coupon") return CampaignKind::kCoupon;
  if (kind == "balance") return CampaignKind::kBalance;
  fields.Fail("field 'kind' must be \"coupon\" or \"balance\"");
  return CampaignKind::kCoupon;
}

}  // namespace

Result<commands::ChangeAsset> DecodeChangeAsset(std::string_view body) {
  return DecodeBody<commands::ChangeAsset>(
      body,
      {"account", "asset", "amount", "source", "counterparty", "reason", "ref", "expected_version"},
      [](JsonFields& fields, std::optional<Error>&) {
        commands::ChangeAsset command;
        command.account = fields.String("account");
        command.asset = fields.String("asset");
        command.amount = fields.Amount("amount");
        command.source = fields.String("source");
        command.counterparty = fields.OptionalString("counterparty");
        command.reason = fields.String("reason");
        command.ref = fields.String("ref");
        command.expected_version = fields.OptionalUint64("expected_version");
        return command;
      });
}

Result<commands::Transfer> DecodeTransfer(std::string_view body) {
  return DecodeBody<commands::Transfer>(body, {"postings", "ref", "metadata", "expected_versions"},
                                        [](JsonFields& fields, std::optional<Error>& error) {
                                          commands::Transfer command;
                                          command.postings = DecodePostings(fields, error);
                                          command.ref = fields.OptionalString("ref").value_or("");
                                          command.metadata = fields.OptionalMetadata("metadata");
                                          command.expected_versions =
                                              DecodeExpectedVersions(fields);
                                          return command;
                                        });
}

Result<commands::SettleOrder> DecodeSettleOrder(std::string_view body) {
  return DecodeBody<commands::SettleOrder>(
      body, {"order_id", "merchant", "payer", "asset", "gross", "splits", "occurred_at"},
      [](JsonFields& fields, std::optional<Error>& error) {
        commands::SettleOrder command;
        command.order_id = fields.String("order_id");
        command.merchant = fields.String("merchant");
        command.payer = fields.String("payer");
        command.asset = fields.String("asset");
        command.gross = fields.Amount("gross");
        command.splits = DecodeSplits(fields, error);
        command.occurred_at_us = fields.OptionalTimestamp("occurred_at");
        return command;
      });
}

Result<commands::RefundOrder> DecodeRefundOrder(std::string_view body, std::string_view order_id) {
  return DecodeBody<commands::RefundOrder>(body, {"refund_id", "amount"},
                                           [order_id](JsonFields& fields, std::optional<Error>&) {
                                             commands::RefundOrder command;
                                             command.order_id = std::string(order_id);
                                             command.refund_id = fields.String("refund_id");
                                             command.amount = fields.Amount("amount");
                                             return command;
                                           });
}

Result<commands::PayOut> DecodePayOut(std::string_view body) {
  return DecodeBody<commands::PayOut>(
      body, {"payout_id", "merchant", "asset", "amount", "bank_account", "expected_version"},
      [](JsonFields& fields, std::optional<Error>&) {
        commands::PayOut command;
        command.payout_id = fields.String("payout_id");
        command.merchant = fields.String("merchant");
        command.asset = fields.String("asset");
        command.amount = fields.Amount("amount");
        command.bank_account = fields.String("bank_account");
        command.expected_version = fields.OptionalUint64("expected_version");
        return command;
      });
}

Result<commands::OpenAccount> DecodeOpenAccount(std::string_view body) {
  return DecodeBody<commands::OpenAccount>(
      body, {"account", "allow_negative", "frozen", "metadata"},
      [](JsonFields& fields, std::optional<Error>&) {
        commands::OpenAccount command;
        command.account = fields.String("account");
        command.allow_negative = fields.OptionalBool("allow_negative", false);
        command.frozen = fields.OptionalBool("frozen", false);
        command.metadata = fields.OptionalMetadata("metadata");
        return command;
      });
}

Result<commands::CreateCampaign> DecodeCreateCampaign(std::string_view body) {
  return DecodeBody<commands::CreateCampaign>(
      body,
      {"campaign_id", "kind", "asset", "unit_amount", "budget", "per_user_limit", "valid_from",
       "valid_until", "funding_account"},
      [](JsonFields& fields, std::optional<Error>&) {
        commands::CreateCampaign command;
        command.campaign_id = fields.String("campaign_id");
        command.kind = DecodeCampaignKind(fields);
        command.asset = fields.String("asset");
        command.unit_amount = fields.Amount("unit_amount");
        command.budget = fields.Int64("budget");
        command.per_user_limit = fields.Int64("per_user_limit");
        command.valid_from_us = fields.Timestamp("valid_from");
        command.valid_until_us = fields.Timestamp("valid_until");
        command.funding_account = fields.String("funding_account");
        return command;
      });
}

Result<commands::GrantVoucher> DecodeGrantVoucher(std::string_view body,
                                                  std::string_view campaign_id) {
  return DecodeBody<commands::GrantVoucher>(
      body, {"grant_id", "user"}, [campaign_id](JsonFields& fields, std::optional<Error>&) {
        commands::GrantVoucher command;
        command.campaign_id = std::string(campaign_id);
        command.grant_id = fields.String("grant_id");
        command.user = fields.String("user");
        return command;
      });
}

Result<commands::RedeemVoucher> DecodeRedeemVoucher(std::string_view body,
                                                    std::string_view campaign_id) {
  return DecodeBody<commands::RedeemVoucher>(
      body, {"redemption_id", "user", "order_id"},
      [campaign_id](JsonFields& fields, std::optional<Error>&) {
        commands::RedeemVoucher command;
        command.campaign_id = std::string(campaign_id);
        command.redemption_id = fields.String("redemption_id");
        command.user = fields.String("user");
        command.order_id = fields.OptionalString("order_id").value_or("");
        return command;
      });
}

}  // namespace ledger::transport
