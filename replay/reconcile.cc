// ledger-replay reconcile: replays the log and compares, key by key, the live projections (each
// at its own checkpoint) and the write-side state with the replay; --repair rewrites a drifted
// projection's column family from the replay.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "commands/write_state.h"
#include "ledger/limits.h"
#include "projections/accounts_projection.h"
#include "projections/holders_projection.h"
#include "projections/statements_projection.h"
#include "projections/wallets_projection.h"
#include "replay/audit.h"

namespace ledger::replay {
namespace {

using projections::ProjectionId;
using projections::ReadModels;

constexpr std::string_view kStateName = "state";

// One difference, located and, where the projection's decoders allow, readable.
struct Difference {
  std::string where;
  std::string live;
  std::string replay;
};

// The comparison of one column family (a projection's, or the write-side state).
struct FamilyReport {
  std::string name;
  std::uint64_t position = 0;  // The checkpoint (or, for the state, the head) compared at.
  std::uint64_t keys = 0;      // Keys looked at, on both sides together.
  std::uint64_t differences = 0;
  std::vector<Difference> shown;  // The first kReconcileDiffsShownMax.

  void Add(Difference difference) {
    ++differences;
    if (shown.size() < kReconcileDiffsShownMax) shown.push_back(std::move(difference));
  }
  // Whether the next difference is shown (worth decoding).
  [[nodiscard]] bool ShowsNext() const { return shown.size() < kReconcileDiffsShownMax; }
};

// `bytes` as hex, cut after 48 bytes.
std::string Hex(std::string_view bytes) {
  constexpr std::size_t kShownMax = 48;
  std::string out;
  for (std::size_t i = 0; i < std::min(bytes.size(), kShownMax); ++i) {
    char pair[3];
    std::snprintf(pair, sizeof pair, "%02x", static_cast<unsigned char>(bytes[i]));
    out += pair;
  }
  if (bytes.size() > kShownMax) out += "...(" + std::to_string(bytes.size()) + " bytes)";
  return out.empty() ? "(empty)" : out;
}

std::string Printable(std::string_view key) {
  std::string out;
  for (const char c : key) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out += escaped;
    }
  }
  return out;
}

std::string ValueText(const std::optional<std::string>& value) {
  return value ? "hex " + Hex(*value) : "absent";
}

// The `index`-th \0-separated part of `key` after its two-byte prefix ("b/", "e/", ...).
std::string_view KeyPart(std::string_view key, std::size_t index) {
  std::string_view rest = key.substr(std::min<std::size_t>(2, key.size()));
  for (std::size_t i = 0; i < index; ++i) {
    const std::size_t end = rest.find('\0');
    if (end == std::string_view::npos) return {};
    rest.remove_prefix(end + 1);
  }
  return rest.substr(0, rest.find('\0'));
}

std::string FormatBalances(const std::vector<std::pair<std::string, std::int64_t>>& balances) {
  std::string out;
  for (const auto& [asset, balance] : balances) {
    out += (out.empty() ? "" : ", ") + asset + " " + std::to_string(balance);
  }
  return out.empty() ? "none" : out;
}

// The two sides of a view, for the readable decoders.
struct Sides {
  rocksdb::DB& live_db;
  rocksdb::ColumnFamilyHandle& live;
  rocksdb::DB& replay_db;
  rocksdb::ColumnFamilyHandle& replay;
  // A directory for scratch databases (see CopyForRead).
  std::string scratch_dir;
};

template <typename ReadFn>
void DescribeBoth(const Sides& sides, Difference* difference, ReadFn read) {
  difference->live = read(sides.live_db, sides.live);
  difference->replay = read(sides.replay_db, sides.replay);
}

void DescribeAccount(const Sides& sides, std::string_view account, Difference* difference) {
  difference->where = "account " + std::string(account);
  DescribeBoth(sides, difference, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
    auto read = projections::AccountsProjection::Read(db, family, account);
    if (!read) return "undecodable: " + read.error().message;
    if (!read->account) return std::string("absent");
    const projections::AccountView& view = *read->account;
    return "{version " + std::to_string(view.version) + ", last position " +
           std::to_string(view.last_position) + ", balances " + FormatBalances(view.balances) +
           "}";
  });
}

