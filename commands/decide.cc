#include "commands/decide.h"

#include <algorithm>
#include <array>
#include <limits>
#include <type_traits>
#include <utility>

#include "ledger/event_codec.h"
#include "ledger/limits.h"

// Returns the error of a failed Status from the enclosing function (which returns a Result).
#define LEDGER_RETURN_IF_ERROR(expr)                              \
  do {                                                            \
    if (::ledger::Status status_ = (expr); !status_) [[unlikely]] \
      return std::unexpected(std::move(status_.error()));         \
  } while (0)

namespace ledger::commands {

namespace {

constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

constexpr std::string_view kExternalPrefix = "external:";
constexpr std::string_view kBankAccountPrefix = "external:bank:";
constexpr std::string_view kSplitKinds[] = {"commission", "host_commission", "platform_share",
                                            "technical_service_fee"};
// expected_versions may name every account a transfer can touch, and no more.
constexpr std::size_t kExpectedVersionsMax = 2 * kTransferPostingsMax;
// The most postings one event carries: a transfer's, or a settlement's gross plus its splits.
constexpr std::size_t kEventPostingsMax = kTransferPostingsMax;
static_assert(kSettlementSplitsMax + 1 <= kEventPostingsMax);

// --- Validation ------------------------------------------------------------------------------

constexpr std::array<bool, 256> MakeIdBytes() {
  std::array<bool, 256> allowed{};
  for (int c = 'a'; c <= 'z'; ++c) allowed[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) allowed[static_cast<std::size_t>(c)] = true;
  for (int c = '0'; c <= '9'; ++c) allowed[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("_:.@/-")) allowed[static_cast<unsigned char>(c)] = true;
  return allowed;
}
constexpr std::array<bool, 256> kIdBytes = MakeIdBytes();

// The one rule for every business id: accounts, assets, order, refund, payout, grant,
// redemption and campaign ids, sources, split kinds, bank accounts.
bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kIdBytesMax) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return kIdBytes[static_cast<unsigned char>(c)]; });
}

