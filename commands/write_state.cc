#include "commands/write_state.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>

#include "ledger/limits.h"

namespace ledger::commands {

namespace {

// --- State keys ------------------------------------------------------------------------------
// "a/<account>", "o/<order_id>", "c/<campaign_id>", "g/<campaign_id>\0<user>", "t" (the
// "transfers" stream). Ids never contain '\0' (decide.cc validates them), so keys are unambiguous.
constexpr char kAccountKeyPrefix = 'a';
constexpr char kOrderKeyPrefix = 'o';
constexpr char kCampaignKeyPrefix = 'c';
constexpr char kGrantKeyPrefix = 'g';
constexpr std::string_view kTransfersKey = "t";

constexpr std::string_view kAccountStreamPrefix = "account/";
constexpr std::string_view kOrderStreamPrefix = "order/";
constexpr std::string_view kCampaignStreamPrefix = "campaign/";
constexpr std::string_view kTransfersStream = "transfers";
constexpr std::string_view kExternalPrefix = "external:";

// Every value starts with this byte; a new layout gets a new number and Load keeps reading old
// ones.
constexpr std::uint8_t kStateFormatV1 = 1;

constexpr std::uint8_t kAccountAllowNegative = 1 << 0;
constexpr std::uint8_t kAccountFrozen = 1 << 1;
constexpr std::uint8_t kAccountOpened = 1 << 2;
constexpr std::uint8_t kAccountFlagsAll = kAccountAllowNegative | kAccountFrozen | kAccountOpened;

// The grants_ key of (campaign, user), built in `out` (reused to avoid allocations).
void BuildGrantKey(std::string_view campaign_id, std::string_view user, std::string* out) {
  out->assign(campaign_id);
  out->push_back('\0');
  out->append(user);
}

// Looks `key` up in a map keyed by std::string without allocating: the maps' hash is not
// transparent (their type is part of the public interface), so copy into a reused string.
template <typename Map>
const typename Map::mapped_type* FindIn(const Map& map, std::string_view key) {
  thread_local std::string scratch;
  scratch.assign(key);
  auto it = map.find(scratch);
  return it == map.end() ? nullptr : &it->second;
}

// --- Value encoding: little-endian fixed-width integers, strings as u32 length + bytes ------

class Writer {
 public:
  // `size_hint`: the bytes about to be written, so the value is allocated once.
  Writer(std::string* out, std::size_t size_hint) : out_(out) {
    out_->clear();
    out_->reserve(size_hint);
  }
  void U8(std::uint8_t value) { out_->push_back(static_cast<char>(value)); }
  void U32(std::uint32_t value) { Fixed(value); }
  void U64(std::uint64_t value) { Fixed(value); }
  void I32(std::int32_t value) { Fixed(static_cast<std::uint32_t>(value)); }
  void I64(std::int64_t value) { Fixed(static_cast<std::uint64_t>(value)); }
  void Str(std::string_view value) {
    LEDGER_ASSERT(value.size() <= std::numeric_limits<std::uint32_t>::max());
    U32(static_cast<std::uint32_t>(value.size()));
    out_->append(value);
  }

 private:
  template <typename T>
  void Fixed(T value) {
    if constexpr (std::endian::native == std::endian::big) value = std::byteswap(value);
    char bytes[sizeof(T)];
    std::memcpy(bytes, &value, sizeof(T));
    out_->append(bytes, sizeof(T));
  }

  std::string* out_;
};

// Reads what Writer wrote. Any short read sets a sticky failure; Done() also demands that every
// byte was consumed.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  std::uint8_t U8() { return static_cast<std::uint8_t>(Fixed<std::uint8_t>()); }
  std::uint32_t U32() { return Fixed<std::uint32_t>(); }
  std::uint64_t U64() { return Fixed<std::uint64_t>(); }
  std::int32_t I32() { return static_cast<std::int32_t>(Fixed<std::uint32_t>()); }
  std::int64_t I64() { return static_cast<std::int64_t>(Fixed<std::uint64_t>()); }
  std::string Str() {
    std::uint32_t size = U32();
    if (!ok_ || size > in_.size() - pos_) return Failed<std::string>();
    std::string value(in_.substr(pos_, size));
    pos_ += size;
    return value;
  }
  // Fails the reader unless `condition` holds (semantic checks of decoded values).
  void Expect(bool condition) { ok_ = ok_ && condition; }
  [[nodiscard]] bool ok() const { return ok_; }
  [[nodiscard]] bool Done() const { return ok_ && pos_ == in_.size(); }

