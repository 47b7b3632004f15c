#include "projections/statements_projection.h"

#include <rocksdb/snapshot.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>

#include "ledger/limits.h"
#include "projections/internal/encoding.h"

namespace ledger::projections {
namespace {

using internal::AppendFixed;
using internal::AppendSized;
using internal::ReadFixed;
using internal::ReadSized;

constexpr char kFormat = 1;
constexpr std::string_view kNowKey = "n";
constexpr std::string_view kRefundKind = "refund";
constexpr std::string_view kAdjustmentKind = "adjustment";
constexpr std::string_view kOtherKind = "other";
constexpr StatementPeriod kAllPeriods[] = {StatementPeriod::kDay, StatementPeriod::kMonth,
                                           StatementPeriod::kYear};

// --- Civil time ------------------------------------------------------------------------------

TimestampUs ToUs(std::chrono::sys_days day) {
  return std::chrono::duration_cast<std::chrono::microseconds>(day.time_since_epoch()).count();
}

// Years 0001..9999: what the labels can show, and far inside what the chrono types can count.
const TimestampUs kTimeMinUs = ToUs(std::chrono::year(1) / std::chrono::January / 1);
const TimestampUs kTimeMaxUs = ToUs(std::chrono::year(10000) / std::chrono::January / 1) - 1;

TimestampUs ClampTime(TimestampUs time_us) { return std::clamp(time_us, kTimeMinUs, kTimeMaxUs); }

std::chrono::sys_days DayOf(TimestampUs time_us) {
  return std::chrono::floor<std::chrono::days>(
      std::chrono::sys_time<std::chrono::microseconds>(std::chrono::microseconds(time_us)));
}

struct Bounds {
  TimestampUs start_us;
  TimestampUs end_us;
};

// The period of kind `period` that contains `time_us` (which must be clamped).
Bounds PeriodOf(StatementPeriod period, TimestampUs time_us) {
  using namespace std::chrono;
  const sys_days day = DayOf(time_us);
  const year_month_day date(day);
  switch (period) {
    case StatementPeriod::kDay:
      return {ToUs(day), ToUs(day + days(1))};
    case StatementPeriod::kMonth: {
      const year_month month = date.year() / date.month();
      return {ToUs(sys_days(month / 1)), ToUs(sys_days((month + months(1)) / 1))};
    }
    case StatementPeriod::kYear:
      return {ToUs(sys_days(date.year() / January / 1)),
              ToUs(sys_days((date.year() + years(1)) / January / 1))};
  }
  LEDGER_ASSERT(false);
  return {};
}

// "2026-11-21", "2026-11" or "2026" for the period that starts at `start_us`.
std::string PeriodLabel(StatementPeriod period, TimestampUs start_us) {
  const std::chrono::year_month_day date(DayOf(start_us));
  const int year = static_cast<int>(date.year());
  const unsigned month = static_cast<unsigned>(date.month());
  const unsigned day = static_cast<unsigned>(date.day());
  char label[16];
  switch (period) {
    case StatementPeriod::kDay:
      std::snprintf(label, sizeof(label), "%04d-%02u-%02u", year, month, day);
      break;
    case StatementPeriod::kMonth:
      std::snprintf(label, sizeof(label), "%04d-%02u", year, month);
      break;
    case StatementPeriod::kYear:
      std::snprintf(label, sizeof(label), "%04d", year);
      break;
  }
  return label;
}

char PeriodTag(StatementPeriod period) {
  switch (period) {
    case StatementPeriod::kDay:
      return 'd';
    case StatementPeriod::kMonth:
      return 'm';
    case StatementPeriod::kYear:
      return 'y';
  }
  LEDGER_ASSERT(false);
  return 0;
}

// --- Encoding --------------------------------------------------------------------------------

constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;

bool ReadInt64Value(std::string_view in, std::int64_t* value) {
  return ReadFixed(&in, value) && in.empty();
}

void BalanceKey(std::string_view account, std::string_view asset, std::string* out) {
  out->assign("b/").append(account).push_back('\0');
  out->append(asset);
}

void MerchantKey(std::string_view merchant, std::string* out) {
  out->assign("m/").append(merchant);
}

// "r/<merchant>\0<asset>\0<tag>": the rows of one merchant, asset and period kind.
void RowPrefix(std::string_view merchant, std::string_view asset, StatementPeriod period,
               std::string* out) {
  out->assign("r/").append(merchant).push_back('\0');
  out->append(asset).push_back('\0');
  out->push_back(PeriodTag(period));
}

// Flipping the sign bit makes big-endian byte order the numeric order of signed starts.
void AppendStart(TimestampUs start_us, std::string* out) {
  AppendBigEndian64(static_cast<std::uint64_t>(start_us) ^ kSignBit, out);
}

TimestampUs ReadStart(const char* bytes) {
  return static_cast<TimestampUs>(ReadBigEndian64(bytes) ^ kSignBit);
}

std::unexpected<Error> Corrupt(std::string message) {
  return Fail(ErrorKind::kCorruption, "corruption", "statements projection: " + std::move(message));
}

std::unexpected<Error> StorageError(const rocksdb::Status& status) {
  return Fail(ErrorKind::kUnavailable, "storage_unavailable",
              "reading the statements projection: " + status.ToString());
}

bool Add(std::int64_t* total, std::int64_t amount) {
  return !__builtin_add_overflow(*total, amount, total);
}

template <typename Kind>
auto FindKind(std::vector<std::pair<Kind, std::int64_t>>& kinds, std::string_view kind) {
  return std::lower_bound(kinds.begin(), kinds.end(), kind,
                          [](const auto& entry, std::string_view name) {
                            return std::string_view(entry.first) < name;
                          });
}

// Adds `amount` under `kind` to a list sorted by kind; past kStatementKindsMax named kinds,
// under "other". False on overflow.
template <typename Kind>
[[nodiscard]] bool AddKind(std::vector<std::pair<Kind, std::int64_t>>* kinds, std::string_view kind,
                           std::int64_t amount) {
  auto it = FindKind(*kinds, kind);
  if (it != kinds->end() && std::string_view(it->first) == kind) return Add(&it->second, amount);
  auto other = FindKind(*kinds, kOtherKind);
  const bool has_other = other != kinds->end() && std::string_view(other->first) == kOtherKind;
  if (kinds->size() - (has_other ? 1 : 0) >= kStatementKindsMax) {
    if (has_other) return Add(&other->second, amount);
    kinds->insert(other, {Kind(kOtherKind), amount});
    return true;
  }
  kinds->insert(it, {Kind(kind), amount});
  return true;
}

// The merchant an event's payload names, or nullptr.
const std::string* PayloadMerchant(const Event& event) {
  if (const auto* settled = std::get_if<OrderSettled>(&event.payload)) return &settled->merchant;
  if (const auto* refunded = std::get_if<OrderRefunded>(&event.payload)) {
    return &refunded->merchant;
  }
  if (const auto* paid_out = std::get_if<MerchantPaidOut>(&event.payload)) {
    return &paid_out->merchant;
  }
  return nullptr;
}

Result<std::optional<std::int64_t>> ReadInt64(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                              const rocksdb::ReadOptions& options,
                                              std::string_view key) {
  std::string value;
  rocksdb::Status status = db.Get(options, &family, rocksdb::Slice(key.data(), key.size()), &value);
  if (status.IsNotFound()) return std::optional<std::int64_t>();
  if (!status.ok()) return StorageError(status);
  std::int64_t number = 0;
  if (!ReadInt64Value(value, &number)) return Corrupt("value of a fixed-width key does not decode");
  return std::optional<std::int64_t>(number);
}

// The assets `merchant` has rows in, sorted: one seek per asset, never a scan of its rows.
Result<std::vector<std::string>> ListAssets(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                            rocksdb::ReadOptions options,
                                            std::string_view merchant) {
  std::string prefix = "r/" + std::string(merchant) + '\0';
  std::string upper_bound = prefix;
  upper_bound.back() = '\1';
  rocksdb::Slice upper_bound_slice(upper_bound);
  options.iterate_upper_bound = &upper_bound_slice;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(options, &family));
  std::vector<std::string> assets;
  for (it->Seek(prefix); it->Valid();) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    const std::size_t end = rest.find('\0');
    if (end == rest.npos)
      return Corrupt("a row key of '" + std::string(merchant) + "' has no asset");
    assets.emplace_back(rest.substr(0, end));
    it->Seek(prefix + assets.back() + '\1');  // Past every row of this asset.
  }
  if (!it->status().ok()) return StorageError(it->status());
  return assets;
}

}  // namespace

