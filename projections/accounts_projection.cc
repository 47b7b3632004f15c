#include "projections/accounts_projection.h"

#include <algorithm>

#include "projections/internal/encoding.h"

namespace ledger::projections {
namespace {

using internal::AppendFixed;
using internal::AppendSized;
using internal::ReadFixed;
using internal::ReadSized;

constexpr char kFormat = 1;

std::string AccountKey(std::string_view account) { return "a/" + std::string(account); }

std::string Encode(const AccountView& view) {
  std::string out(1, kFormat);
  AppendFixed(view.version, &out);
  AppendFixed(view.last_position, &out);
  AppendFixed(static_cast<std::uint32_t>(view.balances.size()), &out);
  for (const auto& [asset, balance] : view.balances) {
    AppendSized<std::uint32_t>(asset, &out);
    AppendFixed(balance, &out);
  }
  return out;
}

Result<AccountView> Decode(std::string_view in, std::string_view account) {
  auto corrupt = [&] {
    return Fail(ErrorKind::kCorruption, "corruption",
                "accounts projection entry of '" + std::string(account) + "' does not decode");
  };
  AccountView view;
  std::uint32_t count = 0;
  if (in.empty() || in[0] != kFormat) return corrupt();
  in.remove_prefix(1);
  if (!ReadFixed(&in, &view.version) || !ReadFixed(&in, &view.last_position) ||
      !ReadFixed(&in, &count)) {
    return corrupt();
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    std::string asset;
    std::int64_t balance = 0;
    if (!ReadSized<std::uint32_t>(&in, &asset) || !ReadFixed(&in, &balance)) return corrupt();
    view.balances.emplace_back(std::move(asset), balance);
  }
  if (!in.empty()) return corrupt();
  return view;
}

// Adds `delta` to the account's balance of `asset`; false on overflow (impossible for events
// the sequencer accepted, so it is reported as corruption).
bool AddToBalance(AccountView& view, const std::string& asset, std::int64_t delta) {
  auto it = std::find_if(view.balances.begin(), view.balances.end(),
                         [&](const auto& entry) { return entry.first == asset; });
  if (it == view.balances.end()) {
    view.balances.emplace_back(asset, 0);
    it = view.balances.end() - 1;
  }
  return !__builtin_add_overflow(it->second, delta, &it->second);
}

}  // namespace

Status AccountsProjection::Apply(const Event& event, ViewWriter& view) {
  std::vector<std::string> touched;
  if (const auto* opened = std::get_if<AccountOpened>(&event.payload)) {
    touched.push_back(opened->account);
  }
  for (const Posting& posting : event.postings) {
    touched.push_back(posting.from);
    touched.push_back(posting.to);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const std::string& account : touched) {
    const std::string key = AccountKey(account);
    auto stored = view.Get(key);
    if (!stored) return std::unexpected(stored.error());
    AccountView current;
    if (stored->has_value()) {
      auto decoded = Decode(**stored, account);
      if (!decoded) return std::unexpected(decoded.error());
      current = std::move(*decoded);
    }
    for (const Posting& posting : event.postings) {
      bool ok = true;
      if (posting.from == account) ok = AddToBalance(current, posting.asset, -posting.amount);
      if (posting.to == account) ok = ok && AddToBalance(current, posting.asset, posting.amount);
      if (!ok) {
        return Fail(ErrorKind::kCorruption, "corruption",
                    "balance overflow in the accounts projection at event " +
                        std::to_string(event.envelope.position));
      }
    }
    ++current.version;
    current.last_position = event.envelope.position;
    view.Put(key, Encode(current));
  }
  return Ok();
}

Result<AccountRead> AccountsProjection::Read(rocksdb::DB& db, rocksdb::ColumnFamilyHandle& family,
                                             std::string_view account) {
  rocksdb::ManagedSnapshot snapshot(&db);
  AccountRead read;
  auto checkpoint = ReadCheckpoint(db, family, snapshot.snapshot());
  if (!checkpoint) return std::unexpected(checkpoint.error());
  read.position = *checkpoint;
  std::string value;
  rocksdb::Status status = db.Get(ReadAt(snapshot), &family, AccountKey(account), &value);
  if (status.IsNotFound()) return read;
  if (!status.ok()) {
    return Fail(ErrorKind::kUnavailable, "storage_unavailable",
                "reading the accounts projection: " + status.ToString());
  }
  auto view = Decode(value, account);
  if (!view) return std::unexpected(view.error());
  read.account = std::move(*view);
  return read;
}

}  // namespace ledger::projections