std::unexpected<Error> InvalidArgument(std::string message) {
  return Fail(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// "postings[2].from": names a field of a list element in error messages.
std::string ItemField(std::string_view list, std::size_t index, std::string_view member) {
  std::string field(list);
  field += "[" + std::to_string(index) + "]";
  if (!member.empty()) field += "." + std::string(member);
  return field;
}

std::unexpected<Error> InvalidId(std::string_view field) {
  return InvalidArgument(std::string(field) + " must be 1.." + std::to_string(kIdBytesMax) +
                         " bytes of [A-Za-z0-9_:.@/-]");
}

Status CheckId(std::string_view value, std::string_view field) {
  if (!IsValidId(value)) return InvalidId(field);
  return Ok();
}

Status CheckText(std::string_view value, std::string_view field) {
  if (value.size() > kTextBytesMax) {
    return InvalidArgument(std::string(field) + " must be at most " +
                           std::to_string(kTextBytesMax) + " bytes");
  }
  return Ok();
}

Status CheckPositive(std::int64_t amount, std::string_view field) {
  if (amount <= 0) return InvalidArgument(std::string(field) + " must be > 0");
  return Ok();
}

Status CheckMetadata(const Metadata& metadata) {
  if (metadata.size() > kMetadataEntriesMax) {
    return InvalidArgument("metadata must have at most " + std::to_string(kMetadataEntriesMax) +
                           " entries");
  }
  for (std::size_t i = 0; i < metadata.size(); ++i) {
    const auto& [key, value] = metadata[i];
    if (key.empty() || key.size() > kMetadataKeyBytesMax) {
      return InvalidArgument("metadata key '" + key + "' must be 1.." +
                             std::to_string(kMetadataKeyBytesMax) + " bytes");
    }
    if (value.size() > kMetadataValueBytesMax) {
      return InvalidArgument("metadata value of '" + key + "' must be at most " +
                             std::to_string(kMetadataValueBytesMax) + " bytes");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (metadata[j].first == key) return InvalidArgument("metadata key '" + key + "' repeats");
    }
  }
  return Ok();
}

// --- Balance check ---------------------------------------------------------------------------

std::string Int128ToString(__int128 value) {
  if (value == 0) return "0";
  bool negative = value < 0;
  unsigned __int128 magnitude = negative ? static_cast<unsigned __int128>(-(value + 1)) + 1
                                         : static_cast<unsigned __int128>(value);
  std::string digits;
  for (; magnitude > 0; magnitude /= 10) digits.push_back(static_cast<char>('0' + magnitude % 10));
  if (negative) digits.push_back('-');
  std::reverse(digits.begin(), digits.end());
  return digits;
}

// Applies an event's postings to a scratch copy of the balances they touch, in order, exactly as
// WriteState::Apply will, and refuses what Apply would find broken: a debit of a frozen account,
// an overflowing balance, or a protected account below zero once every posting is applied.
class PostingsCheck {
 public:
  explicit PostingsCheck(const WriteState& state) : state_(state) {}

  Status Run(const std::vector<Posting>& postings) {
    LEDGER_ASSERT(postings.size() <= kEventPostingsMax);
    for (const Posting& posting : postings) {
      Entry& from = EntryFor(posting.from, posting.asset);
      if (from.account != nullptr && from.account->frozen) {
        return Fail(ErrorKind::kRejected, "account_frozen",
                    "account " + posting.from + " is frozen and cannot be debited");
      }
      Entry& to = EntryFor(posting.to, posting.asset);
      if (__builtin_sub_overflow(from.balance, posting.amount, &from.balance)) {
        return Overflow(posting.from, posting.asset);
      }
      if (__builtin_add_overflow(to.balance, posting.amount, &to.balance)) {
        return Overflow(posting.to, posting.asset);
      }
    }
    for (std::size_t i = 0; i < count_; ++i) {
      const Entry& entry = entries_[i];
      if (entry.balance < 0 && !entry.allow_negative) return InsufficientFunds(entry);
    }
    return Ok();
  }

 private:
  // One (account, asset) balance the event touches. Trivial on purpose: EntryFor sets every
  // field, and the array of them is not zeroed on every command.
  struct Entry {
    const std::string* id;
    const std::string* asset;
    const AccountState* account;  // Null when the event creates the account.
    bool allow_negative;
    std::int64_t start;
    std::int64_t balance;
  };

  Entry& EntryFor(const std::string& id, const std::string& asset) {
    const Entry* same_account = nullptr;
    for (std::size_t i = 0; i < count_; ++i) {
      Entry& entry = entries_[i];
      if (*entry.id != id) continue;
      if (*entry.asset == asset) return entry;
      same_account = &entry;
    }
    LEDGER_ASSERT(count_ < entries_.size());
    Entry& entry = entries_[count_++];
    entry.id = &id;
    entry.asset = &asset;
    entry.account = same_account != nullptr ? same_account->account : FindAccount(id);
    entry.allow_negative =
        entry.account != nullptr ? entry.account->allow_negative : id.starts_with(kExternalPrefix);
    entry.start = entry.account != nullptr ? entry.account->Balance(asset) : 0;
    entry.balance = entry.start;
    return entry;
  }

  // Looks up with the posting's own std::string: no copy into a lookup key.
  const AccountState* FindAccount(const std::string& id) const {
    auto it = state_.accounts().find(id);
    return it == state_.accounts().end() ? nullptr : &it->second;
  }

  static std::unexpected<Error> Overflow(const std::string& id, const std::string& asset) {
    return Fail(ErrorKind::kRejected, "balance_overflow",
                "balance of account " + id + " in " + asset + " would overflow");
  }

  static std::unexpected<Error> InsufficientFunds(const Entry& entry) {
    __int128 needed = static_cast<__int128>(entry.start) - entry.balance;
    return Fail(ErrorKind::kRejected, "insufficient_funds",
                "account " + *entry.id + " has " + std::to_string(entry.start) + " " +
                    *entry.asset + ", needs " + Int128ToString(needed));
  }

  const WriteState& state_;
  std::array<Entry, 2 * kEventPostingsMax> entries_;
  std::size_t count_ = 0;
};

Status CheckPostings(const WriteState& state, const std::vector<Posting>& postings) {
  PostingsCheck check(state);
  return check.Run(postings);
}

// The account's current version must be `expected` (an unknown account is at version 0).
Status CheckVersion(const WriteState& state, std::string_view id, std::uint64_t expected) {
  const AccountState* account = state.FindAccount(id);
  std::uint64_t version = account == nullptr ? 0 : account->version;
  if (version != expected) {
    return Fail(ErrorKind::kConflict, "version_conflict",
                "account " + std::string(id) + " is at version " + std::to_string(version) +
                    ", expected " + std::to_string(expected));
  }
  return Ok();
}

Decision MakeDecision(std::string_view prefix, std::string_view id, std::vector<Posting> postings,
                      Payload payload) {
  std::string stream;
  stream.reserve(prefix.size() + id.size());
  stream.append(prefix).append(id);
  return Decision{std::move(stream), std::move(postings), std::move(payload)};
}

// --- Accounts --------------------------------------------------------------------------------

Result<Decision> DecideOpenAccount(const WriteState& state, const CommandContext&,
                                   const OpenAccount& command, TimestampUs) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.account, "account"));
  LEDGER_RETURN_IF_ERROR(CheckMetadata(command.metadata));
  if (state.FindAccount(command.account) != nullptr) {
    return Fail(ErrorKind::kConflict, "account_exists",
                "account " + command.account + " already exists");
  }
  AccountOpened opened{command.account,
                       command.allow_negative || command.account.starts_with(kExternalPrefix),
                       command.frozen, command.metadata};
  return MakeDecision("account/", command.account, {}, std::move(opened));
}