std::optional<StatementPeriod> StatementPeriodFromName(std::string_view name) {
  if (name == "day") return StatementPeriod::kDay;
  if (name == "month") return StatementPeriod::kMonth;
  if (name == "year") return StatementPeriod::kYear;
  return std::nullopt;
}

// --- Rows ------------------------------------------------------------------------------------

void StatementsProjection::EncodeRow(const Row& row, std::string* out) {
  out->assign(1, kFormat);
  for (std::int64_t amount :
       {row.opening, row.income, row.other_items, row.expenditure, row.closing}) {
    AppendFixed(amount, out);
  }
  AppendFixed(row.orders, out);
  AppendFixed(static_cast<std::uint16_t>(row.kinds.size()), out);
  for (const auto& [kind, amount] : row.kinds) {
    AppendSized<std::uint16_t>(kind, out);
    AppendFixed(amount, out);
  }
}

bool StatementsProjection::DecodeRow(std::string_view in, Row* row) {
  std::uint16_t count = 0;
  if (in.empty() || in[0] != kFormat) return false;
  in.remove_prefix(1);
  if (!ReadFixed(&in, &row->opening) || !ReadFixed(&in, &row->income) ||
      !ReadFixed(&in, &row->other_items) || !ReadFixed(&in, &row->expenditure) ||
      !ReadFixed(&in, &row->closing) || !ReadFixed(&in, &row->orders) || !ReadFixed(&in, &count)) {
    return false;
  }
  row->kinds.resize(count);  // Keeps the capacity of a reused row's strings.
  for (auto& [kind, amount] : row->kinds) {
    if (!ReadSized<std::uint16_t>(&in, &kind) || !ReadFixed(&in, &amount)) return false;
  }
  return in.empty();
}