 private:
  template <typename T>
  T Failed() {
    ok_ = false;
    return T{};
  }
  template <typename T>
  T Fixed() {
    if (!ok_ || in_.size() - pos_ < sizeof(T)) return Failed<T>();
    T value;
    std::memcpy(&value, in_.data() + pos_, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) value = std::byteswap(value);
    pos_ += sizeof(T);
    return value;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

void EncodeAccount(const AccountState& account, std::string* out) {
  std::size_t size = 22;
  for (const AssetBalance& balance : account.balances) size += 12 + balance.asset.size();
  Writer writer(out, size);
  writer.U8(kStateFormatV1);
  writer.U8(static_cast<std::uint8_t>((account.allow_negative ? kAccountAllowNegative : 0) |
                                      (account.frozen ? kAccountFrozen : 0) |
                                      (account.opened ? kAccountOpened : 0)));
  writer.U64(account.version);
  writer.U64(account.stream_version);
  writer.U32(static_cast<std::uint32_t>(account.balances.size()));
  for (const AssetBalance& balance : account.balances) {
    writer.Str(balance.asset);
    writer.I64(balance.balance);
  }
}

bool DecodeAccount(std::string_view value, AccountState* account) {
  Reader reader(value);
  reader.Expect(reader.U8() == kStateFormatV1);
  std::uint8_t flags = reader.U8();
  reader.Expect((flags & ~kAccountFlagsAll) == 0);
  account->allow_negative = (flags & kAccountAllowNegative) != 0;
  account->frozen = (flags & kAccountFrozen) != 0;
  account->opened = (flags & kAccountOpened) != 0;
  account->version = reader.U64();
  account->stream_version = reader.U64();
  std::uint32_t count = reader.U32();
  // Each balance takes at least 12 bytes: bound the count before reserving.
  reader.Expect(count <= value.size() / 12);
  if (!reader.ok()) return false;
  account->balances.reserve(count);
  for (std::uint32_t i = 0; i < count && reader.ok(); ++i) {
    AssetBalance balance{reader.Str(), reader.I64()};
    reader.Expect(!balance.asset.empty() && account->Balance(balance.asset) == 0);
    reader.Expect(balance.balance >= 0 || account->allow_negative);
    account->balances.push_back(std::move(balance));
  }
  return reader.Done();
}

void EncodeOrder(const OrderState& order, std::string* out) {
  const OrderSettled& settlement = order.settlement;
  std::size_t size =
      49 + settlement.merchant.size() + settlement.payer.size() + settlement.asset.size();
  for (const SettlementLine& line : settlement.lines) {
    size += 20 + line.to.size() + line.kind.size();
  }
  Writer writer(out, size);
  writer.U8(kStateFormatV1);
  writer.I64(order.refunded_total);
  writer.U64(order.stream_version);
  writer.Str(settlement.merchant);
  writer.Str(settlement.payer);
  writer.Str(settlement.asset);
  writer.I64(settlement.gross);
  writer.I64(settlement.occurred_at_us);
  writer.U32(static_cast<std::uint32_t>(settlement.lines.size()));
  for (const SettlementLine& line : settlement.lines) {
    writer.Str(line.to);
    writer.Str(line.kind);
    writer.I64(line.amount);
    writer.I32(line.bps);
  }
}

// The order id is the key's; it is not repeated in the value.
bool DecodeOrder(std::string_view order_id, std::string_view value, OrderState* order) {
  OrderSettled& settlement = order->settlement;
  Reader reader(value);
  reader.Expect(reader.U8() == kStateFormatV1);
  order->refunded_total = reader.I64();
  order->stream_version = reader.U64();
  settlement.order_id = std::string(order_id);
  settlement.merchant = reader.Str();
  settlement.payer = reader.Str();
  settlement.asset = reader.Str();
  settlement.gross = reader.I64();
  settlement.occurred_at_us = reader.I64();
  std::uint32_t count = reader.U32();
  reader.Expect(count >= 1 && count <= kSettlementSplitsMax + 1);
  reader.Expect(settlement.gross > 0 && order->refunded_total >= 0 &&
                order->refunded_total <= settlement.gross);
  __int128 lines_sum = 0;
  for (std::uint32_t i = 0; i < count && reader.ok(); ++i) {
    SettlementLine line;
    line.to = reader.Str();
    line.kind = reader.Str();
    line.amount = reader.I64();
    line.bps = reader.I32();
    lines_sum += line.amount;
    settlement.lines.push_back(std::move(line));
  }
  // What decide.cc relies on: split lines, then the merchant's; together exactly the gross.
  reader.Expect(reader.ok() && settlement.lines.back().kind == kMerchantLineKind &&
                lines_sum == settlement.gross);
  return reader.Done();
}

void EncodeCampaign(const CampaignState& state, std::string* out) {
  const CampaignCreated& campaign = state.campaign;
  Writer writer(out, 70 + campaign.asset.size() + campaign.funding_account.size() +
                         campaign.owner_client.size());
  writer.U8(kStateFormatV1);
  writer.I64(state.granted);
  writer.U64(state.stream_version);
  writer.U8(static_cast<std::uint8_t>(campaign.kind));
  writer.Str(campaign.asset);
  writer.I64(campaign.unit_amount);
  writer.I64(campaign.budget);
  writer.I64(campaign.per_user_limit);
  writer.I64(campaign.valid_from_us);
  writer.I64(campaign.valid_until_us);
  writer.Str(campaign.funding_account);
  writer.Str(campaign.owner_client);
}

// The campaign id is the key's; it is not repeated in the value.
bool DecodeCampaign(std::string_view campaign_id, std::string_view value, CampaignState* state) {
  CampaignCreated& campaign = state->campaign;
  Reader reader(value);
  reader.Expect(reader.U8() == kStateFormatV1);
  state->granted = reader.I64();
  state->stream_version = reader.U64();
  std::uint8_t kind = reader.U8();
  reader.Expect(kind == static_cast<std::uint8_t>(CampaignKind::kCoupon) ||
                kind == static_cast<std::uint8_t>(CampaignKind::kBalance));
  campaign.campaign_id = std::string(campaign_id);
  campaign.kind = static_cast<CampaignKind>(kind);
  campaign.asset = reader.Str();
  campaign.unit_amount = reader.I64();
  campaign.budget = reader.I64();
  campaign.per_user_limit = reader.I64();
  campaign.valid_from_us = reader.I64();
  campaign.valid_until_us = reader.I64();
  campaign.funding_account = reader.Str();
  campaign.owner_client = reader.Str();
  reader.Expect(state->granted >= 0 && state->granted <= campaign.budget);
  return reader.Done();
}

void EncodeCounter(std::uint64_t counter, std::string* out) {
  Writer writer(out, 9);
  writer.U8(kStateFormatV1);
  writer.U64(counter);
}

bool DecodeCounter(std::string_view value, std::uint64_t* counter) {
  Reader reader(value);
  reader.Expect(reader.U8() == kStateFormatV1);
  *counter = reader.U64();
  return reader.Done();
}

bool AccountEquals(const AccountState& a, const AccountState& b) {
  if (a.allow_negative != b.allow_negative || a.frozen != b.frozen || a.opened != b.opened ||
      a.version != b.version || a.stream_version != b.stream_version) {
    return false;
  }
  // Balances compare as a mapping: the order assets were first seen in does not matter.
  for (const AssetBalance& balance : a.balances) {
    if (b.Balance(balance.asset) != balance.balance) return false;
  }
  for (const AssetBalance& balance : b.balances) {
    if (a.Balance(balance.asset) != balance.balance) return false;
  }
  return true;
}

bool OrderEquals(const OrderState& a, const OrderState& b) {
  return a.settlement == b.settlement && a.refunded_total == b.refunded_total &&
         a.stream_version == b.stream_version;
}

bool CampaignEquals(const CampaignState& a, const CampaignState& b) {
  return a.campaign == b.campaign && a.granted == b.granted && a.stream_version == b.stream_version;
}

template <typename Map, typename Equals>
bool MapsEqual(const Map& a, const Map& b, Equals equals) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end() || !equals(value, it->second)) return false;
  }
  return true;
}