Status ValidateChangeAsset(const ChangeAsset& command, const std::string& counterparty) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.account, "account"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.asset, "asset"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.source, "source"));
  // The counterparty is an account id too; a derived "external:<source>" must fit as one.
  LEDGER_RETURN_IF_ERROR(CheckId(counterparty, command.counterparty ? "counterparty" : "source"));
  if (counterparty == command.account) {
    return InvalidArgument("counterparty must differ from account");
  }
  if (command.amount == 0) return InvalidArgument("amount must not be 0");
  if (command.amount == kInt64Min) {
    return Fail(ErrorKind::kInvalidArgument, "amount_overflow", "amount cannot be negated");
  }
  LEDGER_RETURN_IF_ERROR(CheckText(command.reason, "reason"));
  return CheckText(command.ref, "ref");
}

Result<Decision> DecideChangeAsset(const WriteState& state, const CommandContext&,
                                   const ChangeAsset& command, TimestampUs) {
  std::string counterparty = command.counterparty.has_value()
                                 ? *command.counterparty
                                 : std::string(kExternalPrefix) + command.source;
  LEDGER_RETURN_IF_ERROR(ValidateChangeAsset(command, counterparty));
  if (command.expected_version) {
    LEDGER_RETURN_IF_ERROR(CheckVersion(state, command.account, *command.expected_version));
  }
  std::vector<Posting> postings;
  if (command.amount > 0) {
    postings.push_back(Posting{counterparty, command.account, command.asset, command.amount});
  } else {
    postings.push_back(Posting{command.account, counterparty, command.asset, -command.amount});
  }
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  AssetChanged changed{command.account, command.asset,  command.amount, std::move(counterparty),
                       command.source,  command.reason, command.ref};
  return MakeDecision("account/", command.account, std::move(postings), std::move(changed));
}

Status ValidatePosting(const Posting& posting, std::size_t index) {
  if (!IsValidId(posting.from)) return InvalidId(ItemField("postings", index, "from"));
  if (!IsValidId(posting.to)) return InvalidId(ItemField("postings", index, "to"));
  if (!IsValidId(posting.asset)) return InvalidId(ItemField("postings", index, "asset"));
  if (posting.from == posting.to) {
    return InvalidArgument(ItemField("postings", index, "to") + " must differ from from");
  }
  if (posting.amount <= 0) {
    return InvalidArgument(ItemField("postings", index, "amount") + " must be > 0");
  }
  return Ok();
}

// The total moved of one asset in one event must fit in int64.
Status CheckPostingSums(const std::vector<Posting>& postings) {
  for (auto first = postings.begin(); first != postings.end(); ++first) {
    auto same_asset = [&](const Posting& posting) { return posting.asset == first->asset; };
    if (std::any_of(postings.begin(), first, same_asset)) continue;  // Summed already.
    std::int64_t sum = 0;
    for (const Posting& posting : postings) {
      if (!same_asset(posting)) continue;
      if (__builtin_add_overflow(sum, posting.amount, &sum)) {
        return Fail(ErrorKind::kInvalidArgument, "amount_overflow",
                    "postings of " + posting.asset + " sum beyond 64 bits");
      }
    }
  }
  return Ok();
}