// --- Apply -----------------------------------------------------------------------------------

Result<TimestampUs> StatementsProjection::AdvanceNow(const Event& event, ViewWriter& view) {
  auto stored = view.Get(kNowKey);
  if (!stored) return std::unexpected(stored.error());
  const TimestampUs time_us = ClampTime(event.envelope.recorded_at_us);
  if (stored->has_value()) {
    std::int64_t now_us = 0;
    if (!ReadInt64Value(**stored, &now_us)) return Corrupt("the 'now' key does not decode");
    if (now_us >= time_us) return now_us;  // The clock stepped back: keep closed periods closed.
  }
  value_.clear();
  AppendFixed(time_us, &value_);
  view.Put(kNowKey, value_);
  return time_us;
}

Result<StatementsProjection::Movement*> StatementsProjection::MovementFor(
    const std::string& account, const std::string& asset, ViewWriter& view) {
  for (Movement& movement : movements_) {
    if (*movement.account == account && *movement.asset == asset) return &movement;
  }
  BalanceKey(account, asset, &key_);
  auto stored = view.Get(key_);
  if (!stored) return std::unexpected(stored.error());
  std::int64_t balance = 0;
  if (stored->has_value() && !ReadInt64Value(**stored, &balance)) {
    return Corrupt("balance of '" + account + "' in " + asset + " does not decode");
  }
  movements_.push_back(Movement{&account, &asset, balance, balance});
  return &movements_.back();
}

