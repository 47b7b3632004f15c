#include "projections/wallets_projection.h"

#include <algorithm>
#include <optional>

namespace ledger::projections {
namespace {

// Stored record ("w/" + account), all integers big-endian:
//   u8 format = 1
//   u32 residual count, then per residual: str asset, i64 balance, u64 last_position,
//                                          i64 last_change_us
//   u32 coupon count, then per coupon: str campaign_id, str asset, i64 balance, i64 unit_amount,
//                                      i64 valid_from_us, i64 valid_until_us, u64 last_position,
//                                      i64 last_change_us
//   where str = u32 length + bytes.
// Campaign ("c/" + campaign_id): u8 format = 1, u8 kind, i64 unit_amount, i64 valid_from_us,
//   i64 valid_until_us, str asset.
constexpr char kFormat = 1;
// Smallest encoded entries (empty strings), to bound a decoded count.
constexpr std::size_t kResidualBytesMin = 4 + 3 * 8;
constexpr std::size_t kCouponBytesMin = 2 * 4 + 6 * 8;

Error Corruption(const std::string& what) {
  return MakeError(ErrorKind::kCorruption, "corruption", "wallets projection: " + what);
}

Error StorageError(const rocksdb::Status& status) {
  return MakeError(ErrorKind::kUnavailable, "storage_unavailable",
                   "reading the wallets projection: " + status.ToString());
}

void WalletKey(std::string_view account, std::string* key) { key->assign("w/").append(account); }
void CampaignKey(std::string_view campaign_id, std::string* key) {
  key->assign("c/").append(campaign_id);
}

// --- Encoding ---------------------------------------------------------------------------------

void Put32(std::uint32_t value, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}
void Put64(std::int64_t value, std::string* out) {
  AppendBigEndian64(static_cast<std::uint64_t>(value), out);
}
void PutString(std::string_view value, std::string* out) {
  Put32(static_cast<std::uint32_t>(value.size()), out);
  out->append(value);
}

// Reads a value front to back; any short read makes it fail for good.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }
  std::uint8_t Byte() { return Take(1) ? static_cast<std::uint8_t>(last_[0]) : 0; }
  std::uint32_t U32() {
    if (!Take(4)) return 0;
    std::uint32_t value = 0;
    for (char byte : last_) value = (value << 8) | static_cast<unsigned char>(byte);
    return value;
  }
  std::int64_t I64() {
    return Take(8) ? static_cast<std::int64_t>(ReadBigEndian64(last_.data())) : 0;
  }
  std::uint64_t U64() { return static_cast<std::uint64_t>(I64()); }
  // A count of entries of at least `entry_bytes` each; fails if the rest cannot hold them, so a
  // corrupt count never sizes a huge vector.
  std::size_t Count(std::size_t entry_bytes) {
    const std::uint32_t count = U32();
    if (!ok_ || count > in_.size() / entry_bytes) {
      ok_ = false;
      return 0;
    }
    return count;
  }
  void String(std::string* out) {
    const std::uint32_t size = U32();
    if (Take(size)) out->assign(last_);
  }