Status ValidateTransfer(const Transfer& command) {
  if (command.postings.empty() || command.postings.size() > kTransferPostingsMax) {
    return InvalidArgument("postings must have 1.." + std::to_string(kTransferPostingsMax) +
                           " entries");
  }
  for (std::size_t i = 0; i < command.postings.size(); ++i) {
    LEDGER_RETURN_IF_ERROR(ValidatePosting(command.postings[i], i));
  }
  LEDGER_RETURN_IF_ERROR(CheckPostingSums(command.postings));
  LEDGER_RETURN_IF_ERROR(CheckText(command.ref, "ref"));
  LEDGER_RETURN_IF_ERROR(CheckMetadata(command.metadata));
  if (command.expected_versions.size() > kExpectedVersionsMax) {
    return InvalidArgument("expected_versions must have at most " +
                           std::to_string(kExpectedVersionsMax) + " entries");
  }
  for (const auto& [account, version] : command.expected_versions) {
    if (!IsValidId(account)) return InvalidId("expected_versions key '" + account + "'");
  }
  return Ok();
}

Result<Decision> DecideTransfer(const WriteState& state, const CommandContext&,
                                const Transfer& command, TimestampUs) {
  LEDGER_RETURN_IF_ERROR(ValidateTransfer(command));
  for (const auto& [account, version] : command.expected_versions) {
    LEDGER_RETURN_IF_ERROR(CheckVersion(state, account, version));
  }
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, command.postings));
  return Decision{"transfers", command.postings, Transferred{command.ref, command.metadata}};
}

Status ValidatePayOut(const PayOut& command, const std::string& bank) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.payout_id, "payout_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.merchant, "merchant"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.asset, "asset"));
  // "external:bank:<bank_account>" is an account id and must fit as one.
  LEDGER_RETURN_IF_ERROR(CheckId(command.bank_account, "bank_account"));
  LEDGER_RETURN_IF_ERROR(CheckId(bank, "bank_account"));
  if (bank == command.merchant) return InvalidArgument("merchant must differ from bank_account");
  return CheckPositive(command.amount, "amount");
}

Result<Decision> DecidePayOut(const WriteState& state, const CommandContext&, const PayOut& command,
                              TimestampUs) {
  std::string bank = std::string(kBankAccountPrefix) + command.bank_account;
  LEDGER_RETURN_IF_ERROR(ValidatePayOut(command, bank));
  if (command.expected_version) {
    LEDGER_RETURN_IF_ERROR(CheckVersion(state, command.merchant, *command.expected_version));
  }
  std::vector<Posting> postings{
      Posting{command.merchant, std::move(bank), command.asset, command.amount}};
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  MerchantPaidOut paid_out{command.payout_id, command.merchant, command.asset, command.amount,
                           command.bank_account};
  return MakeDecision("account/", command.merchant, std::move(postings), std::move(paid_out));
}

// --- Orders ----------------------------------------------------------------------------------

bool IsSplitKind(std::string_view kind) {
  return std::find(std::begin(kSplitKinds), std::end(kSplitKinds), kind) != std::end(kSplitKinds);
}

Status ValidateSplit(const Split& split, std::size_t index, const std::string& merchant) {
  if (!IsValidId(split.to)) return InvalidId(ItemField("splits", index, "to"));
  if (split.to == merchant) {
    return InvalidArgument(ItemField("splits", index, "to") + " must differ from merchant");
  }
  if (!IsSplitKind(split.kind)) {
    return InvalidArgument(ItemField("splits", index, "kind") +
                           " must be one of commission, host_commission, platform_share, "
                           "technical_service_fee");
  }
  if (split.bps.has_value() == split.amount.has_value()) {
    return InvalidArgument(ItemField("splits", index, "") + " needs exactly one of bps, amount");
  }
  if (split.bps && (*split.bps < 1 || *split.bps > kBasisPointsMax)) {
    return InvalidArgument(ItemField("splits", index, "bps") + " must be 1.." +
                           std::to_string(kBasisPointsMax));
  }
  if (split.amount && *split.amount <= 0) {
    return InvalidArgument(ItemField("splits", index, "amount") + " must be > 0");
  }
  return Ok();
}