Status StatementsProjection::CollectMovements(const Event& event, ViewWriter& view) {
  movements_.clear();
  // Pointers into movements_ stay valid: an event moves at most 2 balances per posting.
  movements_.reserve(2 * event.postings.size());
  for (const Posting& posting : event.postings) {
    auto from = MovementFor(posting.from, posting.asset, view);
    if (!from) return std::unexpected(from.error());
    auto to = MovementFor(posting.to, posting.asset, view);
    if (!to) return std::unexpected(to.error());
    if (!Add(&(*from)->after, -posting.amount) || !Add(&(*to)->after, posting.amount)) {
      return Corrupt("balance overflow at event " + std::to_string(event.envelope.position));
    }
  }
  return Ok();
}

Result<bool> StatementsProjection::IsMerchant(const std::string& account, const Event& event,
                                              ViewWriter& view) {
  MerchantKey(account, &key_);
  auto stored = view.Get(key_);
  if (!stored) return std::unexpected(stored.error());
  if (stored->has_value()) return true;
  const std::string* merchant = PayloadMerchant(event);
  if (merchant == nullptr || *merchant != account) return false;
  value_.clear();
  AppendBigEndian64(event.envelope.position, &value_);
  view.Put(key_, value_);
  return true;
}

bool StatementsProjection::Categorize(const Event& event, const Movement& movement) {
  Categories& out = categories_;
  out.income = out.expenditure = 0;
  out.orders = 0;
  out.kinds.clear();
  bool ok = true;
  auto mine = [&](const auto& payload) {
    return payload.merchant == *movement.account && payload.asset == *movement.asset;
  };
  if (const auto* settled = std::get_if<OrderSettled>(&event.payload); settled && mine(*settled)) {
    out.income = settled->gross;
    out.orders = 1;
    for (const SettlementLine& line : settled->lines) {
      if (line.kind == kMerchantLineKind || line.amount == 0) continue;
      ok = AddKind(&out.kinds, line.kind, -line.amount) && ok;
    }
  } else if (const auto* refunded = std::get_if<OrderRefunded>(&event.payload);
             refunded && mine(*refunded)) {
    ok = AddKind(&out.kinds, kRefundKind, -refunded->amount);
    for (const SettlementLine& line : refunded->lines) {
      if (line.kind == kMerchantLineKind || line.amount == 0) continue;
      ok = AddKind(&out.kinds, line.kind, line.amount) && ok;
    }
  } else if (const auto* paid_out = std::get_if<MerchantPaidOut>(&event.payload);
             paid_out && mine(*paid_out)) {
    out.expenditure = paid_out->amount;
  }
  // Whatever the payload does not explain is an adjustment.
  __int128 residual =
      static_cast<__int128>(movement.after) - movement.before - out.income + out.expenditure;
  for (const auto& kind : out.kinds) residual -= kind.second;
  if (residual < std::numeric_limits<std::int64_t>::min() ||
      residual > std::numeric_limits<std::int64_t>::max()) {
    return false;
  }
  if (residual != 0)
    ok = AddKind(&out.kinds, kAdjustmentKind, static_cast<std::int64_t>(residual)) && ok;
  return ok;
}

Status StatementsProjection::UpdateRows(const Movement& movement, TimestampUs time_us,
                                        ViewWriter& view) {
  for (StatementPeriod period : kAllPeriods) {
    RowPrefix(*movement.account, *movement.asset, period, &key_);
    AppendStart(PeriodOf(period, time_us).start_us, &key_);
    if (auto updated = UpdateRow(movement, view); !updated) return updated;
  }
  return Ok();
}