 private:
  bool Take(std::size_t size) {
    if (!ok_ || in_.size() < size) return ok_ = false;
    last_ = in_.substr(0, size);
    in_.remove_prefix(size);
    return true;
  }
  std::string_view in_;
  std::string_view last_;
  bool ok_ = true;
};

void EncodeRecord(const WalletsProjection::Record& record, std::string* out) {
  out->assign(1, kFormat);
  Put32(static_cast<std::uint32_t>(record.residuals.size()), out);
  for (const WalletAsset& entry : record.residuals) {
    PutString(entry.asset, out);
    Put64(entry.balance, out);
    Put64(static_cast<std::int64_t>(entry.last_position), out);
    Put64(entry.last_change_us, out);
  }
  Put32(static_cast<std::uint32_t>(record.coupons.size()), out);
  for (const WalletCoupon& entry : record.coupons) {
    PutString(entry.campaign_id, out);
    PutString(entry.asset, out);
    Put64(entry.balance, out);
    Put64(entry.unit_amount, out);
    Put64(entry.valid_from_us, out);
    Put64(entry.valid_until_us, out);
    Put64(static_cast<std::int64_t>(entry.last_position), out);
    Put64(entry.last_change_us, out);
  }
}

bool DecodeResiduals(Decoder& in, std::vector<WalletAsset>* residuals) {
  residuals->resize(in.Count(kResidualBytesMin));
  for (WalletAsset& entry : *residuals) {
    in.String(&entry.asset);
    entry.balance = in.I64();
    entry.last_position = in.U64();
    entry.last_change_us = in.I64();
    const bool ascending = &entry == residuals->data() || (&entry - 1)->asset < entry.asset;
    if (!in.ok() || entry.balance == 0 || !ascending) return false;
  }
  return true;
}

bool DecodeCoupons(Decoder& in, std::vector<WalletCoupon>* coupons) {
  coupons->resize(in.Count(kCouponBytesMin));
  for (WalletCoupon& entry : *coupons) {
    in.String(&entry.campaign_id);
    in.String(&entry.asset);
    entry.balance = in.I64();
    entry.unit_amount = in.I64();
    entry.count = 0;
    entry.valid_from_us = in.I64();
    entry.valid_until_us = in.I64();
    entry.last_position = in.U64();
    entry.last_change_us = in.I64();
    const bool ascending =
        &entry == coupons->data() || (&entry - 1)->campaign_id < entry.campaign_id;
    if (!in.ok() || entry.balance <= 0 || entry.unit_amount <= 0 || !ascending) return false;
  }
  return true;
}

// Decodes into `record`, reusing its capacity.
Status DecodeRecord(std::string_view value, WalletsProjection::Record* record) {
  Decoder in(value);
  const bool decoded = in.Byte() == kFormat && DecodeResiduals(in, &record->residuals) &&
                       DecodeCoupons(in, &record->coupons) && in.done();
  if (!decoded) return std::unexpected(Corruption("a wallet record does not decode"));
  return Ok();
}

void EncodeCampaign(const CampaignCreated& created, std::string* out) {
  out->assign(1, kFormat);
  out->push_back(static_cast<char>(created.kind));
  Put64(created.unit_amount, out);
  Put64(created.valid_from_us, out);
  Put64(created.valid_until_us, out);
  PutString(created.asset, out);
}

Status DecodeCampaign(std::string_view value, WalletsProjection::Campaign* campaign) {
  Decoder in(value);
  const bool format_ok = in.Byte() == kFormat;
  const std::uint8_t kind = in.Byte();
  campaign->kind = static_cast<CampaignKind>(kind);
  campaign->unit_amount = in.I64();
  campaign->valid_from_us = in.I64();
  campaign->valid_until_us = in.I64();
  in.String(&campaign->asset);
  const bool kind_ok = kind == static_cast<std::uint8_t>(CampaignKind::kCoupon) ||
                       kind == static_cast<std::uint8_t>(CampaignKind::kBalance);
  if (!format_ok || !kind_ok || !in.done() || campaign->unit_amount <= 0) {
    return std::unexpected(Corruption("a campaign does not decode"));
  }
  return Ok();
}

// --- Applying postings to one account's record -------------------------------------------------

struct Stamp {
  std::uint64_t position;
  TimestampUs recorded_at_us;
};

// The coupon side of a voucher event: which account's coupon entry of which campaign it moves.
struct VoucherMove {
  std::string_view campaign_id;
  std::string_view user;
  bool grant;  // Granted (user credited) or redeemed (user debited).
};

std::optional<VoucherMove> VoucherOf(const Event& event) {
  if (const auto* granted = std::get_if<VoucherGranted>(&event.payload)) {
    return VoucherMove{granted->campaign_id, granted->user, true};
  }
  if (const auto* redeemed = std::get_if<VoucherRedeemed>(&event.payload)) {
    return VoucherMove{redeemed->campaign_id, redeemed->user, false};
  }
  return std::nullopt;
}

Status Overflow(const Stamp& stamp) {
  return std::unexpected(Corruption("balance overflow at event " + std::to_string(stamp.position)));
}

Status AddResidual(WalletsProjection::Record& record, std::string_view asset, std::int64_t delta,
                   const Stamp& stamp) {
  auto& entries = record.residuals;
  auto it = std::lower_bound(
      entries.begin(), entries.end(), asset,
      [](const WalletAsset& entry, std::string_view key) { return entry.asset < key; });
  if (it == entries.end() || it->asset != asset) it = entries.insert(it, {std::string(asset)});
  if (__builtin_add_overflow(it->balance, delta, &it->balance)) return Overflow(stamp);
  it->last_position = stamp.position;
  it->last_change_us = stamp.recorded_at_us;
  return Ok();
}

std::vector<WalletCoupon>::iterator FindCoupon(std::vector<WalletCoupon>& entries,
                                               std::string_view campaign_id) {
  return std::lower_bound(
      entries.begin(), entries.end(), campaign_id,
      [](const WalletCoupon& entry, std::string_view key) { return entry.campaign_id < key; });
}

Status Grant(WalletsProjection::Record& record, std::string_view campaign_id,
             const WalletsProjection::Campaign& campaign, std::int64_t amount, const Stamp& stamp) {
  auto it = FindCoupon(record.coupons, campaign_id);
  if (it == record.coupons.end() || it->campaign_id != campaign_id) {
    it = record.coupons.insert(it, {.campaign_id = std::string(campaign_id),
                                    .asset = campaign.asset,
                                    .unit_amount = campaign.unit_amount,
                                    .valid_from_us = campaign.valid_from_us,
                                    .valid_until_us = campaign.valid_until_us});
  }
  if (__builtin_add_overflow(it->balance, amount, &it->balance)) return Overflow(stamp);
  it->last_position = stamp.position;
  it->last_change_us = stamp.recorded_at_us;
  return Ok();
}

// Takes `amount` from the coupon entry as far as it goes, the rest from the asset's residual.
Status Redeem(WalletsProjection::Record& record, std::string_view campaign_id,
              std::string_view asset, std::int64_t amount, const Stamp& stamp) {
  auto it = FindCoupon(record.coupons, campaign_id);
  std::int64_t taken = 0;
  if (it != record.coupons.end() && it->campaign_id == campaign_id) {
    taken = std::min(it->balance, amount);
    it->balance -= taken;
    it->last_position = stamp.position;
    it->last_change_us = stamp.recorded_at_us;
  }
  if (taken == amount) return Ok();
  return AddResidual(record, asset, -(amount - taken), stamp);
}

// Applies every posting of `event` that names `account`. `coupon_campaign` is the campaign of a
// voucher event if it is of kind coupon, else null.
Status ApplyPostings(WalletsProjection::Record& record, const Event& event,
                     std::string_view account, const WalletsProjection::Campaign* coupon_campaign) {
  const Stamp stamp{event.envelope.position, event.envelope.recorded_at_us};
  std::optional<VoucherMove> voucher;
  if (coupon_campaign != nullptr) voucher = VoucherOf(event);
  const bool is_user = voucher && voucher->user == account;
  for (const Posting& posting : event.postings) {
    const bool coupon_side = is_user && posting.asset == coupon_campaign->asset;
    if (posting.from == account) {
      Status applied =
          coupon_side && !voucher->grant
              ? Redeem(record, voucher->campaign_id, posting.asset, posting.amount, stamp)
              : AddResidual(record, posting.asset, -posting.amount, stamp);
      if (!applied) return applied;
    }
    if (posting.to == account) {
      Status applied =
          coupon_side && voucher->grant
              ? Grant(record, voucher->campaign_id, *coupon_campaign, posting.amount, stamp)
              : AddResidual(record, posting.asset, posting.amount, stamp);
      if (!applied) return applied;
    }
  }
  std::erase_if(record.residuals, [](const WalletAsset& entry) { return entry.balance == 0; });
  std::erase_if(record.coupons, [](const WalletCoupon& entry) { return entry.balance == 0; });
  return Ok();
}

Wallet ToWallet(WalletsProjection::Record&& record) {
  Wallet wallet;
  for (WalletAsset& entry : record.residuals) {
    (IsCashAsset(entry.asset) ? wallet.cash : wallet.other).push_back(std::move(entry));
  }
  wallet.coupons = std::move(record.coupons);
  for (WalletCoupon& coupon : wallet.coupons) coupon.count = coupon.balance / coupon.unit_amount;
  return wallet;
}

}  // namespace