Error CorruptState(std::string_view key) {
  std::string printable;
  for (char c : key) printable.push_back(c == '\0' ? '|' : c);
  return MakeError(ErrorKind::kCorruption, "state_corrupt",
                   "state entry '" + printable + "' does not decode");
}

}  // namespace

// --- Apply -----------------------------------------------------------------------------------

// Applies one event. Every check here pairs one in decide.cc: failing it means Decide let through
// something it should not have, or the log is not what this state was built from.
class WriteState::Applier {
 public:
  Applier(WriteState& state, const Envelope& envelope) : state_(state), envelope_(envelope) {}

  void Postings(const std::vector<Posting>& postings) {
    LEDGER_ASSERT(postings.size() <= kTransferPostingsMax);
    for (const Posting& posting : postings) {
      LEDGER_ASSERT(posting.amount > 0 && posting.from != posting.to);
      AccountState& from = Touch(posting.from);
      AccountState& to = Touch(posting.to);
      LEDGER_ASSERT(!from.frozen);
      std::int64_t& from_balance = BalanceOf(from, posting.asset);
      std::int64_t& to_balance = BalanceOf(to, posting.asset);
      LEDGER_ASSERT(!__builtin_sub_overflow(from_balance, posting.amount, &from_balance));
      LEDGER_ASSERT(!__builtin_add_overflow(to_balance, posting.amount, &to_balance));
    }
    for (std::size_t i = 0; i < touched_count_; ++i) {
      auto& [id, account] = *touched_[i];
      account.version += 1;
      for (const AssetBalance& balance : account.balances) {
        LEDGER_ASSERT(account.allow_negative || balance.balance >= 0);
      }
      state_.MarkDirty(kAccountKeyPrefix, id);
    }
  }

