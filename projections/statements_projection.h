// The statements read model: each merchant's reconciliation statements per UTC day, month and
// year and asset (income, other items by kind, expenditure, opening and closing balance).
// Serves GET /v1/merchants/{merchant}/statements. Read by ordered iteration: do NOT open its
// column family as a point-lookup family.
//
// Semantics:
// - A merchant is an account named as `merchant` by an OrderSettled, OrderRefunded or
//   MerchantPaidOut. From that event on (included) every posting of the account is in its
//   statements. The projection tracks the balance of every account, since any may become one.
// - An event belongs to the periods that contain its statement time: its envelope's recorded_at
//   (the ledger's clock, UTC), but never earlier than the newest statement time before it, so a
//   clock that steps back cannot reopen a closed period. Civil dates are proleptic Gregorian;
//   times are clamped to years 0001..9999.
// - Per merchant M, asset and period: OrderSettled of M: income += gross, orders += 1, and for
//   each non-merchant line other_items -= its amount under the line's kind. OrderRefunded of M:
//   other_items -= the refund amount under "refund" and += each non-merchant line's amount under
//   its kind. MerchantPaidOut of M: expenditure += amount. Whatever else changes M's balance in
//   an event (transfers, asset changes, vouchers, M as payer or split recipient of another
//   merchant's order) goes to other_items under "adjustment", as the difference between M's
//   balance change and the categorized amounts, so the identity below always holds.
// - Every row: closing = opening + income + other_items - expenditure, and closing is M's balance
//   at the end of the period (or now, for the current period). The opening of M's first row in an
//   asset is its balance just before its first statement event in that asset; later rows open at
//   the previous row's closing. A row keeps kStatementKindsMax named kinds; further kinds are
//   summed under "other". Kinds with a zero amount are not listed unless amounts cancelled out.
//
// Keys (printable prefixes; ids never contain \0, which ends them):
//   b/<account>\0<asset>                        -> int64 balance of every account
//   m/<merchant>                                -> BE64 position of its first merchant event
//   r/<merchant>\0<asset>\0<d|m|y> BE64(start)  -> row (start: period start us, sign bit flipped)
//   n                                           -> int64 newest statement time applied ("now")
// Row values: format byte 1, opening, income, other_items, expenditure, closing (i64), orders
// (u64), kind count (u16), then per kind u16-length-prefixed name and i64 amount.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/projection.h"

namespace ledger::projections {

enum class StatementPeriod : std::uint8_t { kDay, kMonth, kYear };

// "day", "month" or "year"; nullopt for anything else.
[[nodiscard]] std::optional<StatementPeriod> StatementPeriodFromName(std::string_view name);

struct StatementRow {
  std::string period;                    // "2026-11-21" | "2026-11" | "2026"
  TimestampUs start_us = 0, end_us = 0;  // [start, end)
  std::string asset;
  std::int64_t opening = 0, income = 0, other_items = 0, expenditure = 0, closing = 0;
  // Sorted by kind; sums to other_items.
  std::vector<std::pair<std::string, std::int64_t>> other_items_by_kind;
  std::uint64_t orders = 0;
  bool operator==(const StatementRow&) const = default;
};

struct StatementsPage {
  std::uint64_t position = 0;  // The projection's checkpoint the rows reflect.
  std::vector<StatementRow> rows;
};

class StatementsProjection final : public Projection {
 public:
  static constexpr std::string_view kName = "statements";
  [[nodiscard]] std::string_view Name() const override { return kName; }
  // kCorruption if a stored value does not decode or a balance or total overflows;
  // kUnavailable on a storage error.
  [[nodiscard]] Status Apply(const Event& event, ViewWriter& view) override;

  // The statement rows of `merchant`, per asset (every asset it has rows in, or only `asset`),
  // sorted by asset then period: one row per period from the one containing `from_us` to the
  // one containing `to_us` (both inclusive instants), except periods before the merchant's
  // first activity in the asset (omitted) and periods after the newest applied event's
  // (omitted). Periods without activity in between come as rows with no movement (opening =
  // closing = the previous closing). Rows and checkpoint (`position`) come from one snapshot.
  // An unknown merchant gives no rows. Errors: kInvalidArgument "invalid_range" (from > to) or
  // "range_too_large" (more than kStatementRowsMax rows), kUnavailable "storage_unavailable",
  // kCorruption "corruption". Thread-safe.
  [[nodiscard]] static Result<StatementsPage> Read(rocksdb::DB& db,
                                                   rocksdb::ColumnFamilyHandle& family,
                                                   std::string_view merchant,
                                                   StatementPeriod period, TimestampUs from_us,
                                                   TimestampUs to_us, std::string_view asset);

 private:
  // The movement of one (account, asset) in the event being applied.
  struct Movement {
    const std::string* account;
    const std::string* asset;
    std::int64_t before;
    std::int64_t after;
  };
  // What the event's payload says about its merchant's movement: income, expenditure, orders
  // and other items by kind.
  struct Categories {
    std::int64_t income = 0;
    std::int64_t expenditure = 0;
    std::uint64_t orders = 0;
    std::vector<std::pair<std::string_view, std::int64_t>> kinds;
  };
  // Internal form of a stored row (period and asset live in its key).
  struct Row {
    std::int64_t opening = 0, income = 0, other_items = 0, expenditure = 0, closing = 0;
    std::uint64_t orders = 0;
    std::vector<std::pair<std::string, std::int64_t>> kinds;
  };

  // The asset-independent scope of one Read call.
  struct ReadScope;

  static void EncodeRow(const Row& row, std::string* out);
  [[nodiscard]] static bool DecodeRow(std::string_view in, Row* row);
  // Appends one row to `rows`: `stored`, or (if null) a quiet period at `balance`.
  [[nodiscard]] static Status AppendRow(const ReadScope& scope, std::string_view asset,
                                        TimestampUs start_us, const Row* stored,
                                        std::int64_t balance, std::vector<StatementRow>* rows);
  // Appends the rows of one asset to `rows`.
  [[nodiscard]] static Status ReadAssetRows(const ReadScope& scope, std::string_view asset,
                                            std::vector<StatementRow>* rows);

  [[nodiscard]] Result<Movement*> MovementFor(const std::string& account, const std::string& asset,
                                              ViewWriter& view);
  [[nodiscard]] Status CollectMovements(const Event& event, ViewWriter& view);
  [[nodiscard]] Result<bool> IsMerchant(const std::string& account, const Event& event,
                                        ViewWriter& view);
  [[nodiscard]] Result<TimestampUs> AdvanceNow(const Event& event, ViewWriter& view);
  // Fills categories_ for a merchant's movement; false on overflow.
  [[nodiscard]] bool Categorize(const Event& event, const Movement& movement);
  [[nodiscard]] Status UpdateRows(const Movement& movement, TimestampUs time_us, ViewWriter& view);
  [[nodiscard]] Status UpdateRow(const Movement& movement, ViewWriter& view);

  // Scratch state of Apply (reused to spare allocations; Apply runs on one thread at a time).
  std::vector<Movement> movements_;
  Categories categories_;
  Row row_;
  std::string key_;
  std::string value_;
};

}  // namespace ledger::projections