std::string FormatWalletAssets(const std::vector<projections::WalletAsset>& assets) {
  std::string out;
  for (const auto& asset : assets) {
    out += (out.empty() ? "" : ", ") + asset.asset + " " + std::to_string(asset.balance);
  }
  return out.empty() ? "none" : out;
}

void DescribeWallet(const Sides& sides, std::string_view account, Difference* difference) {
  difference->where = "wallet of account " + std::string(account);
  DescribeBoth(sides, difference, [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
    auto read = projections::WalletsProjection::Read(db, family, account);
    if (!read) return "undecodable: " + read.error().message;
    std::string coupons;
    for (const auto& coupon : read->wallet.coupons) {
      coupons += (coupons.empty() ? "" : ", ") + coupon.campaign_id + " " + coupon.asset + " " +
                 std::to_string(coupon.balance) + " (" + std::to_string(coupon.count) + " x " +
                 std::to_string(coupon.unit_amount) + ")";
    }
    return "{cash " + FormatWalletAssets(read->wallet.cash) + "; coupons " +
           (coupons.empty() ? "none" : coupons) + "; other " +
           FormatWalletAssets(read->wallet.other) + "}";
  });
}

// Read functions that iterate under a snapshot fail on a RocksDB secondary instance (how
// reconcile opens a data dir in use). They read a copy instead: the keys of `prefixes` and
// `keys` of the live family, copied into the same family of a fresh database under
// `sides.scratch_dir`, which `read` then reads.
template <typename ReadFn>
std::string ReadLiveCopy(const Sides& sides, std::span<const std::string> prefixes,
                         std::span<const std::string> keys, ReadFn read) {
  static std::atomic<int> copies{0};
  const std::string path = sides.scratch_dir + "/decode-" + std::to_string(++copies);
  auto copy = OpenFreshViewStore(path);
  if (!copy) return "cannot decode: " + copy.error().message;
  rocksdb::ColumnFamilyHandle* family = (*copy)->ColumnFamily(sides.live.GetName());
  rocksdb::WriteBatch batch;
  for (const std::string& prefix : prefixes) {
    std::unique_ptr<rocksdb::Iterator> it(sides.live_db.NewIterator({}, &sides.live));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      LEDGER_ASSERT(batch.Put(family, it->key(), it->value()).ok());
    }
  }
  for (const std::string& key : keys) {
    std::string value;
    if (sides.live_db.Get({}, &sides.live, key, &value).ok()) {
      LEDGER_ASSERT(batch.Put(family, key, value).ok());
    }
  }
  if (!(*copy)->db()->Write({}, &batch).ok()) return "cannot decode: scratch write failed";
  std::string text = read(*(*copy)->db(), *family);
  copy->reset();
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
  return text;
}

std::string FormatRow(const projections::StatementRow& row) {
  std::string kinds;
  for (const auto& [kind, amount] : row.other_items_by_kind) {
    kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(amount);
  }
  return "{opening " + std::to_string(row.opening) + ", income " + std::to_string(row.income) +
         ", other items " + std::to_string(row.other_items) + " (" + kinds + "), expenditure " +
         std::to_string(row.expenditure) + ", closing " + std::to_string(row.closing) +
         ", orders " + std::to_string(row.orders) + "}";
}

