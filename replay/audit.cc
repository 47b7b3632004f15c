#include "replay/audit.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <cstdio>
#include <filesystem>

#include "projections/read_models.h"
#include "transport/rfc3339.h"

namespace ledger::replay {

Result<std::unique_ptr<AuditStore>> AuditStore::Open(const std::string& data_dir,
                                                     bool skip_head_check) {
  std::error_code error;
  if (!std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT", error)) {
    return Fail(ErrorKind::kUnavailable, "no_ledger", data_dir + " holds no ledger data");
  }
  std::unique_ptr<AuditStore> audit(new AuditStore());
  auto secondary = ScratchDir::Create("replay");
  if (!secondary) return std::unexpected(secondary.error());
  audit->secondary_dir_ = std::move(*secondary);
  // A log without projections (e.g. one `ledger-bench append` wrote) lacks their column families,
  // and a secondary instance cannot create them: open those that exist.
  std::vector<std::string> existing;
  std::vector<std::string> families;
  if (rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), data_dir, &existing).ok()) {
    for (const std::string& name : projections::ReadModels::ColumnFamilies()) {
      if (std::find(existing.begin(), existing.end(), name) != existing.end()) {
        families.push_back(name);
      }
    }
  }
  auto store = Store::Open(
      StoreOptions{.path = data_dir,
                   .extra_column_families = families,
                   .point_lookup_families = projections::ReadModels::PointLookupFamilies(),
                   .secondary_path = audit->secondary_dir_.path(),
                   .skip_head_check = skip_head_check});
  if (!store) return std::unexpected(store.error());
  audit->store_ = std::move(*store);
  return audit;
}

// The store closes before its secondary directory goes (members die in reverse order).
AuditStore::~AuditStore() = default;

Progress::Progress(std::string_view what, std::uint64_t total_events, bool quiet)
    : what_(what),
      total_(total_events),
      quiet_(quiet),
      terminal_(isatty(STDERR_FILENO) == 1),
      started_(std::chrono::steady_clock::now()),
      last_print_(started_) {}

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

void Progress::Update(std::uint64_t done) {
  if (quiet_ || ++calls_ % 4096 != 0) return;
  const auto now = std::chrono::steady_clock::now();
  const auto interval = terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(5);
  if (now - last_print_ < interval) return;
  last_print_ = now;
  Print(done, false);
}

void Progress::Finish(std::uint64_t done) {
  if (!quiet_) Print(done, true);
}

void Progress::Print(std::uint64_t done, bool final) {
  const double seconds = std::max(ElapsedSeconds(), 1e-9);
  const double rate = static_cast<double>(done) / seconds;
  const double eta = rate > 0 && total_ > done ? static_cast<double>(total_ - done) / rate : 0;
  const double fraction = total_ == 0 ? 1 : static_cast<double>(done) / static_cast<double>(total_);
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(std::min(1.0, fraction) * kWidth);
    std::fprintf(stderr, "\r%s [%.*s%*s] %5.1f%% %llu/%llu events, %.0f events/s, ETA %.0f s%s",
                 what_.c_str(), filled, "##############################", kWidth - filled, "",
                 fraction * 100, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), rate, eta, final ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s: %llu/%llu events (%.1f%%), %.0f events/s, %s %.0f s\n",
                 what_.c_str(), static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), fraction * 100, rate,
                 final ? "took" : "ETA", final ? seconds : eta);
  }
  std::fflush(stderr);
}

bool Flags::Has(std::string_view name) const {
  return std::any_of(pairs.begin(), pairs.end(), [&](const auto& pair) { return pair.first == name; });
}

std::string Flags::Get(std::string_view name, std::string fallback) const {
  for (const auto& [flag, value] : pairs) {
    if (flag == name) return value;
  }
  return fallback;
}

Result<Flags> ParseFlags(std::span<char* const> args, std::span<const std::string_view> with_value,
                         std::span<const std::string_view> switches) {
  Flags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string flag = args[i];
    const bool is_switch = std::find(switches.begin(), switches.end(), flag) != switches.end();
    const bool takes_value =
        std::find(with_value.begin(), with_value.end(), flag) != with_value.end();
    if (!is_switch && !takes_value) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument", "unknown flag " + flag);
    }
    if (flags.Has(flag)) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument", flag + " given twice");
    }
    if (is_switch) {
      flags.pairs.emplace_back(flag, "");
      continue;
    }
    if (i + 1 >= args.size()) {
      return Fail(ErrorKind::kInvalidArgument, "invalid_argument", flag + " needs a value");
    }
    flags.pairs.emplace_back(flag, args[++i]);
  }
  return flags;
}


