// The wallets read model: one account's assets grouped the way the wallet article shows them
// (cash, coupons, other assets). Serves GET /v1/wallets/{account}.
//
// Semantics:
// - Every account has a wallet, not only "user:<n>" accounts; an account that never held
//   anything has the empty wallet.
// - Coupons: one entry per (account, coupon-kind campaign): the campaign's VoucherGranted amounts
//   to the account minus its VoucherRedeemed amounts, with the campaign's asset, unit_amount and
//   validity (from its CampaignCreated). count = balance / unit_amount. A redemption first
//   consumes this entry; the part of a redemption the entry cannot cover (the account redeemed
//   units it received some other way, e.g. by a transfer) is taken from the asset's residual
//   below, so a coupon entry never goes negative.
// - Residuals: for every asset, the account's balance minus its coupon entries of that asset.
//   A residual of an asset whose id is exactly three uppercase ASCII letters (IsCashAsset: CNY,
//   EUR) is "cash", any other is "other". So a coupon asset moved by a transfer or by the
//   funding side of a voucher shows up as a residual, and balance-kind campaigns' assets are
//   plain assets. For every asset the wallet's entries sum to the account's balance.
// - Entries whose balance is 0 are omitted; an account whose entries are all 0 has no stored
//   record, so "never seen" and "holds nothing" read the same empty wallet.
// - last_position / last_change_us: position and recorded_at of the last event that posted a
//   non-zero amount to the entry (two postings that cancel within one event still count).
//
// View layout (column family ColumnFamilyName(kName)); every key is read whole, so the family
// may be a StoreOptions::point_lookup_families entry:
//   "w/" + account     -> the account's residuals and coupons (format byte 1; see the .cc).
//   "c/" + campaign_id -> the campaign's kind, asset, unit_amount and validity (format byte 1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

struct WalletAsset {
  std::string asset;
  std::int64_t balance = 0;
  std::uint64_t last_position = 0;
  TimestampUs last_change_us = 0;
  bool operator==(const WalletAsset&) const = default;
};

struct WalletCoupon {
  std::string campaign_id;
  std::string asset;
  std::int64_t balance = 0;
  std::int64_t unit_amount = 0;
  std::int64_t count = 0;  // balance / unit_amount.
  TimestampUs valid_from_us = 0, valid_until_us = 0;
  std::uint64_t last_position = 0;
  TimestampUs last_change_us = 0;
  bool operator==(const WalletCoupon&) const = default;
};

// Each list sorted by asset (cash, other) or campaign_id (coupons); no zero balances.
struct Wallet {
  std::vector<WalletAsset> cash;
  std::vector<WalletCoupon> coupons;
  std::vector<WalletAsset> other;
  bool operator==(const Wallet&) const = default;
};

struct WalletRead {
  std::uint64_t position = 0;  // The projection's checkpoint the wallet was read at.
  Wallet wallet;
  bool operator==(const WalletRead&) const = default;
};

// Whether `asset` is cash: exactly three uppercase ASCII letters (ISO-4217-like).
[[nodiscard]] bool IsCashAsset(std::string_view asset);

class WalletsProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "wallets";
  [[nodiscard]] std::string_view Name() const override { return kName; }
  // Worker thread only. Touches one wallet key per account of the event's postings, plus the
  // campaign key of a voucher event. kCorruption if a stored value does not decode, a voucher
  // names an unknown campaign or an amount would overflow.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;

  // `account`'s wallet and the checkpoint, both from one RocksDB snapshot; the empty wallet if
  // the account holds nothing. Thread-safe. kUnavailable ("storage_unavailable") on a storage
  // error, kCorruption ("corruption") if the record or the checkpoint does not decode.
  [[nodiscard]] static Result<WalletRead> Read(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                               std::string_view account);

  // A campaign as the view keeps it (internal; public so the .cc's helpers can name it).
  struct Campaign {
    CampaignKind kind = CampaignKind::kCoupon;
    std::string asset;
    std::int64_t unit_amount = 0;
    TimestampUs valid_from_us = 0;
    TimestampUs valid_until_us = 0;
  };
  // An account's stored entries (internal): residuals sorted by asset, coupons by campaign_id
  // (their `count` is not stored), none zero.
  struct Record {
    std::vector<WalletAsset> residuals;
    std::vector<WalletCoupon> coupons;
  };

 private:
  // Applies the event's postings to `account`'s record and writes it back (or deletes it).
  [[nodiscard]] Status ApplyToAccount(const Event& event, std::string_view account,
                                      const Campaign* coupon_campaign, ViewWriter& view);

  // Scratch reused across events (worker thread only): no allocation per event once warm.
  std::vector<std::string_view> accounts_;
  std::string key_;
  std::string encoded_;
  Record record_;
  Campaign campaign_;
};

}  // namespace ledger::projections