// "r/<merchant>\0<asset>\0<d|m|y> BE64(start ^ sign bit)": one statement row.
void DescribeStatementRow(const Sides& sides, std::string_view key, Difference* difference) {
  const std::string merchant(KeyPart(key, 0));
  const std::string asset(KeyPart(key, 1));
  const std::size_t tag_at = 2 + merchant.size() + 1 + asset.size() + 1;
  if (key.size() != tag_at + 9) {
    difference->where = "statements key " + Printable(key) + " (malformed)";
    return;
  }
  const char tag = key[tag_at];
  const std::string period_name = tag == 'd' ? "day" : tag == 'm' ? "month" : "year";
  const auto period = projections::StatementPeriodFromName(period_name);
  constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;
  const auto start_us = static_cast<TimestampUs>(ReadBigEndian64(key.data() + tag_at + 1) ^ kSignBit);
  std::string label = "starting at " + std::to_string(start_us) + " us";
  auto read_row = [&](rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
    auto read = projections::StatementsProjection::Read(db, family, merchant, *period, start_us,
                                                        start_us, asset);
    if (!read) return "undecodable: " + read.error().message;
    if (read->rows.empty()) return std::string("absent");
    label = read->rows.front().period;
    return FormatRow(read->rows.front());
  };
  difference->replay = read_row(sides.replay_db, sides.replay);
  // What a statement read looks at: the merchant's rows, marker and balance, "now", checkpoint.
  const std::string prefixes[] = {"r/" + merchant + '\0'};
  const std::string keys[] = {"m/" + merchant, "b/" + merchant + '\0' + asset, "n",
                              std::string(projections::kCheckpointKey)};
  difference->live = ReadLiveCopy(sides, prefixes, keys, read_row);
  difference->where = "statement of merchant " + merchant + ", asset " + asset + ", " +
                      period_name + " " + label;
}

// Entries keys: "e/<account>\0" or "x/<account>\0<asset>\0", then BE64(~position) BE32(~index).
std::string EntryLocation(std::string_view key) {
  const bool by_asset = key.starts_with("x/");
  const std::string account(KeyPart(key, 0));
  const std::string asset = by_asset ? std::string(KeyPart(key, 1)) : "";
  const std::size_t suffix_at = 2 + account.size() + 1 + (by_asset ? asset.size() + 1 : 0);
  if (key.size() != suffix_at + 12) return "entries key " + Printable(key);
  const std::uint64_t position = ~ReadBigEndian64(key.data() + suffix_at);
  std::uint32_t index = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    index = index << 8 | static_cast<unsigned char>(key[suffix_at + 8 + i]);
  }
  return std::string(by_asset ? "per-asset entry" : "entry") + " of account " + account +
         (by_asset ? " in " + asset : "") + " at position " + std::to_string(position) +
         ", posting " + std::to_string(~index);
}

// Where `key` of projection `id` is, in the auditor's words.
std::string Location(ProjectionId id, std::string_view key) {
  if (key == projections::kCheckpointKey) return "checkpoint";
  if (key.starts_with("b/")) {
    return "balance of account " + std::string(KeyPart(key, 0)) + " in " +
           std::string(KeyPart(key, 1));
  }
  if (id == ProjectionId::kEntries && (key.starts_with("e/") || key.starts_with("x/"))) {
    return EntryLocation(key);
  }
  if (id == ProjectionId::kStatements && key.starts_with("m/")) {
    return "first merchant event of " + std::string(key.substr(2));
  }
  if (id == ProjectionId::kStatements && key == "n") return "statement clock (newest time)";
  if (id == ProjectionId::kHolders && key.starts_with("n/")) {
    return "non-zero asset count of account " + std::string(key.substr(2));
  }
  if (id == ProjectionId::kWallets && key.starts_with("c/")) {
    return "campaign " + std::string(key.substr(2));
  }
  return "key " + Printable(key);
}

Difference Describe(ProjectionId id, const Sides& sides, std::string_view key,
                    const std::optional<std::string>& live, const std::optional<std::string>& replay) {
  Difference difference{Location(id, key), ValueText(live), ValueText(replay)};
  if (id == ProjectionId::kAccounts && key.starts_with("a/")) {
    DescribeAccount(sides, key.substr(2), &difference);
  } else if (id == ProjectionId::kWallets && key.starts_with("w/")) {
    DescribeWallet(sides, key.substr(2), &difference);
  } else if (id == ProjectionId::kStatements && key.starts_with("r/")) {
    DescribeStatementRow(sides, key, &difference);
  }
  return difference;
}

// The holders bitmap's stored layout (chunks, directory, journal) depends on where batches
// ended, which differs between a live run and a replay: compared by content instead.
bool IsHoldersLayoutKey(ProjectionId id, std::string_view key) {
  return id == ProjectionId::kHolders &&
         (key.starts_with("m/") || key.starts_with("d/") || key.starts_with("j/"));
}