// --- BalanceBook -------------------------------------------------------------------------------

namespace {
constexpr std::string_view kExternalAccountPrefix = "external:";
}  // namespace

BalanceBook::Account& BalanceBook::Touch(std::string_view id) {
  for (auto& [name, account] : touched_) {
    if (*name == id) return *account;
  }
  auto it = accounts_.find(id);
  if (it == accounts_.end()) {
    it = accounts_.emplace(std::string(id), Account{}).first;
    it->second.allow_negative = id.starts_with(kExternalAccountPrefix);
  }
  touched_.emplace_back(&it->first, &it->second);
  return it->second;
}

std::optional<std::string> BalanceBook::OpenAccount(std::string_view account,
                                                    bool allow_negative) {
  if (accounts_.contains(account)) {
    return "opens account '" + std::string(account) + "', which already exists";
  }
  accounts_.emplace(std::string(account),
                    Account{allow_negative || account.starts_with(kExternalAccountPrefix), {}});
  return std::nullopt;
}

namespace {
std::int64_t& BalanceOf(BalanceBook::Account& account, std::string_view asset) {
  for (auto& [name, balance] : account.balances) {
    if (name == asset) return balance;
  }
  return account.balances.emplace_back(std::string(asset), 0).second;
}
}  // namespace

std::optional<std::string> BalanceBook::Apply(std::span<const PostingView> postings) {
  touched_.clear();
  for (const PostingView& posting : postings) {
    if (posting.amount <= 0) {
      return "posting " + std::string(posting.from) + " -> " + std::string(posting.to) +
             " has a non-positive amount " + std::to_string(posting.amount);
    }
    if (posting.from == posting.to || posting.from.empty() || posting.asset.empty()) {
      return "posting " + std::string(posting.from) + " -> " + std::string(posting.to) +
             " does not move value between two accounts";
    }
    std::int64_t& from = BalanceOf(Touch(posting.from), posting.asset);
    if (__builtin_sub_overflow(from, posting.amount, &from)) {
      return "the balance of '" + std::string(posting.from) + "' overflows";
    }
    std::int64_t& to = BalanceOf(Touch(posting.to), posting.asset);
    if (__builtin_add_overflow(to, posting.amount, &to)) {
      return "the balance of '" + std::string(posting.to) + "' overflows";
    }
  }
  for (const auto& [name, account] : touched_) {
    if (account->allow_negative) continue;
    for (const auto& [asset, balance] : account->balances) {
      if (balance < 0) {
        return "protected account '" + *name + "' goes below zero: " + std::to_string(balance) +
               " " + asset;
      }
    }
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, __int128>> BalanceBook::AssetSums() const {
  std::map<std::string, __int128, std::less<>> sums;
  for (const auto& [name, account] : accounts_) {
    for (const auto& [asset, balance] : account.balances) sums[asset] += balance;
  }
  return {sums.begin(), sums.end()};
}

Result<TimestampUs> ParseTimeFlag(std::string_view flag, std::string_view text) {
  auto time = transport::ParseRfc3339(text);
  if (!time) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                std::string(flag) + ": " + time.error().message);
  }
  return *time;
}

Result<std::uint64_t> ParsePositionFlag(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return Fail(ErrorKind::kInvalidArgument, "invalid_argument",
                std::string(flag) + " needs a non-negative integer, not '" + std::string(text) +
                    "'");
  }
  return value;
}

int UsageError(std::string_view verb, const Error& error) {
  std::fprintf(stderr, "ledger-replay %.*s: %s\n", static_cast<int>(verb.size()), verb.data(),
               error.message.c_str());
  return kExitUsage;
}

int CannotRun(std::string_view verb, const Error& error) {
  std::fprintf(stderr, "ledger-replay %.*s: %s\n", static_cast<int>(verb.size()), verb.data(),
               error.message.c_str());
  return kExitCannotRun;
}

}  // namespace ledger::replay