  void operator()(const AccountOpened& opened) {
    auto [it, inserted] = state_.accounts_.try_emplace(opened.account);
    LEDGER_ASSERT(inserted);
    AccountState& account = it->second;
    account.allow_negative = opened.allow_negative || opened.account.starts_with(kExternalPrefix);
    account.frozen = opened.frozen;
    account.opened = true;
    account.version = 1;
    AccountStream(opened.account);
  }
  void operator()(const AssetChanged& changed) { AccountStream(changed.account); }
  void operator()(const MerchantPaidOut& paid_out) { AccountStream(paid_out.merchant); }

  void operator()(const Transferred&) {
    LEDGER_ASSERT(envelope_.stream == kTransfersStream);
    Advance(&state_.transfers_stream_version_);
    state_.dirty_.insert(std::string(kTransfersKey));
  }

  void operator()(const OrderSettled& settled) {
    auto [it, inserted] = state_.orders_.try_emplace(settled.order_id);
    LEDGER_ASSERT(inserted);
    it->second.settlement = settled;
    OrderStream(settled.order_id, &it->second);
  }

  void operator()(const OrderRefunded& refunded) {
    auto it = state_.orders_.find(refunded.order_id);
    LEDGER_ASSERT(it != state_.orders_.end());
    OrderState& order = it->second;
    LEDGER_ASSERT(refunded.amount > 0 &&
                  refunded.refunded_total == order.refunded_total + refunded.amount &&
                  refunded.refunded_total <= order.settlement.gross);
    order.refunded_total = refunded.refunded_total;
    OrderStream(refunded.order_id, &order);
  }

  void operator()(const CampaignCreated& created) {
    auto [it, inserted] = state_.campaigns_.try_emplace(created.campaign_id);
    LEDGER_ASSERT(inserted);
    it->second.campaign = created;
    CampaignStream(created.campaign_id);
  }

  void operator()(const VoucherGranted& granted) {
    CampaignState& campaign = CampaignStream(granted.campaign_id);
    LEDGER_ASSERT(campaign.granted < campaign.campaign.budget);
    campaign.granted += 1;
    thread_local std::string key;
    BuildGrantKey(granted.campaign_id, granted.user, &key);
    std::int64_t& grants = state_.grants_[key];
    LEDGER_ASSERT(grants < campaign.campaign.per_user_limit);
    grants += 1;
    state_.MarkDirty(kGrantKeyPrefix, key);
  }

  void operator()(const VoucherRedeemed& redeemed) { CampaignStream(redeemed.campaign_id); }

 private:
  using AccountEntry = std::pair<const std::string, AccountState>;