// Every key of a column family, in order (whole-key families included).
std::unique_ptr<rocksdb::Iterator> FullScan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family) {
  auto it = NewKeyOrderIterator(db, family);
  it->SeekToFirst();
  return it;
}

Status ScanStatus(const rocksdb::Iterator& it, std::string_view what) {
  if (it.status().ok()) return Ok();
  return Fail(ErrorKind::kUnavailable, "storage_unavailable",
              "reading " + std::string(what) + ": " + it.status().ToString());
}

// Compares the holders bitmaps as the projection loads them: same members.
void CompareHoldersBitmaps(const Sides& sides, FamilyReport* report) {
  projections::HoldersProjection live;
  projections::HoldersProjection replay;
  if (auto loaded = live.Load(sides.live_db, sides.live); !loaded) {
    report->Add({"holders bitmap", "does not load: " + loaded.error().message, "loads"});
    return;
  }
  LEDGER_ASSERT(replay.Load(sides.replay_db, sides.replay).has_value());
  if (live.Cardinality() != replay.Cardinality()) {
    report->Add({"holders bitmap", std::to_string(live.Cardinality()) + " users",
                 std::to_string(replay.Cardinality()) + " users"});
  }
  // Same size and every replay member present: same set.
  for (auto it = FullScan(sides.replay_db, sides.replay); it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (!key.starts_with("n/")) continue;
    const auto user = projections::UserIdOf(key.substr(2));
    if (user && !live.Check(*user).has_assets) {
      report->Add({"holders bitmap member " + std::string(key.substr(2)), "absent", "present"});
    }
  }
}

// Compares projection `id`'s family on both sides, key by key, into `report`.
Status CompareProjection(ProjectionId id, const Sides& sides, FamilyReport* report) {
  auto live = FullScan(sides.live_db, sides.live);
  auto replay = FullScan(sides.replay_db, sides.replay);
  while (live->Valid() || replay->Valid()) {
    const int order = !live->Valid()     ? 1
                      : !replay->Valid() ? -1
                                         : live->key().compare(replay->key());
    const std::string key = (order <= 0 ? live->key() : replay->key()).ToString();
    std::optional<std::string> live_value;
    std::optional<std::string> replay_value;
    if (order <= 0) live_value = live->value().ToString();
    if (order >= 0) replay_value = replay->value().ToString();
    if (order <= 0) live->Next();
    if (order >= 0) replay->Next();
    if (IsHoldersLayoutKey(id, key)) continue;
    ++report->keys;
    if (live_value == replay_value) continue;
    report->Add(report->ShowsNext() ? Describe(id, sides, key, live_value, replay_value)
                                    : Difference{Location(id, key), "", ""});
  }
  if (auto status = ScanStatus(*live, "the live view"); !status) return status;
  if (auto status = ScanStatus(*replay, "the replayed view"); !status) return status;
  if (id == ProjectionId::kHolders) CompareHoldersBitmaps(sides, report);
  return Ok();
}

// A write-side state entry, decoded for the diff.
std::string DescribeStateValue(std::string_view key, const std::optional<std::string>& value) {
  if (!value) return "absent";
  if (!key.starts_with("a/")) return "hex " + Hex(*value);
  commands::WriteState scratch;
  if (!scratch.Load(key, *value)) return "undecodable, hex " + Hex(*value);
  const commands::AccountState* account = scratch.FindAccount(key.substr(2));
  if (account == nullptr) return "hex " + Hex(*value);
  std::vector<std::pair<std::string, std::int64_t>> balances;
  for (const auto& balance : account->balances) balances.emplace_back(balance.asset, balance.balance);
  return "{version " + std::to_string(account->version) + ", stream version " +
         std::to_string(account->stream_version) + (account->frozen ? ", frozen" : "") +
         (account->allow_negative ? ", may go negative" : "") + ", balances " +
         FormatBalances(balances) + "}";
}

std::string StateLocation(std::string_view key) {
  const std::string id = Printable(key.substr(std::min<std::size_t>(2, key.size())));
  if (key.starts_with("a/")) return "account " + id;
  if (key.starts_with("o/")) return "order " + id;
  if (key.starts_with("c/")) return "campaign " + id;
  if (key.starts_with("g/")) return "voucher grants " + id;
  if (key == "t") return "transfers stream version";
  return "key " + Printable(key);
}