Status ValidateSettleOrder(const SettleOrder& command) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.order_id, "order_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.merchant, "merchant"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.payer, "payer"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.asset, "asset"));
  if (command.payer == command.merchant) return InvalidArgument("payer must differ from merchant");
  LEDGER_RETURN_IF_ERROR(CheckPositive(command.gross, "gross"));
  if (command.splits.size() > kSettlementSplitsMax) {
    return InvalidArgument("splits must have at most " + std::to_string(kSettlementSplitsMax) +
                           " entries");
  }
  std::int64_t fixed_sum = 0;
  for (std::size_t i = 0; i < command.splits.size(); ++i) {
    const Split& split = command.splits[i];
    LEDGER_RETURN_IF_ERROR(ValidateSplit(split, i, command.merchant));
    if (split.amount && __builtin_add_overflow(fixed_sum, *split.amount, &fixed_sum)) {
      return Fail(ErrorKind::kInvalidArgument, "amount_overflow",
                  "split amounts sum beyond 64 bits");
    }
  }
  return Ok();
}

// The settlement's lines: each split's amount, then the merchant's remainder.
Result<std::vector<SettlementLine>> SettlementLines(const SettleOrder& command) {
  std::vector<SettlementLine> lines;
  lines.reserve(command.splits.size() + 1);
  __int128 splits_sum = 0;
  for (const Split& split : command.splits) {
    std::int64_t amount =
        split.bps
            ? DivideRoundHalfUp(static_cast<__int128>(command.gross) * *split.bps, kBasisPointsMax)
            : *split.amount;
    splits_sum += amount;
    lines.push_back(SettlementLine{split.to, split.kind, amount,
                                   split.bps ? static_cast<std::int32_t>(*split.bps) : -1});
  }
  if (splits_sum > command.gross) {
    return Fail(ErrorKind::kRejected, "splits_exceed_gross",
                "splits sum to " + Int128ToString(splits_sum) + ", more than gross " +
                    std::to_string(command.gross));
  }
  lines.push_back(SettlementLine{command.merchant, std::string(kMerchantLineKind),
                                 command.gross - static_cast<std::int64_t>(splits_sum), -1});
  return lines;
}

Result<Decision> DecideSettleOrder(const WriteState& state, const CommandContext&,
                                   const SettleOrder& command, TimestampUs now_us) {
  LEDGER_RETURN_IF_ERROR(ValidateSettleOrder(command));
  if (state.FindOrder(command.order_id) != nullptr) {
    return Fail(ErrorKind::kConflict, "order_already_settled",
                "order " + command.order_id + " is already settled");
  }
  Result<std::vector<SettlementLine>> lines = SettlementLines(command);
  if (!lines) return std::unexpected(std::move(lines.error()));
  // The payer pays the merchant the gross; the merchant then pays each split its share.
  std::vector<Posting> postings;
  postings.reserve(lines->size());
  postings.push_back(Posting{command.payer, command.merchant, command.asset, command.gross});
  for (std::size_t i = 0; i + 1 < lines->size(); ++i) {
    const SettlementLine& line = (*lines)[i];
    if (line.amount > 0) {
      postings.push_back(Posting{command.merchant, line.to, command.asset, line.amount});
    }
  }
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  OrderSettled settled{command.order_id,
                       command.merchant,
                       command.payer,
                       command.asset,
                       command.gross,
                       std::move(*lines),
                       command.occurred_at_us.value_or(now_us)};
  return MakeDecision("order/", command.order_id, std::move(postings), std::move(settled));
}

// This refund's share of each line. Rounding is cumulative: a split line's reversal after
// refunds totalling T is round(line * T / gross), so partial refunds add up to exactly the line
// once T reaches gross. The merchant's line takes the remainder (it may be negative when the
// splits' rounding catches up; the lines always sum to `amount`).
std::vector<SettlementLine> RefundLines(const OrderState& order, std::int64_t amount) {
  const OrderSettled& settlement = order.settlement;
  LEDGER_ASSERT(!settlement.lines.empty() && settlement.lines.back().kind == kMerchantLineKind);
  std::int64_t before = order.refunded_total;
  std::int64_t after = before + amount;
  std::vector<SettlementLine> lines = settlement.lines;
  std::int64_t splits_sum = 0;
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    __int128 line = lines[i].amount;
    lines[i].amount = DivideRoundHalfUp(line * after, settlement.gross) -
                      DivideRoundHalfUp(line * before, settlement.gross);
    splits_sum += lines[i].amount;
  }
  lines.back().amount = amount - splits_sum;
  return lines;
}

