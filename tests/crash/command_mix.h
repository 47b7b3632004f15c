// The commands the crash harness sends (tests/crash/crash_harness.cc): a mixed load like
// ledger-bench mix's, with names unique to the run, round and client, one command in ten built to
// be rejected, and the effective idempotency key each event will record.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "commands/command.h"
#include "ledger/event.h"

namespace ledger::crash {

// A command as the harness sent it.
struct Sent {
  commands::Command command;
  std::string key;           // The effective idempotency key its event records.
  bool must_reject = false;  // Built to be rejected: an unfunded debit, an unknown order/campaign.
};

// An event the server acknowledged (or a resend found in the log).
struct Acked {
  std::string key;
  std::uint64_t position = 0;
  Hash hash{};
};

// The effective idempotency key of `command` sent by `client_id` (docs/api.md#idempotency).
[[nodiscard]] std::string EffectiveKey(const commands::Command& command,
                                       const std::string& client_id);

// Round 1's set-up, sent by `client_id`: 4 coupon campaigns and 32 funded payers (user:0..31).
[[nodiscard]] std::vector<Sent> SetUpCommands(const std::string& client_id);

// One client's commands in one round: 40% credits of 5,000 users, 8% debits of the funded
// payers, 18% settlements to 64 merchants, 12% voucher grants, 12% refunds of this generator's
// acknowledged settlements or payouts of their merchants, 10% built to be rejected (a debit of a
// user who never held anything, a refund of an order never settled, a grant from a campaign that
// does not exist). Deterministic for a seed and the sequence of Accepted() calls. Not
// thread-safe (one per client thread).
class Generator {
 public:
  Generator(std::uint64_t seed, std::string prefix, std::string client_id)
      : rng_(seed), prefix_(std::move(prefix)), client_id_(std::move(client_id)) {}

  [[nodiscard]] Sent Next();
  // An acknowledged settlement can be refunded once, and its merchant paid out.
  void Accepted(const Sent& sent);
  // Uniform in 0..n-1 (n > 0).
  [[nodiscard]] std::uint64_t Uniform(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }

 private:
  struct Order {
    std::string id;
    std::int64_t gross;
  };

  std::string Name(std::string_view what) {
    return prefix_ + "-" + std::string(what) + std::to_string(++serial_);
  }
  std::int64_t Amount(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(rng_);
  }
  Sent Change(std::string account, std::int64_t amount, bool must_reject = false);
  Sent Credit();
  Sent Debit();
  Sent Settle();
  Sent Grant();
  Sent RefundOrPayOut();
  Sent Rejected();

  std::mt19937_64 rng_;
  std::string prefix_;
  std::string client_id_;
  std::uint64_t serial_ = 0;
  std::vector<Order> orders_;
  std::vector<std::string> merchants_;
};

}  // namespace ledger::crash