// Compares the stored write-side state of `live` with `replayed` (every event applied).
Status CompareState(const Store& live, commands::WriteState& replayed, FamilyReport* report) {
  std::vector<std::pair<std::string, std::string>> expected;
  replayed.TakeDirty(&expected);
  std::sort(expected.begin(), expected.end());
  std::size_t next = 0;
  auto differ = [&](std::string_view key, const std::optional<std::string>& stored,
                    const std::optional<std::string>& replay) {
    ++report->keys;
    if (stored == replay) return;
    report->Add({StateLocation(key), DescribeStateValue(key, stored),
                 DescribeStateValue(key, replay)});
  };
  auto visited = live.ForEachState([&](std::string_view key, std::string_view value) -> Status {
    for (; next < expected.size() && expected[next].first < key; ++next) {
      differ(expected[next].first, std::nullopt, expected[next].second);
    }
    if (next < expected.size() && expected[next].first == key) {
      differ(key, std::string(value), expected[next++].second);
    } else {
      differ(key, std::string(value), std::nullopt);
    }
    return Ok();
  });
  if (!visited) return visited;
  for (; next < expected.size(); ++next) {
    differ(expected[next].first, std::nullopt, expected[next].second);
  }
  return Ok();
}

// A ReplayJob applying every event to `state` with the write side's own Apply.
ReplayJob StateJob(std::uint64_t end, commands::WriteState& state) {
  return ReplayJob{
      .name = std::string(kStateName),
      .end = end,
      .run = [&state](projections::EventSource& source) -> Result<std::uint64_t> {
        std::uint64_t position = 1;
        while (true) {
          auto events = source.ReadFrom(position, kReplayBatchEventsMax);
          if (!events) return std::unexpected(events.error());
          if (events->empty()) return position - 1;
          for (const StoredEvent& stored : *events) state.Apply(stored.event);
          position += events->size();
        }
      }};
}

// Rewrites `sides.live` from `sides.replay`: deletes every key, then copies the replay's keys,
// in writes of kRepairBatchKeysMax keys, the checkpoint in the last one. ledgerd must be stopped
// (the caller holds the data dir's lock); an interrupted repair leaves a mixed family that the
// next reconcile reports, so run it again before starting ledgerd.
Status RepairFamily(const Sides& sides) {
  rocksdb::WriteOptions options;
  options.sync = true;
  rocksdb::WriteBatch batch;
  auto flush = [&](bool always) -> Status {
    if (batch.Count() == 0 || (!always && batch.Count() < kRepairBatchKeysMax)) return Ok();
    rocksdb::Status status = sides.live_db.Write(options, &batch);
    batch.Clear();
    if (status.ok()) return Ok();
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "repairing " + sides.live.GetName() + ": " + status.ToString());
  };
  auto live = FullScan(sides.live_db, sides.live);
  for (; live->Valid(); live->Next()) {
    LEDGER_ASSERT(batch.Delete(&sides.live, live->key()).ok());
    if (auto flushed = flush(false); !flushed) return flushed;
  }
  if (auto status = ScanStatus(*live, "the live view"); !status) return status;
  std::optional<std::string> checkpoint;
  auto replay = FullScan(sides.replay_db, sides.replay);
  for (; replay->Valid(); replay->Next()) {
    if (replay->key().ToStringView() == projections::kCheckpointKey) {
      checkpoint = replay->value().ToString();
      continue;
    }
    LEDGER_ASSERT(batch.Put(&sides.live, replay->key(), replay->value()).ok());
    if (auto flushed = flush(false); !flushed) return flushed;
  }
  if (auto status = ScanStatus(*replay, "the replayed view"); !status) return status;
  if (checkpoint) {
    LEDGER_ASSERT(batch.Put(&sides.live, rocksdb::Slice(projections::kCheckpointKey.data(),
                                                        projections::kCheckpointKey.size()),
                            *checkpoint)
                      .ok());
  }
  return flush(true);
}