// Adds categories_ to the row at key_ (creating it, opening at the balance before the event).
Status StatementsProjection::UpdateRow(const Movement& movement, ViewWriter& view) {
  auto stored = view.Get(key_);
  if (!stored) return std::unexpected(stored.error());
  if (stored->has_value()) {
    if (!DecodeRow(**stored, &row_))
      return Corrupt("a row of '" + *movement.account + "' does not decode");
    // Every posting of a merchant lands in its current row: the row ends at the balance.
    if (row_.closing != movement.before) {
      return Corrupt("a row of '" + *movement.account + "' does not close at its balance");
    }
  } else {
    row_.opening = row_.closing = movement.before;
    row_.income = row_.other_items = row_.expenditure = 0;
    row_.orders = 0;
    row_.kinds.clear();
  }
  const Categories& in = categories_;
  bool ok = Add(&row_.income, in.income) && Add(&row_.expenditure, in.expenditure);
  row_.orders += in.orders;
  for (const auto& [kind, amount] : in.kinds) {
    ok = AddKind(&row_.kinds, kind, amount) && Add(&row_.other_items, amount) && ok;
  }
  row_.closing = movement.after;
  const __int128 expected =
      static_cast<__int128>(row_.opening) + row_.income + row_.other_items - row_.expenditure;
  if (!ok || expected != row_.closing) {
    return Corrupt("a row of '" + *movement.account + "' overflows or does not add up");
  }
  EncodeRow(row_, &value_);
  view.Put(key_, value_);
  return Ok();
}

Status StatementsProjection::Apply(const Event& event, ViewWriter& view) {
  auto time_us = AdvanceNow(event, view);
  if (!time_us) return std::unexpected(time_us.error());
  if (auto collected = CollectMovements(event, view); !collected) return collected;
  for (const Movement& movement : movements_) {
    auto merchant = IsMerchant(*movement.account, event, view);
    if (!merchant) return std::unexpected(merchant.error());
    if (*merchant) {
      if (!Categorize(event, movement)) {
        return Corrupt("amounts overflow at event " + std::to_string(event.envelope.position));
      }
      if (auto updated = UpdateRows(movement, *time_us, view); !updated) return updated;
    }
    if (movement.after == movement.before) continue;
    BalanceKey(*movement.account, *movement.asset, &key_);
    value_.clear();
    AppendFixed(movement.after, &value_);
    view.Put(key_, value_);
  }
  return Ok();
}

// --- Read ------------------------------------------------------------------------------------

struct StatementsProjection::ReadScope {
  rocksdb::DB& db;
  rocksdb::ColumnFamilyHandle& family;
  const rocksdb::ReadOptions& options;  // With the snapshot.
  std::string_view merchant;
  StatementPeriod period;
  TimestampUs first_start_us;  // Start of the first period asked for.
  TimestampUs last_start_us;   // Start of the last period to show.
};

Status StatementsProjection::AppendRow(const ReadScope& scope, std::string_view asset,
                                       TimestampUs start_us, const Row* stored,
                                       std::int64_t balance, std::vector<StatementRow>* rows) {
  if (rows->size() >= kStatementRowsMax) {
    return Fail(ErrorKind::kInvalidArgument, "range_too_large",
                "the range has more than " + std::to_string(kStatementRowsMax) +
                    " statement rows (periods x assets); ask for a shorter one");
  }
  StatementRow& out = rows->emplace_back();
  out.period = PeriodLabel(scope.period, start_us);
  out.start_us = start_us;
  out.end_us = PeriodOf(scope.period, start_us).end_us;
  out.asset = asset;
  if (stored == nullptr) {
    out.opening = out.closing = balance;
    return Ok();
  }
  out.opening = stored->opening;
  out.income = stored->income;
  out.other_items = stored->other_items;
  out.expenditure = stored->expenditure;
  out.closing = stored->closing;
  out.orders = stored->orders;
  out.other_items_by_kind = stored->kinds;
  return Ok();
}

