// Plumbing every ledger-replay verb shares: opening a data dir for an audit (stopped or in use
// by a running ledgerd), progress reporting, flags and exit codes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ledger/event.h"
#include "ledger/limits.h"
#include "ledger/scratch_dir.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "projections/projection.h"
#include "projections/read_models.h"

namespace ledger::replay {

// Exit codes of ledger-replay: 0 all good, 1 the audit found a problem (corruption, a
// difference), 2 usage error, 3 the audit could not run (I/O, cannot open).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFinding = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitCannotRun = 3;

// A data dir opened for an audit: a RocksDB secondary instance of DIR (works whether or not a
// ledgerd has DIR open, and never writes to DIR), with every projection column family. Its
// secondary state lives in a temporary directory removed on destruction.
class AuditStore {
 public:
  // kUnavailable if DIR holds no ledger or RocksDB cannot open it. `skip_head_check` (verify
  // only) opens even when meta's head disagrees with the last stored event, so that the damage
  // can be located instead of refused (StoreOptions::skip_head_check).
  [[nodiscard]] static Result<std::unique_ptr<AuditStore>> Open(const std::string& data_dir,
                                                                bool skip_head_check = false);
  ~AuditStore();
  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  [[nodiscard]] Store& store() { return *store_; }
  // Moves to the running ledgerd's latest durable state (no-op for a stopped one).
  [[nodiscard]] Status Refresh() { return store_->CatchUpWithPrimary(); }

 private:
  AuditStore() = default;
  ScratchDir secondary_dir_;
  std::unique_ptr<Store> store_;
};

// Progress of a long pass over the log: on a terminal a bar redrawn in place with events/s and
// ETA, otherwise (pipes, CI logs) one plain line every `plain_interval`. Nothing with --json.
class Progress {
 public:
  Progress(std::string_view what, std::uint64_t total_events, bool quiet);
  // `done` events so far; cheap to call per event (looks at the clock every 4,096 calls).
  void Update(std::uint64_t done);
  // Final line: events, seconds, events/s.
  void Finish(std::uint64_t done);
  [[nodiscard]] double ElapsedSeconds() const;