// A temporary directory removed with everything in it when this goes out of scope.
// The data dir reconcile compares: a secondary instance, or (for --repair) the primary itself.
struct LiveDir {
  std::unique_ptr<AuditStore> audit;
  std::unique_ptr<Store> primary;
  [[nodiscard]] Store& store() { return primary ? *primary : audit->store(); }
};

Result<LiveDir> OpenLive(const std::string& data_dir, bool repair) {
  LiveDir live;
  if (!repair) {
    auto audit = AuditStore::Open(data_dir);
    if (!audit) return std::unexpected(audit.error());
    live.audit = std::move(*audit);
    return live;
  }
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT", error)) {
    return Fail(ErrorKind::kUnavailable, "no_ledger", data_dir + " holds no ledger data");
  }
  auto primary = Store::Open({.path = data_dir,
                              .extra_column_families = ReadModels::ColumnFamilies(),
                              .point_lookup_families = ReadModels::PointLookupFamilies()});
  if (!primary) {
    if (primary.error().message.find("lock") != std::string::npos ||
        primary.error().message.find("LOCK") != std::string::npos) {
      return Fail(ErrorKind::kUnavailable, "data_dir_in_use",
                  data_dir + " is in use (its RocksDB lock is held, by a running ledgerd?): "
                             "stop ledgerd before reconcile --repair (" +
                      primary.error().message + ")");
    }
    return std::unexpected(primary.error());
  }
  live.primary = std::move(*primary);
  return live;
}

struct ReconcileOptions {
  std::string data_dir;
  std::vector<ProjectionId> ids;
  bool repair = false;
  bool json = false;
};

// Everything one reconcile run keeps: the live dir, the replayed views and state, the reports.
struct Reconciliation {
  LiveDir live;
  ScratchDir scratch;
  std::unique_ptr<Store> replay_view;
  commands::WriteState replayed_state;
  std::uint64_t head = 0;
  std::vector<std::pair<ProjectionId, std::uint64_t>> checkpoints;
  std::vector<FamilyReport> reports;  // One per projection (ids order), then the state.
  std::vector<FamilyReport> after_repair;
  std::vector<std::string> repaired;

  [[nodiscard]] Sides SidesOf(ProjectionId id) {
    const std::string family = projections::ColumnFamilyName(ReadModels::Name(id));
    rocksdb::ColumnFamilyHandle* live_family = live.store().ColumnFamily(family);
    rocksdb::ColumnFamilyHandle* replay_family = replay_view->ColumnFamily(family);
    LEDGER_ASSERT(live_family != nullptr && replay_family != nullptr);
    return Sides{*live.store().db(), *live_family, *replay_view->db(), *replay_family,
                 scratch.path()};
  }
};

// Reads the live checkpoints and replays the log into rec's scratch view and state.
Status Replay(const ReconcileOptions& options, Reconciliation& rec) {
  Store& live = rec.live.store();
  rec.head = live.HeadPosition();
  auto scratch = ScratchDir::Create("reconcile");
  if (!scratch) return std::unexpected(scratch.error());
  rec.scratch = std::move(*scratch);
  auto view = OpenFreshViewStore(rec.scratch.path() + "/view");
  if (!view) return std::unexpected(view.error());
  rec.replay_view = std::move(*view);
  std::vector<ReplayJob> jobs;
  for (const ProjectionId id : options.ids) {
    const std::string family = projections::ColumnFamilyName(ReadModels::Name(id));
    if (live.ColumnFamily(family) == nullptr) {
      return Fail(ErrorKind::kUnavailable, "no_projection",
                  options.data_dir + " has no column family " + family +
                      " (a log no ledgerd ever served has no projections to reconcile)");
    }
    const Sides sides = rec.SidesOf(id);
    auto checkpoint = projections::ReadCheckpoint(sides.live_db, sides.live, nullptr);
    if (!checkpoint) return std::unexpected(checkpoint.error());
    rec.checkpoints.emplace_back(id, *checkpoint);
    // A checkpoint past the head is itself a finding (reported); replay what the log has.
    jobs.push_back(RebuildJob(id, std::min(*checkpoint, rec.head), sides.replay_db, sides.replay));
  }
  jobs.push_back(StateJob(rec.head, rec.replayed_state));
  Progress progress("reconcile", rec.head, options.json);
  auto replayed = ReplayOnce(live, jobs, &progress);
  if (!replayed) return std::unexpected(replayed.error());
  progress.Finish(rec.head);
  return Ok();
}