Result<Decision> DecideRefundOrder(const WriteState& state, const CommandContext&,
                                   const RefundOrder& command, TimestampUs) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.order_id, "order_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.refund_id, "refund_id"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(command.amount, "amount"));
  const OrderState* order = state.FindOrder(command.order_id);
  if (order == nullptr) {
    return Fail(ErrorKind::kNotFound, "order_not_found",
                "order " + command.order_id + " does not exist");
  }
  const OrderSettled& settlement = order->settlement;
  if (command.amount > settlement.gross - order->refunded_total) {
    return Fail(ErrorKind::kRejected, "refund_exceeds_gross",
                "refund of " + std::to_string(command.amount) + " would exceed gross " +
                    std::to_string(settlement.gross) + " (already refunded " +
                    std::to_string(order->refunded_total) + ")");
  }
  std::vector<SettlementLine> lines = RefundLines(*order, command.amount);
  std::vector<Posting> postings;
  postings.reserve(lines.size());
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) {
    if (lines[i].amount > 0) {
      postings.push_back(
          Posting{lines[i].to, settlement.merchant, settlement.asset, lines[i].amount});
    }
  }
  postings.push_back(
      Posting{settlement.merchant, settlement.payer, settlement.asset, command.amount});
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  OrderRefunded refunded{command.order_id,
                         command.refund_id,
                         settlement.merchant,
                         settlement.payer,
                         settlement.asset,
                         command.amount,
                         order->refunded_total + command.amount,
                         std::move(lines)};
  return MakeDecision("order/", command.order_id, std::move(postings), std::move(refunded));
}

// --- Campaigns -------------------------------------------------------------------------------

Status ValidateCreateCampaign(const CreateCampaign& command) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.campaign_id, "campaign_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.asset, "asset"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.funding_account, "funding_account"));
  if (command.kind != CampaignKind::kCoupon && command.kind != CampaignKind::kBalance) {
    return InvalidArgument("kind must be coupon or balance");
  }
  LEDGER_RETURN_IF_ERROR(CheckPositive(command.unit_amount, "unit_amount"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(command.budget, "budget"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(command.per_user_limit, "per_user_limit"));
  if (command.valid_from_us >= command.valid_until_us) {
    return InvalidArgument("valid_from must be before valid_until");
  }
  return Ok();
}

Result<Decision> DecideCreateCampaign(const WriteState& state, const CommandContext& context,
                                      const CreateCampaign& command, TimestampUs) {
  LEDGER_RETURN_IF_ERROR(ValidateCreateCampaign(command));
  if (state.FindCampaign(command.campaign_id) != nullptr) {
    return Fail(ErrorKind::kConflict, "campaign_exists",
                "campaign " + command.campaign_id + " already exists");
  }
  CampaignCreated created{command.campaign_id,   command.kind,           command.asset,
                          command.unit_amount,   command.budget,         command.per_user_limit,
                          command.valid_from_us, command.valid_until_us, command.funding_account,
                          context.client_id};
  return MakeDecision("campaign/", command.campaign_id, {}, std::move(created));
}

Result<const CampaignState*> FindCampaign(const WriteState& state, const std::string& id) {
  const CampaignState* campaign = state.FindCampaign(id);
  if (campaign == nullptr) {
    return Fail(ErrorKind::kNotFound, "campaign_not_found", "campaign " + id + " does not exist");
  }
  return campaign;
}

// Vouchers move value between the funding account and a user, who must be another account; the
// campaign must run at `now_us` (valid_from inclusive, valid_until exclusive).
Status CheckVoucherAllowed(const CampaignCreated& campaign, const std::string& user,
                           TimestampUs now_us) {
  if (user == campaign.funding_account) {
    return InvalidArgument("user must differ from the campaign's funding account");
  }
  if (now_us < campaign.valid_from_us || now_us >= campaign.valid_until_us) {
    return Fail(ErrorKind::kRejected, "campaign_not_active",
                "campaign " + campaign.campaign_id + " runs from " +
                    std::to_string(campaign.valid_from_us) + " until " +
                    std::to_string(campaign.valid_until_us) + " (us)");
  }
  return Ok();
}

Status CheckGrantAllowed(const WriteState& state, const CampaignState& campaign,
                         const GrantVoucher& command) {
  if (campaign.granted >= campaign.campaign.budget) {
    return Fail(ErrorKind::kRejected, "budget_exhausted",
                "campaign " + command.campaign_id + " has granted all " +
                    std::to_string(campaign.campaign.budget) + " vouchers");
  }
  if (state.GrantsToUser(command.campaign_id, command.user) >= campaign.campaign.per_user_limit) {
    return Fail(ErrorKind::kRejected, "per_user_limit_reached",
                "user " + command.user + " already has " +
                    std::to_string(campaign.campaign.per_user_limit) + " grants of campaign " +
                    command.campaign_id);
  }
  return Ok();
}

Result<Decision> DecideGrantVoucher(const WriteState& state, const CommandContext& context,
                                    const GrantVoucher& command, TimestampUs now_us) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.campaign_id, "campaign_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.grant_id, "grant_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.user, "user"));
  Result<const CampaignState*> campaign = FindCampaign(state, command.campaign_id);
  if (!campaign) return std::unexpected(std::move(campaign.error()));
  const CampaignCreated& created = (*campaign)->campaign;
  if (!context.is_admin && context.client_id != created.owner_client) {
    return Fail(ErrorKind::kPermissionDenied, "not_campaign_owner",
                "client " + context.client_id + " does not own campaign " + command.campaign_id);
  }
  LEDGER_RETURN_IF_ERROR(CheckVoucherAllowed(created, command.user, now_us));
  LEDGER_RETURN_IF_ERROR(CheckGrantAllowed(state, **campaign, command));
  std::vector<Posting> postings{
      Posting{created.funding_account, command.user, created.asset, created.unit_amount}};
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  VoucherGranted granted{command.campaign_id, command.grant_id, command.user, created.asset,
                         created.unit_amount};
  return MakeDecision("campaign/", command.campaign_id, std::move(postings), std::move(granted));
}