  // The account a posting names, created on first use; remembered once per event. Accounts
  // repeat within an event (the merchant of a settlement), so look at those first: cheaper than
  // hashing into a map of millions.
  AccountState& Touch(const std::string& id) {
    for (std::size_t i = 0; i < touched_count_; ++i) {
      if (touched_[i]->first == id) return touched_[i]->second;
    }
    auto [it, inserted] = state_.accounts_.try_emplace(id);
    if (inserted) it->second.allow_negative = id.starts_with(kExternalPrefix);
    LEDGER_ASSERT(touched_count_ < touched_.size());
    touched_[touched_count_++] = &*it;
    return it->second;
  }

  static std::int64_t& BalanceOf(AccountState& account, const std::string& asset) {
    for (AssetBalance& balance : account.balances) {
      if (balance.asset == asset) return balance.balance;
    }
    return account.balances.emplace_back(AssetBalance{asset, 0}).balance;
  }

  // The event's stream must be "<prefix><id>", and its version the next one.
  void ExpectStream(std::string_view prefix, std::string_view id) const {
    std::string_view stream = envelope_.stream;
    LEDGER_ASSERT(stream.size() == prefix.size() + id.size() && stream.starts_with(prefix) &&
                  stream.substr(prefix.size()) == id);
  }
  void Advance(std::uint64_t* version) const {
    LEDGER_ASSERT(envelope_.stream_version == *version + 1);
    *version = envelope_.stream_version;
  }

  // Advances stream "account/<id>". The account is usually one the postings touched (and marked
  // dirty) already; AccountOpened has no postings.
  void AccountStream(const std::string& id) {
    ExpectStream(kAccountStreamPrefix, id);
    for (std::size_t i = 0; i < touched_count_; ++i) {
      if (touched_[i]->first == id) return Advance(&touched_[i]->second.stream_version);
    }
    auto it = state_.accounts_.find(id);
    LEDGER_ASSERT(it != state_.accounts_.end());
    Advance(&it->second.stream_version);
    state_.MarkDirty(kAccountKeyPrefix, id);
  }

  void OrderStream(const std::string& id, OrderState* order) {
    ExpectStream(kOrderStreamPrefix, id);
    Advance(&order->stream_version);
    state_.MarkDirty(kOrderKeyPrefix, id);
  }

  CampaignState& CampaignStream(const std::string& id) {
    auto it = state_.campaigns_.find(id);
    LEDGER_ASSERT(it != state_.campaigns_.end());
    ExpectStream(kCampaignStreamPrefix, id);
    Advance(&it->second.stream_version);
    state_.MarkDirty(kCampaignKeyPrefix, id);
    return it->second;
  }

  WriteState& state_;
  const Envelope& envelope_;
  // Accounts this event's postings touched (map nodes are stable); at most two per posting.
  std::array<AccountEntry*, 2 * kTransferPostingsMax> touched_;
  std::size_t touched_count_ = 0;
};

void WriteState::Apply(const Event& event) {
  Applier applier(*this, event.envelope);
  applier.Postings(event.postings);
  std::visit(applier, event.payload);
}

void WriteState::MarkDirty(char prefix, std::string_view id) {
  thread_local std::string key;
  key.clear();
  key.push_back(prefix);
  key.push_back('/');
  key.append(id);
  dirty_.insert(key);  // Copies only when the key is not there yet.
}

// --- Queries ---------------------------------------------------------------------------------

std::int64_t AccountState::Balance(std::string_view asset) const {
  for (const AssetBalance& balance : balances) {
    if (balance.asset == asset) return balance.balance;
  }
  return 0;
}

const AccountState* WriteState::FindAccount(std::string_view account) const {
  return FindIn(accounts_, account);
}

const OrderState* WriteState::FindOrder(std::string_view order_id) const {
  return FindIn(orders_, order_id);
}

const CampaignState* WriteState::FindCampaign(std::string_view campaign_id) const {
  return FindIn(campaigns_, campaign_id);
}

std::int64_t WriteState::GrantsToUser(std::string_view campaign_id, std::string_view user) const {
  thread_local std::string key;
  BuildGrantKey(campaign_id, user, &key);
  auto it = grants_.find(key);
  return it == grants_.end() ? 0 : it->second;
}