Status StatementsProjection::ReadAssetRows(const ReadScope& scope, std::string_view asset,
                                           std::vector<StatementRow>* rows) {
  std::string lower_bound;
  RowPrefix(scope.merchant, asset, scope.period, &lower_bound);
  std::string upper_bound = lower_bound;
  ++upper_bound.back();
  rocksdb::Slice lower_slice(lower_bound), upper_slice(upper_bound);
  rocksdb::ReadOptions options = scope.options;
  options.iterate_lower_bound = &lower_slice;
  options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(scope.db.NewIterator(options, &scope.family));
  Row row;
  std::optional<TimestampUs> row_start_us;  // Of the row under the iterator (none at the end).
  auto load = [&]() -> Status {
    row_start_us.reset();
    if (!it->Valid()) return it->status().ok() ? Ok() : StorageError(it->status());
    std::string_view key = it->key().ToStringView();
    if (key.size() != lower_bound.size() + 8 || !DecodeRow(it->value().ToStringView(), &row)) {
      return Corrupt("a row of '" + std::string(scope.merchant) + "' does not decode");
    }
    const TimestampUs start_us = ReadStart(key.data() + lower_bound.size());
    if (PeriodOf(scope.period, ClampTime(start_us)).start_us != start_us) {
      return Corrupt("a row of '" + std::string(scope.merchant) + "' starts mid-period");
    }
    row_start_us = start_us;
    return Ok();
  };
  // The last row at or before the first period: its closing carries into quiet periods.
  std::optional<std::int64_t> carried;
  std::string seek = lower_bound;
  AppendStart(scope.first_start_us, &seek);
  it->SeekForPrev(seek);
  if (auto loaded = load(); !loaded) return loaded;
  if (!row_start_us) {
    it->SeekToFirst();
  } else if (*row_start_us < scope.first_start_us) {
    carried = row.closing;
    it->Next();
  }
  if (auto loaded = load(); !loaded) return loaded;
  for (TimestampUs start_us = scope.first_start_us; start_us <= scope.last_start_us;) {
    if (row_start_us && *row_start_us < start_us) return Corrupt("statement rows out of order");
    const bool active = row_start_us == start_us;
    if (!active && !carried) {  // Before the first activity: skip to it, if any.
      if (!row_start_us) break;
      start_us = *row_start_us;
      continue;
    }
    if (auto appended =
            AppendRow(scope, asset, start_us, active ? &row : nullptr, carried.value_or(0), rows);
        !appended) {
      return appended;
    }
    if (active) {
      carried = row.closing;
      it->Next();
      if (auto loaded = load(); !loaded) return loaded;
    }
    start_us = PeriodOf(scope.period, start_us).end_us;
  }
  return Ok();
}

Result<StatementsPage> StatementsProjection::Read(rocksdb::DB& db,
                                                  rocksdb::ColumnFamilyHandle& family,
                                                  std::string_view merchant, StatementPeriod period,
                                                  TimestampUs from_us, TimestampUs to_us,
                                                  std::string_view asset) {
  if (from_us > to_us) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_range", "from must not be after to");
  }
  rocksdb::ManagedSnapshot snapshot(&db);
  rocksdb::ReadOptions options = ReadAt(snapshot);
  StatementsPage page;
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  page.position = *checkpoint;
  // Ids never hold \0, so such a merchant or asset has no rows (and must not forge a prefix).
  if (merchant.find('\0') != merchant.npos || asset.find('\0') != asset.npos) return page;
  auto now_us = ReadInt64(db, family, options, kNowKey);
  if (!now_us) return std::unexpected(now_us.error());
  if (!now_us->has_value()) return page;  // Nothing applied yet.
  const ReadScope scope{db,
                        family,
                        options,
                        merchant,
                        period,
                        PeriodOf(period, ClampTime(from_us)).start_us,
                        PeriodOf(period, std::min(ClampTime(to_us), **now_us)).start_us};
  if (scope.first_start_us > scope.last_start_us) return page;
  std::vector<std::string> assets;
  if (asset.empty()) {
    auto listed = ListAssets(db, family, options, merchant);
    if (!listed) return std::unexpected(listed.error());
    assets = std::move(*listed);
  } else {
    assets.emplace_back(asset);
  }
  for (const std::string& name : assets) {
    if (auto read = ReadAssetRows(scope, name, &page.rows); !read) {
      return std::unexpected(read.error());
    }
  }
  return page;
}

}  // namespace ledger::projections