Result<Decision> DecideRedeemVoucher(const WriteState& state, const CommandContext&,
                                     const RedeemVoucher& command, TimestampUs now_us) {
  LEDGER_RETURN_IF_ERROR(CheckId(command.campaign_id, "campaign_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.redemption_id, "redemption_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(command.user, "user"));
  if (!command.order_id.empty()) LEDGER_RETURN_IF_ERROR(CheckId(command.order_id, "order_id"));
  Result<const CampaignState*> campaign = FindCampaign(state, command.campaign_id);
  if (!campaign) return std::unexpected(std::move(campaign.error()));
  const CampaignCreated& created = (*campaign)->campaign;
  LEDGER_RETURN_IF_ERROR(CheckVoucherAllowed(created, command.user, now_us));
  std::vector<Posting> postings{
      Posting{command.user, created.funding_account, created.asset, created.unit_amount}};
  LEDGER_RETURN_IF_ERROR(CheckPostings(state, postings));
  VoucherRedeemed redeemed{command.campaign_id, command.redemption_id, command.user,
                           command.order_id,    created.asset,         created.unit_amount};
  return MakeDecision("campaign/", command.campaign_id, std::move(postings), std::move(redeemed));
}

// --- Fingerprint -----------------------------------------------------------------------------

// A canonical byte string of a command: fixed field order, integers as 8 little-endian bytes,
// strings and lists length-prefixed, optionals with a presence byte. Unambiguous, so equal bytes
// mean equal commands.
class Canonical {
 public:
  explicit Canonical(std::string* out) : out_(out) {}

  template <typename... Fields>
  void Add(const Fields&... fields) {
    (Field(fields), ...);
  }

  void Body(const OpenAccount& c) { Add(c.account, c.allow_negative, c.frozen, c.metadata); }
  void Body(const ChangeAsset& c) {
    Add(c.account, c.asset, c.amount, c.source, c.counterparty, c.reason, c.ref,
        c.expected_version);
  }
  void Body(const Transfer& c) {
    Field(std::uint64_t{c.postings.size()});
    for (const Posting& p : c.postings) Add(p.from, p.to, p.asset, p.amount);
    Add(c.ref, c.metadata);
    Field(std::uint64_t{c.expected_versions.size()});  // A std::map: in canonical order already.
    for (const auto& [account, version] : c.expected_versions) Add(account, version);
  }
  void Body(const SettleOrder& c) {
    Add(c.order_id, c.merchant, c.payer, c.asset, c.gross);
    Field(std::uint64_t{c.splits.size()});
    for (const Split& s : c.splits) Add(s.to, s.kind, s.bps, s.amount);
    Field(c.occurred_at_us);
  }
  void Body(const RefundOrder& c) { Add(c.order_id, c.refund_id, c.amount); }
  void Body(const PayOut& c) {
    Add(c.payout_id, c.merchant, c.asset, c.amount, c.bank_account, c.expected_version);
  }
  void Body(const CreateCampaign& c) {
    Add(c.campaign_id, static_cast<std::uint64_t>(c.kind), c.asset, c.unit_amount, c.budget,
        c.per_user_limit, c.valid_from_us, c.valid_until_us, c.funding_account);
  }
  void Body(const GrantVoucher& c) { Add(c.campaign_id, c.grant_id, c.user); }
  void Body(const RedeemVoucher& c) { Add(c.campaign_id, c.redemption_id, c.user, c.order_id); }

 private:
  void Field(std::uint64_t value) {
    for (int i = 0; i < 8; ++i) out_->push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
  }
  void Field(std::int64_t value) { Field(static_cast<std::uint64_t>(value)); }
  void Field(bool value) { out_->push_back(value ? '\1' : '\0'); }
  void Field(std::string_view value) {
    Field(std::uint64_t{value.size()});
    out_->append(value);
  }
  void Field(const std::string& value) { Field(std::string_view(value)); }
  template <typename T>
  void Field(const std::optional<T>& value) {
    Field(value.has_value());
    if (value) Field(*value);
  }
  void Field(const Metadata& metadata) {
    Field(std::uint64_t{metadata.size()});
    for (const auto& [key, value] : metadata) Add(key, value);
  }

  std::string* out_;
};

constexpr std::string_view kFingerprintDomain = "ledger.command.v1";

// --- Idempotency keys ------------------------------------------------------------------------

std::string BusinessKey(const OpenAccount& c) { return "account/" + c.account; }
std::string BusinessKey(const ChangeAsset&) { return ""; }
std::string BusinessKey(const Transfer&) { return ""; }
std::string BusinessKey(const SettleOrder& c) { return "order/" + c.order_id; }
std::string BusinessKey(const RefundOrder& c) { return "refund/" + c.order_id + "|" + c.refund_id; }
std::string BusinessKey(const PayOut& c) { return "payout/" + c.payout_id; }
std::string BusinessKey(const CreateCampaign& c) { return "campaign/" + c.campaign_id; }
std::string BusinessKey(const GrantVoucher& c) {
  return "grant/" + c.campaign_id + "|" + c.grant_id;
}
std::string BusinessKey(const RedeemVoucher& c) {
  return "redeem/" + c.campaign_id + "|" + c.redemption_id;
}

}  // namespace