std::uint64_t WriteState::StreamVersion(std::string_view stream) const {
  if (stream == kTransfersStream) return transfers_stream_version_;
  if (stream.starts_with(kAccountStreamPrefix)) {
    const AccountState* account = FindAccount(stream.substr(kAccountStreamPrefix.size()));
    return account == nullptr ? 0 : account->stream_version;
  }
  if (stream.starts_with(kOrderStreamPrefix)) {
    const OrderState* order = FindOrder(stream.substr(kOrderStreamPrefix.size()));
    return order == nullptr ? 0 : order->stream_version;
  }
  if (stream.starts_with(kCampaignStreamPrefix)) {
    const CampaignState* campaign = FindCampaign(stream.substr(kCampaignStreamPrefix.size()));
    return campaign == nullptr ? 0 : campaign->stream_version;
  }
  return 0;
}

std::int64_t WriteState::AssetSum(std::string_view asset) const {
  __int128 sum = 0;
  for (const auto& [id, account] : accounts_) sum += account.Balance(asset);
  // A sum outside int64 is already a broken invariant; report it as an extreme, never as 0.
  if (sum > std::numeric_limits<std::int64_t>::max())
    return std::numeric_limits<std::int64_t>::max();
  if (sum < std::numeric_limits<std::int64_t>::min())
    return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(sum);
}

bool WriteState::operator==(const WriteState& other) const {
  return transfers_stream_version_ == other.transfers_stream_version_ &&
         MapsEqual(accounts_, other.accounts_, AccountEquals) &&
         MapsEqual(orders_, other.orders_, OrderEquals) &&
         MapsEqual(campaigns_, other.campaigns_, CampaignEquals) && grants_ == other.grants_;
}

// --- Persistence -----------------------------------------------------------------------------

void WriteState::TakeDirty(std::vector<std::pair<std::string, std::string>>* puts) {
  puts->reserve(puts->size() + dirty_.size());
  while (!dirty_.empty()) {
    std::string key = std::move(dirty_.extract(dirty_.begin()).value());
    std::string value;
    std::string_view id = std::string_view(key).substr(std::min<std::size_t>(2, key.size()));
    switch (key[0]) {
      case kAccountKeyPrefix:
        EncodeAccount(*FindAccount(id), &value);
        break;
      case kOrderKeyPrefix:
        EncodeOrder(*FindOrder(id), &value);
        break;
      case kCampaignKeyPrefix:
        EncodeCampaign(*FindCampaign(id), &value);
        break;
      case kGrantKeyPrefix: {
        auto it = grants_.find(std::string(id));
        LEDGER_ASSERT(it != grants_.end());
        EncodeCounter(static_cast<std::uint64_t>(it->second), &value);
        break;
      }
      default:
        LEDGER_ASSERT(key == kTransfersKey);
        EncodeCounter(transfers_stream_version_, &value);
    }
    puts->emplace_back(std::move(key), std::move(value));
  }
}

Status WriteState::Load(std::string_view key, std::string_view value) {
  if (key == kTransfersKey) {
    if (!DecodeCounter(value, &transfers_stream_version_))
      return std::unexpected(CorruptState(key));
    return Ok();
  }
  if (key.size() < 3 || key[1] != '/') return std::unexpected(CorruptState(key));
  std::string id(key.substr(2));
  bool decoded = false;
  switch (key[0]) {
    case kAccountKeyPrefix: {
      AccountState account;
      decoded = DecodeAccount(value, &account);
      if (decoded) accounts_.insert_or_assign(std::move(id), std::move(account));
      break;
    }
    case kOrderKeyPrefix: {
      OrderState order;
      decoded = DecodeOrder(id, value, &order);
      if (decoded) orders_.insert_or_assign(std::move(id), std::move(order));
      break;
    }
    case kCampaignKeyPrefix: {
      CampaignState campaign;
      decoded = DecodeCampaign(id, value, &campaign);
      if (decoded) campaigns_.insert_or_assign(std::move(id), std::move(campaign));
      break;
    }
    case kGrantKeyPrefix: {
      std::uint64_t grants = 0;
      std::size_t separator = id.find('\0');
      decoded = DecodeCounter(value, &grants) && separator != 0 && separator != std::string::npos &&
                separator + 1 < id.size() &&
                grants <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      if (decoded) grants_.insert_or_assign(std::move(id), static_cast<std::int64_t>(grants));
      break;
    }
    default:
      break;
  }
  if (!decoded) return std::unexpected(CorruptState(key));
  return Ok();
}

void WriteState::Clear() {
  accounts_.clear();
  orders_.clear();
  campaigns_.clear();
  grants_.clear();
  transfers_stream_version_ = 0;
  dirty_.clear();
}

}  // namespace ledger::commands
