// The write-side state: what the sequencer needs to decide commands. It changes only through
// Apply(event), the same code for live processing, restart and replay. Not thread-safe: owned by
// the sequencer thread (or by one replay).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/status.h"

namespace ledger::commands {

struct AssetBalance {
  std::string asset;
  std::int64_t balance = 0;
};

struct AccountState {
  bool allow_negative = false;  // Also true for every "external:" account.
  bool frozen = false;
  bool opened = false;          // True once an AccountOpened event exists for it.
  std::uint64_t version = 0;    // Events that opened the account or posted to it.
  std::uint64_t stream_version = 0;  // Events in stream "account/<id>".
  std::vector<AssetBalance> balances;  // Few assets per account: a vector beats a map.

  // 0 if the account never held `asset`.
  [[nodiscard]] std::int64_t Balance(std::string_view asset) const;
};

struct OrderState {
  OrderSettled settlement;           // As recorded in the OrderSettled event.
  std::int64_t refunded_total = 0;
  std::uint64_t stream_version = 0;  // Events in stream "order/<id>".
};

struct CampaignState {
  CampaignCreated campaign;
  std::int64_t granted = 0;          // Grants so far (budget counts grants).
  std::uint64_t stream_version = 0;  // Events in stream "campaign/<id>".
};

// Streams: "account/<id>" (AccountOpened, AssetChanged, MerchantPaidOut), "order/<id>"
// (OrderSettled, OrderRefunded), "campaign/<id>" (CampaignCreated, VoucherGranted,
// VoucherRedeemed), "transfers" (Transferred).
class WriteState {
 public:
  [[nodiscard]] const AccountState* FindAccount(std::string_view account) const;
  [[nodiscard]] const OrderState* FindOrder(std::string_view order_id) const;
  [[nodiscard]] const CampaignState* FindCampaign(std::string_view campaign_id) const;
  // Grants of `campaign_id` to `user` so far.
  [[nodiscard]] std::int64_t GrantsToUser(std::string_view campaign_id,
                                          std::string_view user) const;
  // Current version of a stream (0 if it has no event yet).
  [[nodiscard]] std::uint64_t StreamVersion(std::string_view stream) const;

  // Applies an accepted event. The event must have been decided against this state (or read
  // from the log in order); a posting that breaks an invariant (e.g. a protected account below
  // zero) is a bug and panics.
  void Apply(const Event& event);

  // Serializes every entity changed since the last call as (key, value) pairs for the state
  // column family, and forgets that they changed.
  void TakeDirty(std::vector<std::pair<std::string, std::string>>* puts);
  // Restores one entity written by TakeDirty. Corruption if the bytes do not decode.
  [[nodiscard]] Status Load(std::string_view key, std::string_view value);
  // Drops everything (before a reload from disk).
  void Clear();

  [[nodiscard]] std::size_t AccountCount() const { return accounts_.size(); }
  // For audits and tests: sum of all balances of `asset` over all accounts (must be 0).
  [[nodiscard]] std::int64_t AssetSum(std::string_view asset) const;
  // Every account id with its state, in no particular order.
  [[nodiscard]] const std::unordered_map<std::string, AccountState>& accounts() const {
    return accounts_;
  }
  [[nodiscard]] bool operator==(const WriteState& other) const;

 private:
  // Applies one event's postings and payload (write_state.cc); nested so it reaches the maps.
  class Applier;
  // Records that state key "<prefix>/<id>" changed (TakeDirty writes it).
  void MarkDirty(char prefix, std::string_view id);

  std::unordered_map<std::string, AccountState> accounts_;
  std::unordered_map<std::string, OrderState> orders_;
  std::unordered_map<std::string, CampaignState> campaigns_;
  std::unordered_map<std::string, std::int64_t> grants_;  // "<campaign>\0<user>" -> grants.
  std::uint64_t transfers_stream_version_ = 0;
  std::unordered_set<std::string> dirty_;  // State keys changed since TakeDirty.
};

}  // namespace ledger::commands