bool IsCashAsset(std::string_view asset) {
  return asset.size() == 3 &&
         std::all_of(asset.begin(), asset.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

Status WalletsProjection::Apply(const Event& event, ViewWriter& view) {
  if (const auto* created = std::get_if<CampaignCreated>(&event.payload)) {
    CampaignKey(created->campaign_id, &key_);
    EncodeCampaign(*created, &encoded_);
    view.Put(key_, encoded_);
    return Ok();
  }
  const Campaign* coupon_campaign = nullptr;
  if (const auto voucher = VoucherOf(event)) {
    CampaignKey(voucher->campaign_id, &key_);
    auto stored = view.Get(key_);
    if (!stored) return std::unexpected(stored.error());
    if (!stored->has_value()) {
      return std::unexpected(Corruption("event " + std::to_string(event.envelope.position) +
                                        " names an unknown campaign"));
    }
    if (auto decoded = DecodeCampaign(**stored, &campaign_); !decoded) return decoded;
    if (campaign_.kind == CampaignKind::kCoupon) coupon_campaign = &campaign_;
  }
  accounts_.clear();
  for (const Posting& posting : event.postings) {
    if (posting.amount <= 0) {
      return std::unexpected(Corruption("event " + std::to_string(event.envelope.position) +
                                        " has a posting amount <= 0"));
    }
    accounts_.push_back(posting.from);
    accounts_.push_back(posting.to);
  }
  std::sort(accounts_.begin(), accounts_.end());
  accounts_.erase(std::unique(accounts_.begin(), accounts_.end()), accounts_.end());
  for (const std::string_view account : accounts_) {
    if (auto applied = ApplyToAccount(event, account, coupon_campaign, view); !applied) {
      return applied;
    }
  }
  return Ok();
}

Status WalletsProjection::ApplyToAccount(const Event& event, std::string_view account,
                                         const Campaign* coupon_campaign, ViewWriter& view) {
  WalletKey(account, &key_);
  auto stored = view.Get(key_);
  if (!stored) return std::unexpected(stored.error());
  record_.residuals.clear();
  record_.coupons.clear();
  if (stored->has_value()) {
    if (auto decoded = DecodeRecord(**stored, &record_); !decoded) return decoded;
  }
  if (auto applied = ApplyPostings(record_, event, account, coupon_campaign); !applied) {
    return applied;
  }
  if (record_.residuals.empty() && record_.coupons.empty()) {
    view.Delete(key_);
  } else {
    EncodeRecord(record_, &encoded_);
    view.Put(key_, encoded_);
  }
  return Ok();
}

Result<WalletRead> WalletsProjection::Read(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                           std::string_view account) {
  std::string key;
  WalletKey(account, &key);
  rocksdb::ManagedSnapshot snapshot(&db);
  WalletRead read;
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  read.position = *checkpoint;
  std::string value;
  rocksdb::Status status = db.Get(ReadAt(snapshot), &family, key, &value);
  if (status.IsNotFound()) return read;
  if (!status.ok()) return std::unexpected(StorageError(status));
  Record record;
  if (auto decoded = DecodeRecord(value, &record); !decoded) {
    return std::unexpected(decoded.error());
  }
  read.wallet = ToWallet(std::move(record));
  return read;
}

}  // namespace ledger::projections
