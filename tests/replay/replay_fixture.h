// Shared by the replay tests: a real store in a temporary directory written by a real
// sequencer, a varied log, the write side's own balances recorded at every position, tampering
// with the stored bytes, and the ledger-replay verbs run in-process with their stdout captured.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands/sequencer.h"
#include "commands/write_state.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "replay/audit.h"
#include "tests/support/temp_dir.h"

namespace ledger::replay::testing {

// 2026-11-21T10:00:00Z.
inline constexpr TimestampUs kStartUs = 1'795'255'200'000'000;
inline constexpr TimestampUs kHourUs = 3'600'000'000;

// account -> asset -> balance.
using Balances = std::map<std::string, std::map<std::string, std::int64_t>>;

struct VerbResult {
  int exit_code = 0;
  std::string out;
};

// Runs `verb(args)` with stdout captured.
inline VerbResult RunVerb(int (*verb)(std::span<char* const>), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  ::testing::internal::CaptureStdout();
  const int exit_code = verb(argv);
  std::fflush(stdout);
  return {exit_code, ::testing::internal::GetCapturedStdout()};
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Open()); }

  void Open() {
    auto store = Store::Open({.path = dir_.path()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
  }
  void Close() {
    if (sequencer_) sequencer_->Stop();
    sequencer_.reset();
    store_.reset();
  }
  void TearDown() override { Close(); }

  // Runs one command to completion; the event it appended, applied to the recorded state.
  Result<Event> TryRun(commands::CommandBody body, std::string key = "") {
    std::promise<Result<commands::CommandOutcome>> promise;
    auto future = promise.get_future();
    commands::Command command{.context = {.client_id = "svc", .idempotency_key = std::move(key)},
                              .body = std::move(body)};
    auto submitted = sequencer_->Submit(std::move(command), [&](auto outcome) {
      promise.set_value(std::move(outcome));
    });
    if (!submitted) return std::unexpected(submitted.error());
    auto outcome = future.get();
    if (!outcome) return std::unexpected(outcome.error());
    Record(outcome->event);
    return outcome->event;
  }
  void Run(commands::CommandBody body, std::string key = "") {
    auto event = TryRun(std::move(body), std::move(key));
    ASSERT_TRUE(event.has_value()) << event.error().code << ": " << event.error().message;
  }

  // Applies `event` with the write side's own code and records every balance after it.
  void Record(const Event& event) {
    state_.Apply(event);
    Balances balances;
    for (const auto& [account, account_state] : state_.accounts()) {
      for (const auto& balance : account_state.balances) {
        balances[account][balance.asset] = balance.balance;
      }
    }
    ASSERT_EQ(event.envelope.position, observed_.size() + 1);
    observed_.push_back(std::move(balances));
  }

  // A varied log over three days: accounts, credits, transfers, settlements with splits,
  // refunds, payouts; some commands with idempotency keys.
  void Populate() {
    clock_.Set(kStartUs);
    Run(commands::OpenAccount{.account = "merchant:1"});
    Run(commands::OpenAccount{.account = "float", .allow_negative = true});
    for (int day = 0; day < 3; ++day) {
      clock_.Set(kStartUs + day * 24 * kHourUs);
      for (int user = 1; user <= 4; ++user) {
        Run(commands::ChangeAsset{.account = "user:" + std::to_string(user),
                                  .asset = "CNY",
                                  .amount = 10'000,
                                  .source = "topup",
                                  .reason = "r",
                                  .ref = "x"},
            "credit-" + std::to_string(day) + "-" + std::to_string(user));
      }
      Run(commands::Transfer{.postings = {{"user:1", "user:2", "CNY", 250},
                                          {"float", "user:3", "USD", 75}}});
      const std::string order = "o" + std::to_string(day);
      Run(commands::SettleOrder{.order_id = order,
                                .merchant = "merchant:1",
                                .payer = "user:2",
                                .asset = "CNY",
                                .gross = 5'000,
                                .splits = {{.to = "platform",
                                            .kind = "platform_share",
                                            .bps = 500}}});
      clock_.Advance(kHourUs);
      Run(commands::RefundOrder{.order_id = order, .refund_id = "r", .amount = 1'000});
      Run(commands::PayOut{.payout_id = "p" + std::to_string(day),
                           .merchant = "merchant:1",
                           .asset = "CNY",
                           .amount = 1'500,
                           .bank_account = "bank-1"});
    }
  }

  // Closes the store, lets `tamper` change the raw database, then leaves it closed.
  void Tamper(const std::function<void(rocksdb::DB&, Store&)>& tamper) {
    Close();
    auto store = Store::Open({.path = dir_.path()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    tamper(*(*store)->db(), **store);
  }

  std::string Get(Store& store, std::string_view family, const std::string& key) {
    std::string value;
    EXPECT_TRUE(store.db()->Get(rocksdb::ReadOptions(), store.ColumnFamily(family), key, &value).ok());
    return value;
  }

  static std::string Key(std::uint64_t position) {
    std::string key;
    AppendBigEndian64(position, &key);
    return key;
  }

  VerbResult Verify() { return RunVerb(&RunVerify, {"--data", dir_.path()}); }

  ledger::testing::TempDir dir_;
  ManualClock clock_{kStartUs};
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  commands::WriteState state_;
  std::vector<Balances> observed_;  // observed_[p - 1]: every balance after position p.
};

}  // namespace ledger::replay::testing