Result<std::vector<FamilyReport>> CompareProjections(Reconciliation& rec) {
  std::vector<FamilyReport> reports;
  for (const auto& [id, checkpoint] : rec.checkpoints) {
    FamilyReport report{.name = std::string(ReadModels::Name(id)), .position = checkpoint};
    if (checkpoint > rec.head) {
      report.Add({"checkpoint", std::to_string(checkpoint),
                  "beyond the log's head " + std::to_string(rec.head)});
    }
    if (auto compared = CompareProjection(id, rec.SidesOf(id), &report); !compared) {
      return std::unexpected(compared.error());
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

std::uint64_t CountDifferences(const std::vector<FamilyReport>& reports) {
  std::uint64_t count = 0;
  for (const FamilyReport& report : reports) count += report.differences;
  return count;
}

void PrintReportsText(const std::vector<FamilyReport>& reports) {
  for (const FamilyReport& report : reports) {
    const bool state = report.name == kStateName;
    std::printf("  %-11s at %s %llu: %llu keys, ", report.name.c_str(),
                state ? "head" : "checkpoint", static_cast<unsigned long long>(report.position),
                static_cast<unsigned long long>(report.keys));
    if (report.differences == 0) {
      std::printf("ok\n");
      continue;
    }
    std::printf("%llu difference(s)%s\n", static_cast<unsigned long long>(report.differences),
                report.differences > report.shown.size() ? ", the first ones:" : "");
    for (const Difference& difference : report.shown) {
      std::printf("    %s:\n      live   %s\n      replay %s\n", difference.where.c_str(),
                  difference.live.c_str(), difference.replay.c_str());
    }
  }
}

std::string ReportsJson(const std::vector<FamilyReport>& reports) {
  std::string out = "[";
  for (const FamilyReport& report : reports) {
    if (out.size() > 1) out += ",";
    out += "{\"name\":" + JsonQuoted(report.name) +
           ",\"position\":" + std::to_string(report.position) +
           ",\"keys\":" + std::to_string(report.keys) +
           ",\"differences\":" + std::to_string(report.differences) + ",\"shown\":[";
    for (const Difference& difference : report.shown) {
      out += std::string(&difference == report.shown.data() ? "" : ",") +
             "{\"where\":" + JsonQuoted(difference.where) + ",\"live\":" +
             JsonQuoted(difference.live) + ",\"replay\":" + JsonQuoted(difference.replay) + "}";
    }
    out += "]}";
  }
  return out + "]";
}

void PrintResult(const ReconcileOptions& options, const Reconciliation& rec, int exit_code) {
  const std::vector<FamilyReport>& final_reports =
      rec.repaired.empty() ? rec.reports : rec.after_repair;
  if (options.json) {
    std::string repaired = "[";
    for (const std::string& name : rec.repaired) {
      repaired += (repaired.size() > 1 ? "," : "") + JsonQuoted(name);
    }
    std::printf("{\"verb\":\"reconcile\",\"data\":%s,\"head\":%llu,\"families\":%s,"
                "\"repaired\":%s],\"after_repair\":%s,\"differences\":%llu,\"exit\":%d}\n",
                JsonQuoted(options.data_dir).c_str(), static_cast<unsigned long long>(rec.head),
                ReportsJson(rec.reports).c_str(), repaired.c_str(),
                ReportsJson(rec.after_repair).c_str(),
                static_cast<unsigned long long>(CountDifferences(final_reports)), exit_code);
    return;
  }
  std::printf("reconcile of %s (log head %llu): the replay vs the live projections (each at its "
              "checkpoint) and the write-side state\n",
              options.data_dir.c_str(), static_cast<unsigned long long>(rec.head));
  PrintReportsText(rec.reports);
  if (!rec.repaired.empty()) {
    std::printf("repaired from the replay:");
    for (const std::string& name : rec.repaired) std::printf(" %s", name.c_str());
    std::printf("\nafter repair:\n");
    PrintReportsText(rec.after_repair);
  }
  std::string drifted;
  bool projection_drifted = false;
  for (const FamilyReport& report : final_reports) {
    if (report.differences == 0) continue;
    drifted += (drifted.empty() ? "" : ", ") + report.name;
    projection_drifted = projection_drifted || report.name != kStateName;
  }
  if (drifted.empty()) {
    std::printf("result: no difference\n");
  } else {
    std::printf("result: %llu difference(s) in %s%s\n",
                static_cast<unsigned long long>(CountDifferences(final_reports)), drifted.c_str(),
                options.repair || !projection_drifted
                    ? ""
                    : " (reconcile --repair rewrites a drifted projection)");
  }
}

// Rewrites every drifted projection from the replay, then compares again.
Status RepairAndRecheck(Reconciliation& rec) {
  for (std::size_t i = 0; i < rec.checkpoints.size(); ++i) {
    const auto [id, checkpoint] = rec.checkpoints[i];
    if (rec.reports[i].differences == 0 || checkpoint > rec.head) continue;
    if (auto repaired = RepairFamily(rec.SidesOf(id)); !repaired) return repaired;
    rec.repaired.emplace_back(ReadModels::Name(id));
  }
  if (rec.repaired.empty()) return Ok();
  auto again = CompareProjections(rec);
  if (!again) return std::unexpected(again.error());
  rec.after_repair = std::move(*again);
  rec.after_repair.push_back(rec.reports.back());  // --repair leaves the write-side state.
  return Ok();
}

Result<ReconcileOptions> ParseReconcile(std::span<char* const> args) {
  constexpr std::string_view kWithValue[] = {"--data", "--projection"};
  constexpr std::string_view kSwitches[] = {"--repair", "--json"};
  auto flags = ParseFlags(args, kWithValue, kSwitches);
  if (!flags) return std::unexpected(flags.error());
  if (!flags->Has("--data")) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument", "reconcile needs --data DIR");
  }
  auto ids = SelectProjections(flags->Get("--projection", "all"));
  if (!ids) return std::unexpected(ids.error());
  return ReconcileOptions{.data_dir = flags->Get("--data"),
                          .ids = std::move(*ids),
                          .repair = flags->Has("--repair"),
                          .json = flags->Has("--json")};
}

// Reports `error` on stderr: exit 1 if the log failed its checks while being replayed (a
// finding), else 3 (the audit could not run).
int FailedToRun(const Error& error) {
  std::fprintf(stderr, "ledger-replay reconcile: %s\n", error.message.c_str());
  return error.kind == ErrorKind::kCorruption ? kExitFinding : kExitCannotRun;
}

}  // namespace

int RunReconcile(std::span<char* const> args) {
  auto options = ParseReconcile(args);
  if (!options) {
    std::fprintf(stderr, "ledger-replay reconcile: %s\n", options.error().message.c_str());
    return kExitUsage;
  }
  Reconciliation rec;
  auto live = OpenLive(options->data_dir, options->repair);
  if (!live) return FailedToRun(live.error());
  rec.live = std::move(*live);
  if (auto replayed = Replay(*options, rec); !replayed) return FailedToRun(replayed.error());
  auto reports = CompareProjections(rec);
  if (!reports) return FailedToRun(reports.error());
  rec.reports = std::move(*reports);
  FamilyReport state{.name = std::string(kStateName), .position = rec.head};
  if (auto compared = CompareState(rec.live.store(), rec.replayed_state, &state); !compared) {
    return FailedToRun(compared.error());
  }
  rec.reports.push_back(std::move(state));
  if (options->repair) {
    if (auto repaired = RepairAndRecheck(rec); !repaired) return FailedToRun(repaired.error());
  }
  const auto& final_reports = rec.repaired.empty() ? rec.reports : rec.after_repair;
  const int exit_code = CountDifferences(final_reports) == 0 ? kExitOk : kExitFinding;
  PrintResult(*options, rec, exit_code);
  return exit_code;
}

}  // namespace ledger::replay