 private:
  void Print(std::uint64_t done, bool final);
  std::string what_;
  std::uint64_t total_;
  bool quiet_;
  bool terminal_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_print_;
  std::uint64_t calls_ = 0;
};

// "--name value" pairs of a verb's arguments; `switches` take no value. Unknown flags and
// missing values are kInvalidArgument naming them.
struct Flags {
  std::vector<std::pair<std::string, std::string>> pairs;
  [[nodiscard]] bool Has(std::string_view name) const;
  [[nodiscard]] std::string Get(std::string_view name, std::string fallback = "") const;
};
[[nodiscard]] Result<Flags> ParseFlags(std::span<char* const> args,
                                       std::span<const std::string_view> with_value,
                                       std::span<const std::string_view> switches = {});

// Verbs (one .cc each). `args` are the arguments after the verb. Return an exit code.
int RunVerify(std::span<char* const> args);
int RunRebuild(std::span<char* const> args);
int RunReconcile(std::span<char* const> args);
int RunBalances(std::span<char* const> args);
int RunStatement(std::span<char* const> args);
int RunExport(std::span<char* const> args);

// --- Replaying the log once for several consumers (rebuild.cc; used by rebuild, reconcile) ---

// One consumer of a shared pass over the log: `run` is called on a thread of its own with an
// EventSource that serves events 1..`end` (ReadFrom returns nothing past `end`, and
// WaitForHeadAbove returns `end`), and returns the last position it applied. The events it
// hands out are checked as Store::ReadFrom checks them; their `bytes` are left empty (consumers
// see the decoded event only).
struct ReplayJob {
  std::string name;
  std::uint64_t end = 0;
  std::function<Result<std::uint64_t>(projections::EventSource& source)> run;
};

struct ReplayJobResult {
  std::string name;
  std::uint64_t position = 0;  // What `run` returned.
  double seconds = 0;          // From the start of the pass until `run` returned.
};

// Reads events 1..max(end) of `log` ONCE (decoding and hash-checking each event once, on a
// reader thread) and feeds every job from those decoded batches, each job on its own thread;
// at most `window_events` decoded events (rounded up to whole batches of
// kReplayBatchEventsMax) are held, so a fast job waits for the slowest. `progress` (may be null)
// is updated, on the calling thread, with the position every job has passed. Returns one result
// per job in `jobs` order, or the first error (a log error, or a job's), after every thread has
// stopped. Every job's `end` must be at most the log's head.
[[nodiscard]] Result<std::vector<ReplayJobResult>> ReplayOnce(
    const Store& log, std::span<const ReplayJob> jobs, Progress* progress,
    std::size_t window_events = kReplayWindowEvents);

// The projections `--projection NAME|all` selects ("all", or absent: every one, in
// ReadModels order); kInvalidArgument naming the known ones for anything else.
[[nodiscard]] Result<std::vector<projections::ProjectionId>> SelectProjections(
    std::string_view name);

// A ReplayJob that builds projection `id` (ReadModels::MakeProjection) with the server's
// ProjectionRunner::CatchUp into `family` of `view_db` (empty: the rebuild starts at position
// 0) up to `end`. `view_db` and `family` must outlive the job's run.
[[nodiscard]] ReplayJob RebuildJob(projections::ProjectionId id, std::uint64_t end,
                                   rocksdb::DB& view_db, rocksdb::ColumnFamilyHandle& family);

// A new view database at `path` with every projection's column family, opened the way ledgerd
// opens its store. kInvalidArgument if `path` exists and is not an empty directory.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenFreshViewStore(const std::string& path);

// `text` as a JSON string literal, quotes included (for --json output).
[[nodiscard]] std::string JsonQuoted(std::string_view text);


// --- Shared by verify and the point-in-time verbs (verify.cc, point_in_time.cc) ----------------

// One posting as read from a stored event, without copies.
struct PostingView {
  std::string_view from;
  std::string_view to;
  std::string_view asset;
  std::int64_t amount = 0;
};

// Every account's balances, rebuilt from postings alone, with the write side's rules checked
// instead of asserted (commands/write_state.h asserts them, which would crash on a bad log): an
// account is protected unless it is "external:..." or was opened with allow_negative; a protected
// account may not end an event below zero; amounts are positive and never overflow 64 bits. Each
// posting moves its amount from one account to another, so with those rules every asset's
// balances sum to exactly zero after every event. Not thread-safe.
class BalanceBook {
 public:
  struct Account {
    bool allow_negative = false;
    std::vector<std::pair<std::string, std::int64_t>> balances;  // (asset, balance), first use.
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const {
      return std::hash<std::string_view>{}(key);
    }
  };
  using Accounts = std::unordered_map<std::string, Account, KeyHash, std::equal_to<>>;

  // An AccountOpened event. Returns what is wrong (the account already exists), or nullopt.
  [[nodiscard]] std::optional<std::string> OpenAccount(std::string_view account,
                                                       bool allow_negative);
  // One event's postings. Returns what is wrong, or nullopt; on a problem the book is left
  // partly applied (the audit stops there).
  [[nodiscard]] std::optional<std::string> Apply(std::span<const PostingView> postings);
  [[nodiscard]] const Accounts& accounts() const { return accounts_; }
  // Room for about `accounts` accounts (spares rehashing a large map step by step).
  void Reserve(std::size_t accounts) { accounts_.reserve(accounts); }
  // Sum of every account's balance per asset, sorted by asset (each must be 0).
  [[nodiscard]] std::vector<std::pair<std::string, __int128>> AssetSums() const;

 private:
  Account& Touch(std::string_view id);
  Accounts accounts_;
  std::vector<std::pair<const std::string*, Account*>> touched_;
};

// "2026-11-21T10:00:00Z" -> microseconds (transport/rfc3339.h); kInvalidArgument naming `flag`.
[[nodiscard]] Result<TimestampUs> ParseTimeFlag(std::string_view flag, std::string_view text);
// A non-negative decimal integer flag; kInvalidArgument naming `flag`.
[[nodiscard]] Result<std::uint64_t> ParsePositionFlag(std::string_view flag, std::string_view text);
// Prints "ledger-replay <verb>: <message>" on stderr and returns kExitUsage / kExitCannotRun.
int UsageError(std::string_view verb, const Error& error);
int CannotRun(std::string_view verb, const Error& error);

}  // namespace ledger::replay