Result<Decision> Decide(const WriteState& state, const Command& command, TimestampUs now_us) {
  return std::visit(
      [&](const auto& body) -> Result<Decision> {
        using Body = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Body, OpenAccount>) {
          return DecideOpenAccount(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, ChangeAsset>) {
          return DecideChangeAsset(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, Transfer>) {
          return DecideTransfer(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, SettleOrder>) {
          return DecideSettleOrder(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, RefundOrder>) {
          return DecideRefundOrder(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, PayOut>) {
          return DecidePayOut(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, CreateCampaign>) {
          return DecideCreateCampaign(state, command.context, body, now_us);
        } else if constexpr (std::is_same_v<Body, GrantVoucher>) {
          return DecideGrantVoucher(state, command.context, body, now_us);
        } else {
          static_assert(std::is_same_v<Body, RedeemVoucher>);
          return DecideRedeemVoucher(state, command.context, body, now_us);
        }
      },
      command.body);
}

std::string IdempotencyKey(const Command& command) {
  std::string key = std::visit([](const auto& body) { return BusinessKey(body); }, command.body);
  if (!key.empty() || command.context.idempotency_key.empty()) return key;
  return "key/" + command.context.client_id + "|" + command.context.idempotency_key;
}

Hash Fingerprint(const Command& command) {
  std::string bytes;
  bytes.reserve(256);
  Canonical canonical(&bytes);
  canonical.Add(kFingerprintDomain, command.context.client_id,
                static_cast<std::uint64_t>(CommandEventType(command.body)));
  std::visit([&](const auto& body) { canonical.Body(body); }, command.body);
  return Sha256(bytes);
}

std::int64_t DivideRoundHalfUp(__int128 numerator, __int128 denominator) {
  LEDGER_ASSERT(numerator >= 0 && denominator > 0);
  __int128 quotient = numerator / denominator;
  __int128 remainder = numerator % denominator;
  // Half up: round away from zero when the remainder is at least half the denominator.
  if (remainder >= denominator - remainder) quotient += 1;
  LEDGER_ASSERT(quotient <= kInt64Max);
  return static_cast<std::int64_t>(quotient);
}

}  // namespace ledger::commands

#undef LEDGER_RETURN_IF_ERROR
