// The accounts read model: every account's balances per asset, its version (events that opened
// or posted to it) and the position of its last change. Serves GET /v1/accounts/{account}.
// Read by whole key only: open its column family as a StoreOptions::point_lookup_families entry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

struct AccountView {
  std::uint64_t version = 0;
  std::uint64_t last_position = 0;  // Position of the last event that changed the account.
  std::vector<std::pair<std::string, std::int64_t>> balances;  // (asset, balance), first use order.
  bool operator==(const AccountView&) const = default;
};

struct AccountRead {
  std::uint64_t position = 0;  // The projection's checkpoint the answer reflects.
  std::optional<AccountView> account;
};

class AccountsProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "accounts";
  [[nodiscard]] std::string_view Name() const override { return kName; }
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;

  // One account (nullopt if it never appeared) and the checkpoint it reflects, both from one
  // snapshot of the projection's column family.
  [[nodiscard]] static Result<AccountRead> Read(rocksdb::DB& db,
                                                rocksdb::ColumnFamilyHandle& family,
                                                std::string_view account);
};

}  // namespace ledger::projections
