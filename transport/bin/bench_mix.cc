// ledger-bench mix: a realistic command mix against a running ledgerd, over HTTP or the binary
// protocol, and ledger-bench raw: the raw RocksDB baseline on its own (docs/benchmarks.md).
//
//   ledger-bench mix (--http HOST:PORT | --binary HOST:PORT [--http HOST:PORT]) --token TOKEN
//                    [--connections N] [--seconds S] [--warmup S] [--batch B] [--pipeline P]
//                    [--rate R] [--csv FILE] [--label NAME] [--users N] [--payers N]
//                    [--merchants N] [--mix change=60,settle=20,grant=10,refund_payout=5,query=5]
//                    [--seed S] [--tls-ca FILE: TLS to both endpoints, verified against FILE]
//
// Each connection runs on its own thread with its own generator. The mix (percent of
// operations): asset changes over --users users (9 in 10 credits, 1 in 10 debits of a funded
// payer), settlements of a funded payer's order to one of --merchants merchants with 2..4 splits
// (3..5 lines with the merchant's net), voucher grants from one of 16 coupon campaigns, refunds
// of 10% of an order this connection settled (or, when it has none, a payout) and payouts of a
// merchant this connection paid (until the first settlement is answered, an asset change
// instead), and queries (GET /v1/accounts/user:N, where 404 for a user who holds nothing is an
// answer, not an error; over --binary they need --http and run on a keep-alive HTTP connection
// of the same thread). Set-up before the clock
// starts: the campaigns, and one top-up per funded payer (--payers, default 10,000).
//
// Over HTTP every operation is one request on a keep-alive connection. Over the binary protocol
// a connection keeps --pipeline batches of --batch commands in flight. A command's latency is
// from sending its request (batch) to its answer; with --rate (operations/s over all
// connections) from its scheduled start, so a slow server cannot hide queueing (coordinated
// omission). A sampler thread measures projection lag over HTTP: it reads the head from
// GET /v1/projections and times until every projection has reached it.
//
// Prints a table, `throughput: <N> commands/s` (answered operations per second, queries
// included, errors excluded), `latency_ms: p50=<x> p99=<y> p999=<z>` (commands), and
// `projection_lag_ms: p50=<x> p99=<y>`; --csv writes one row per second:
//   system,second,commands_per_s,errors,p50_ms,p99_ms,p999_ms,lag_ms
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ledger/limits.h"
#include "transport/binary_client.h"
#include "transport/bin/bench_common.h"
#include "transport/http_client.h"

namespace ledger::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

enum Kind : std::size_t { kChange, kSettle, kGrant, kRefundPayout, kQuery, kKindCount };
constexpr const char* kKindNames[kKindCount] = {"asset_change", "settlement", "voucher_grant",
                                                "refund_payout", "query"};
constexpr std::size_t kCampaigns = 16;
constexpr std::int64_t kPayerFunds = 1'000'000'000'000;

struct MixOptions {
  std::optional<Endpoint> http;
  std::optional<Endpoint> binary;
  std::string token;
  std::size_t connections = 64;
  double seconds = 10;
  double warmup = 1;
  std::size_t batch = 1;
  std::size_t pipeline = 4;
  double rate = 0;  // Operations per second over all connections; 0: as fast as possible.
  std::string csv;
  std::string label;
  std::uint64_t users = 1'000'000;
  std::uint64_t payers = 10'000;
  std::uint64_t merchants = 10'000;
  std::array<double, kKindCount> mix = {60, 20, 10, 5, 5};
  std::uint64_t seed = 42;
  transport::TlsClientOptions tls;  // --tls-ca FILE: both protocols over TLS, verified.
};

std::array<double, kKindCount> ParseMix(const std::string& value) {
  std::array<double, kKindCount> mix{};
  static constexpr std::string_view kNames[kKindCount] = {"change", "settle", "grant",
                                                          "refund_payout", "query"};
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t end = std::min(value.find(',', start), value.size());
    const std::string item = value.substr(start, end - start);
    const std::size_t equals = item.find('=');
    if (equals == std::string::npos) Usage("--mix wants name=percent,...");
    const auto name = std::string_view(item).substr(0, equals);
    const auto found = std::find(std::begin(kNames), std::end(kNames), name);
    if (found == std::end(kNames)) Usage(("--mix: unknown kind " + std::string(name)).c_str());
    mix[static_cast<std::size_t>(found - std::begin(kNames))] =
        ParseNumber<double>("--mix", item.substr(equals + 1));
    start = end + 1;
  }
  return mix;
}

// One answered operation (or a binary batch of `count` commands) for the statistics.
struct Sample {
  std::uint32_t second;  // Since the measured run started.
  float latency_ms;
  std::uint32_t count;
};

struct Tally {
  std::vector<Sample> commands;
  std::vector<double> query_ms;
  std::array<std::uint64_t, kKindCount> ok{};
  std::array<std::uint64_t, kKindCount> failed{};
  std::map<std::string, std::uint64_t> errors;  // code -> count
  std::vector<std::uint64_t> errors_per_second;
  std::vector<std::uint64_t> queries_per_second;

  void Query(std::uint32_t second, double ms) {
    query_ms.push_back(ms);
    if (queries_per_second.size() <= second) queries_per_second.resize(second + 1);
    ++queries_per_second[second];
  }

  void Error(const std::string& code, std::uint32_t second, Kind kind, std::uint64_t count = 1) {
    errors[code] += count;
    failed[kind] += count;
    if (errors_per_second.size() <= second) errors_per_second.resize(second + 1);
    errors_per_second[second] += count;
  }
};

// A settled order this connection may refund.
struct Order {
  std::string id;
  std::string merchant;
  std::int64_t gross;
};

// Generates one connection's operations.
class Generator {
 public:
  Generator(const MixOptions& options, std::string run, std::size_t connection)
      : options_(options),
        run_(std::move(run)),
        connection_(connection),
        rng_(options.seed * 1'000'003 + connection) {
    double total = 0;
    for (const double share : options.mix) total += share;
    double cumulative = 0;
    for (std::size_t k = 0; k < kKindCount; ++k) {
      cumulative += options.mix[k] / total;
      cumulative_[k] = cumulative;
    }
  }

  Kind NextKind() {
    const double draw = std::uniform_real_distribution<double>(0, 1)(rng_);
    for (std::size_t k = 0; k < kKindCount; ++k) {
      if (draw < cumulative_[k]) return static_cast<Kind>(k);
    }
    return kChange;
  }

  std::string QueryTarget() { return "/v1/accounts/user:" + std::to_string(User()); }

  // The command of a kind other than kQuery. `order` is set for a settlement (to remember it
  // once accepted).
  commands::Command Next(Kind kind, std::optional<Order>* order) {
    commands::Command command;
    command.context.idempotency_key = Key();
    switch (kind) {
      case kChange: {
        const bool debit = Uniform(10) == 0;
        command.body = commands::ChangeAsset{
            .account = "user:" + std::to_string(debit ? Uniform(options_.payers) : User()),
            .asset = "CNY",
            .amount = debit ? -Amount(1, 500) : Amount(100, 50'000),
            .source = debit ? "spend" : "topup",
            .counterparty = std::nullopt,
            .reason = debit ? "purchase" : "top-up",
            .ref = "mix",
            .expected_version = std::nullopt};
        break;
      }
      case kSettle: {
        static constexpr std::array<std::pair<const char*, const char*>, 4> kSplits = {{
            {"platform:fees", "commission"},
            {"host:", "host_commission"},
            {"platform:share", "platform_share"},
            {"platform:tech", "technical_service_fee"},
        }};
        static constexpr std::int64_t kBps[] = {300, 100, 50, 20};
        commands::SettleOrder settle{
            .order_id = run_ + "-o" + std::to_string(connection_) + "-" + std::to_string(++serial_),
            .merchant = "merchant:" + std::to_string(Uniform(options_.merchants)),
            .payer = "user:" + std::to_string(Uniform(options_.payers)),
            .asset = "CNY",
            .gross = Amount(100, 100'000),
            .splits = {},
            .occurred_at_us = std::nullopt};
        const std::size_t splits = 2 + Uniform(3);
        for (std::size_t i = 0; i < splits; ++i) {
          std::string to = kSplits[i].first;
          if (i == 1) to += std::to_string(Uniform(1'000));
          settle.splits.push_back(
              {.to = std::move(to), .kind = kSplits[i].second, .bps = kBps[i], .amount = {}});
        }
        *order = Order{settle.order_id, settle.merchant, settle.gross};
        command.body = std::move(settle);
        break;
      }
      case kGrant:
        command.body = commands::GrantVoucher{
            .campaign_id = CampaignId(Uniform(kCampaigns)),
            .grant_id = run_ + "-g" + std::to_string(connection_) + "-" + std::to_string(++serial_),
            .user = "user:" + std::to_string(User())};
        break;
      default:
        if (!orders_.empty() && Uniform(2) == 0) {
          const Order refunded = orders_.front();
          orders_.pop_front();
          command.body = commands::RefundOrder{
              .order_id = refunded.id, .refund_id = "r1",
              .amount = std::max<std::int64_t>(1, refunded.gross / 10)};
        } else if (paid_.empty()) {
          // No merchant known to hold funds yet (the first answers are still on their way).
          return Next(kChange, order);
        } else {
          const std::string merchant = paid_[Uniform(paid_.size())];
          command.body = commands::PayOut{
              .payout_id = run_ + "-p" + std::to_string(connection_) + "-" +
                           std::to_string(++serial_),
              .merchant = merchant, .asset = "CNY", .amount = Amount(1, 50),
              .bank_account = "b-" + merchant.substr(9), .expected_version = std::nullopt};
        }
        break;
    }
    return command;
  }

  // An accepted settlement: refundable once, and its merchant can be paid out.
  void Settled(const Order& order) {
    if (orders_.size() >= 1'024) orders_.pop_front();
    orders_.push_back(order);
    if (paid_.size() < 1'024) paid_.push_back(order.merchant);
  }

  std::string CampaignId(std::uint64_t k) const { return run_ + "-c" + std::to_string(k); }
  std::string Key() { return run_ + "-k" + std::to_string(connection_) + "-" + std::to_string(++serial_); }
  std::uint64_t Uniform(std::uint64_t n) {
    return std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_);
  }

 private:
  std::uint64_t User() { return Uniform(options_.users); }
  std::int64_t Amount(std::int64_t low, std::int64_t high) {
    return std::uniform_int_distribution<std::int64_t>(low, high)(rng_);
  }

  const MixOptions& options_;
  const std::string run_;
  const std::size_t connection_;
  std::mt19937_64 rng_;
  std::array<double, kKindCount> cumulative_{};
  std::uint64_t serial_ = 0;
  std::deque<Order> orders_;
  std::vector<std::string> paid_;
};

// --- HTTP form of a command -------------------------------------------------------------------

struct HttpCall {
  std::string target;
  std::string body;
};

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

HttpCall ToHttp(const commands::Command& command) {
  if (const auto* c = std::get_if<commands::ChangeAsset>(&command.body)) {
    return {"/v1/assets/changes",
            "{\"account\":" + Quoted(c->account) + ",\"asset\":" + Quoted(c->asset) +
                ",\"amount\":" + std::to_string(c->amount) + ",\"source\":" + Quoted(c->source) +
                ",\"reason\":" + Quoted(c->reason) + ",\"ref\":" + Quoted(c->ref) + "}"};
  }
  if (const auto* c = std::get_if<commands::SettleOrder>(&command.body)) {
    std::string splits;
    for (const auto& split : c->splits) {
      if (!splits.empty()) splits += ',';
      splits += "{\"to\":" + Quoted(split.to) + ",\"kind\":" + Quoted(split.kind) +
                ",\"bps\":" + std::to_string(split.bps.value_or(0)) + "}";
    }
    return {"/v1/settlements",
            "{\"order_id\":" + Quoted(c->order_id) + ",\"merchant\":" + Quoted(c->merchant) +
                ",\"payer\":" + Quoted(c->payer) + ",\"asset\":" + Quoted(c->asset) +
                ",\"gross\":" + std::to_string(c->gross) + ",\"splits\":[" + splits + "]}"};
  }
  if (const auto* c = std::get_if<commands::GrantVoucher>(&command.body)) {
    return {"/v1/campaigns/" + c->campaign_id + "/grants",
            "{\"grant_id\":" + Quoted(c->grant_id) + ",\"user\":" + Quoted(c->user) + "}"};
  }
  if (const auto* c = std::get_if<commands::RefundOrder>(&command.body)) {
    return {"/v1/settlements/" + c->order_id + "/refunds",
            "{\"refund_id\":" + Quoted(c->refund_id) + ",\"amount\":" + std::to_string(c->amount) +
                "}"};
  }
  if (const auto* c = std::get_if<commands::PayOut>(&command.body)) {
    return {"/v1/payouts",
            "{\"payout_id\":" + Quoted(c->payout_id) + ",\"merchant\":" + Quoted(c->merchant) +
                ",\"asset\":" + Quoted(c->asset) + ",\"amount\":" + std::to_string(c->amount) +
                ",\"bank_account\":" + Quoted(c->bank_account) + "}"};
  }
  if (const auto* c = std::get_if<commands::CreateCampaign>(&command.body)) {
    return {"/v1/campaigns",
            "{\"campaign_id\":" + Quoted(c->campaign_id) +
                ",\"kind\":\"coupon\",\"asset\":" + Quoted(c->asset) +
                ",\"unit_amount\":" + std::to_string(c->unit_amount) +
                ",\"budget\":" + std::to_string(c->budget) +
                ",\"per_user_limit\":" + std::to_string(c->per_user_limit) +
                ",\"valid_from\":\"2020-01-01T00:00:00Z\",\"valid_until\":\"2099-01-01T00:00:00Z\""
                ",\"funding_account\":" + Quoted(c->funding_account) + "}"};
  }
  Die("ledger-bench mix: no HTTP form for this command");
}

// The "error.code" of an error response body, or the status.
std::string HttpErrorCode(const transport::HttpResponse& response) {
  rapidjson::Document document;
  document.Parse(response.body().c_str());
  if (!document.HasParseError() && document.IsObject() && document.HasMember("error") &&
      document["error"].IsObject() && document["error"].HasMember("code")) {
    return document["error"]["code"].GetString();
  }
  return "http_" + std::to_string(response.result_int());
}

std::unique_ptr<transport::HttpClient> HttpConnect(const MixOptions& options) {
  const Endpoint& endpoint = *options.http;
  auto client = transport::HttpClient::Connect(endpoint.host, endpoint.port, options.tls);
  if (!client) Die("cannot connect to " + endpoint.host + ":" + std::to_string(endpoint.port) +
                   ": " + client.error().message);
  return std::move(*client);
}

std::unique_ptr<transport::BinaryClient> BinaryConnect(const MixOptions& options) {
  auto client = transport::BinaryClient::Connect(
      {.host = options.binary->host, .port = options.binary->port, .token = options.token,
       .timeout = std::chrono::milliseconds(60'000), .tls = options.tls});
  if (!client) Die("cannot connect (binary protocol): " + client.error().message);
  return std::move(*client);
}

// --- Set-up ------------------------------------------------------------------------------------

// The campaigns and the funded payers, through the protocol under test.
void SetUp(const MixOptions& options, const std::string& run) {
  std::vector<commands::Command> setup;
  Generator names(options, run, 0);
  for (std::size_t k = 0; k < kCampaigns; ++k) {
    commands::Command command;
    command.context.idempotency_key = run + "-setup-c" + std::to_string(k);
    command.body = commands::CreateCampaign{.campaign_id = names.CampaignId(k),
                                            .kind = CampaignKind::kCoupon,
                                            .asset = "coupon:" + names.CampaignId(k),
                                            .unit_amount = 500,
                                            .budget = 1'000'000'000'000,
                                            .per_user_limit = 1'000,
                                            .valid_from_us = 1'577'836'800'000'000,
                                            .valid_until_us = 4'070'908'800'000'000,
                                            .funding_account = "external:marketing"};
    setup.push_back(std::move(command));
  }
  for (std::uint64_t payer = 0; payer < options.payers; ++payer) {
    commands::Command command;
    command.context.idempotency_key = run + "-setup-p" + std::to_string(payer);
    command.body = commands::ChangeAsset{.account = "user:" + std::to_string(payer),
                                         .asset = "CNY",
                                         .amount = kPayerFunds,
                                         .source = "topup",
                                         .counterparty = std::nullopt,
                                         .reason = "bench funding",
                                         .ref = "setup",
                                         .expected_version = std::nullopt};
    setup.push_back(std::move(command));
  }
  std::uint64_t failed = 0;
  std::string first_error;
  if (options.binary) {
    auto client = BinaryConnect(options);
    const std::size_t chunk = std::min<std::size_t>(client->batch_commands_max(), 4'096);
    for (std::size_t start = 0; start < setup.size(); start += chunk) {
      const std::size_t end = std::min(setup.size(), start + chunk);
      auto reply = client->Execute(std::span(setup).subspan(start, end - start));
      if (!reply) Die("set-up failed: " + reply.error().message);
      if (reply->refused) Die("set-up batch refused: " + reply->refused->message);
      for (const auto& result : reply->replies) {
        if (!result.accepted && failed++ == 0) first_error = result.code + ": " + result.message;
      }
    }
  } else {
    // Spread over a few connections: the set-up is not measured, only waited for.
    const std::size_t threads = std::min<std::size_t>(options.connections, 16);
    std::atomic<std::uint64_t> failures{0};
    std::mutex error_mutex;
    std::vector<std::thread> workers;
    for (std::size_t t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        auto client = HttpConnect(options);
        for (std::size_t i = t; i < setup.size(); i += threads) {
          const HttpCall call = ToHttp(setup[i]);
          auto response = client->Send("POST", call.target, call.body, options.token,
                                       {{"Idempotency-Key", setup[i].context.idempotency_key}});
          if (!response) Die("set-up failed: " + response.error().message);
          if (response->result_int() >= 300) {
            if (failures++ == 0) {
              std::lock_guard lock(error_mutex);
              first_error = HttpErrorCode(*response) + ": " + response->body();
            }
          }
        }
      });
    }
    for (auto& worker : workers) worker.join();
    failed = failures.load();
  }
  if (failed > 0) Die("set-up: " + std::to_string(failed) + " commands failed, first: " + first_error);
}

// --- Running -----------------------------------------------------------------------------------

struct Run {
  const MixOptions& options;
  std::string run;
  SteadyClock::time_point measure_from;
  SteadyClock::time_point stop_at;
  std::atomic<bool> stop{false};

  std::uint32_t SecondOf(SteadyClock::time_point t) const {
    return static_cast<std::uint32_t>(
        std::chrono::duration<double>(t - measure_from).count());
  }
  bool Measured(SteadyClock::time_point t) const { return t >= measure_from && t < stop_at; }
};

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Paces a connection at `per_second` operations: the scheduled start of the next one.
class Pacer {
 public:
  explicit Pacer(double per_second) : interval_(per_second > 0 ? 1.0 / per_second : 0) {}
  SteadyClock::time_point Next(std::size_t operations) {
    const auto now = SteadyClock::now();
    if (interval_ <= 0) return now;
    if (next_ == SteadyClock::time_point{}) next_ = now;
    const auto scheduled = next_;
    next_ += std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(interval_ * static_cast<double>(operations)));
    if (scheduled > now) std::this_thread::sleep_until(scheduled);
    return scheduled;
  }

 private:
  double interval_;
  SteadyClock::time_point next_{};
};

void HttpConnection(Run& run, std::size_t connection, Tally& tally) {
  const MixOptions& options = run.options;
  auto client = HttpConnect(options);
  Generator generator(options, run.run, connection);
  Pacer pacer(options.rate / static_cast<double>(options.connections));
  while (!run.stop.load(std::memory_order_relaxed)) {
    const Kind kind = generator.NextKind();
    const auto started = pacer.Next(1);
    std::optional<Order> order;
    Result<transport::HttpResponse> response;
    if (kind == kQuery) {
      response = client->Send("GET", generator.QueryTarget(), {}, options.token);
    } else {
      const commands::Command command = generator.Next(kind, &order);
      const HttpCall call = ToHttp(command);
      response = client->Send("POST", call.target, call.body, options.token,
                              {{"Idempotency-Key", command.context.idempotency_key}});
    }
    const auto finished = SteadyClock::now();
    if (!response) Die("HTTP request failed: " + response.error().message);
    // A query for a user who holds nothing answers 404 account_not_found: a valid answer (most
    // users hold nothing, as the wallet article says), not an error.
    const bool ok = response->result_int() < 300 ||
                    (kind == kQuery && response->result_int() == 404);
    if (ok && order) generator.Settled(*order);
    if (!run.Measured(finished)) continue;
    const std::uint32_t second = run.SecondOf(finished);
    if (!ok) {
      tally.Error(HttpErrorCode(*response), second, kind);
      continue;
    }
    ++tally.ok[kind];
    if (kind == kQuery) {
      tally.Query(second, Ms(finished - started));
    } else {
      tally.commands.push_back({second, static_cast<float>(Ms(finished - started)), 1});
    }
  }
}

// One binary connection: --pipeline batches of --batch commands in flight; the queries of the
// mix go over HTTP (when --http is given) while the batches travel.
void BinaryConnection(Run& run, std::size_t connection, Tally& tally) {
  const MixOptions& options = run.options;
  auto client = BinaryConnect(options);
  std::unique_ptr<transport::HttpClient> http;
  if (options.http) http = HttpConnect(options);
  Generator generator(options, run.run, connection);
  Pacer pacer(options.rate / static_cast<double>(options.connections));
  struct InFlight {
    SteadyClock::time_point started;
    std::vector<Kind> kinds;
    std::vector<std::optional<Order>> orders;
  };
  std::deque<InFlight> in_flight;
  const std::size_t window = std::min(options.pipeline, client->batches_in_flight_max());
  std::vector<commands::Command> batch;
  std::vector<std::string> queries;
  const auto receive_one = [&] {
    auto reply = client->Receive();
    const auto finished = SteadyClock::now();
    if (!reply) Die("binary batch failed: " + reply.error().message);
    InFlight sent = std::move(in_flight.front());
    in_flight.pop_front();
    const bool measured = run.Measured(finished);
    const std::uint32_t second = run.SecondOf(finished);
    if (reply->refused) {
      if (!measured) return;
      for (const Kind kind : sent.kinds) tally.Error(reply->refused->code, second, kind);
      return;
    }
    std::uint32_t accepted = 0;
    for (std::size_t i = 0; i < reply->replies.size(); ++i) {
      const auto& result = reply->replies[i];
      if (result.accepted && sent.orders[i]) generator.Settled(*sent.orders[i]);
      if (!measured) continue;
      if (result.accepted) {
        ++tally.ok[sent.kinds[i]];
        ++accepted;
      } else {
        tally.Error(result.code, second, sent.kinds[i]);
      }
    }
    if (measured && accepted > 0) {
      tally.commands.push_back({second, static_cast<float>(Ms(finished - sent.started)), accepted});
    }
  };
  while (!run.stop.load(std::memory_order_relaxed)) {
    batch.clear();
    queries.clear();
    InFlight sent;
    while (batch.size() < options.batch) {
      const Kind kind = generator.NextKind();
      if (kind == kQuery) {
        if (http) queries.push_back(generator.QueryTarget());
        continue;
      }
      std::optional<Order> order;
      batch.push_back(generator.Next(kind, &order));
      sent.kinds.push_back(kind);
      sent.orders.push_back(std::move(order));
    }
    sent.started = pacer.Next(batch.size() + queries.size());
    auto id = client->Send(batch);
    if (!id) Die("binary send failed: " + id.error().message);
    in_flight.push_back(std::move(sent));
    for (const std::string& target : queries) {
      const auto started = SteadyClock::now();
      auto response = http->Send("GET", target, {}, options.token);
      const auto finished = SteadyClock::now();
      if (!response) Die("HTTP query failed: " + response.error().message);
      if (!run.Measured(finished)) continue;
      if (response->result_int() >= 300 && response->result_int() != 404) {
        tally.Error(HttpErrorCode(*response), run.SecondOf(finished), kQuery);
      } else {
        ++tally.ok[kQuery];
        tally.Query(run.SecondOf(finished), Ms(finished - started));
      }
    }
    if (in_flight.size() >= window) receive_one();
  }
  while (!in_flight.empty()) receive_one();
}

// Projection lag: the head from GET /v1/projections, then the time until every projection
// reached it. Samples: (second, ms).
void SampleLag(Run& run, std::vector<std::pair<std::uint32_t, double>>& samples) {
  if (!run.options.http) return;
  auto client = HttpConnect(run.options);
  const auto read = [&](std::uint64_t* head, std::uint64_t* slowest) {
    auto response = client->Send("GET", "/v1/projections", {}, run.options.token);
    if (!response || response->result_int() != 200) return false;
    rapidjson::Document document;
    document.Parse(response->body().c_str());
    if (document.HasParseError() || !document.IsObject()) return false;
    *head = document["head"].GetUint64();
    *slowest = *head;
    for (const auto& projection : document["projections"].GetArray()) {
      *slowest = std::min(*slowest, projection["position"].GetUint64());
    }
    return true;
  };
  while (!run.stop.load(std::memory_order_relaxed)) {
    std::uint64_t head = 0;
    std::uint64_t slowest = 0;
    const auto started = SteadyClock::now();
    if (!read(&head, &slowest)) return;
    while (slowest < head && !run.stop.load(std::memory_order_relaxed)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      std::uint64_t ignored = 0;
      if (!read(&ignored, &slowest)) return;
    }
    const auto finished = SteadyClock::now();
    if (run.Measured(started) && run.Measured(finished)) {
      samples.emplace_back(run.SecondOf(finished), Ms(finished - started));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Percentile of samples weighted by their count.
double WeightedPercentile(std::vector<Sample>& samples, double fraction) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.latency_ms < b.latency_ms; });
  std::uint64_t total = 0;
  for (const Sample& sample : samples) total += sample.count;
  const double rank = fraction * static_cast<double>(total);
  std::uint64_t seen = 0;
  for (const Sample& sample : samples) {
    seen += sample.count;
    if (static_cast<double>(seen) >= rank) return sample.latency_ms;
  }
  return samples.back().latency_ms;
}

int RunMix(const MixOptions& options) {
  const std::string run_id = [&] {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "b%llx",
                  static_cast<unsigned long long>(
                      std::chrono::system_clock::now().time_since_epoch().count() & 0xffffffffff));
    return std::string(buffer);
  }();
  const std::string protocol = options.binary ? "binary" : "http";
  const Endpoint& target = options.binary ? *options.binary : *options.http;
  std::printf("mix over %s %s:%u: %zu connections", protocol.c_str(), target.host.c_str(),
              static_cast<unsigned>(target.port), options.connections);
  if (options.binary) std::printf(", batch %zu, pipeline %zu", options.batch, options.pipeline);
  std::printf(", %.0f s measured after %.0f s warm-up, rate %s, run %s\n", options.seconds,
              options.warmup,
              options.rate > 0 ? (std::to_string(static_cast<long long>(options.rate)) + "/s").c_str()
                               : "unlimited",
              run_id.c_str());
  std::printf("mix: change %.0f%%, settle %.0f%%, grant %.0f%%, refund/payout %.0f%%, query %.0f%%%s\n",
              options.mix[kChange], options.mix[kSettle], options.mix[kGrant],
              options.mix[kRefundPayout], options.mix[kQuery],
              options.binary && !options.http && options.mix[kQuery] > 0
                  ? " (queries skipped: --binary without --http)"
                  : "");
  const auto setup_started = SteadyClock::now();
  SetUp(options, run_id);
  std::printf("set-up: %zu campaigns, %llu funded payers in %.1f s\n", kCampaigns,
              static_cast<unsigned long long>(options.payers),
              std::chrono::duration<double>(SteadyClock::now() - setup_started).count());
  std::fflush(stdout);

  const auto now = SteadyClock::now();
  const auto measure_from =
      now + std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(options.warmup));
  Run run{.options = options,
          .run = run_id,
          .measure_from = measure_from,
          .stop_at = measure_from + std::chrono::duration_cast<SteadyClock::duration>(
                                        std::chrono::duration<double>(options.seconds))};
  std::vector<Tally> tallies(options.connections);
  std::vector<std::thread> threads;
  for (std::size_t c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      if (options.binary) {
        BinaryConnection(run, c, tallies[c]);
      } else {
        HttpConnection(run, c, tallies[c]);
      }
    });
  }
  std::vector<std::pair<std::uint32_t, double>> lag;
  std::thread sampler([&] { SampleLag(run, lag); });
  std::this_thread::sleep_until(run.stop_at);
  run.stop.store(true);
  for (auto& thread : threads) thread.join();
  sampler.join();

  // Merge.
  Tally all;
  for (Tally& tally : tallies) {
    all.commands.insert(all.commands.end(), tally.commands.begin(), tally.commands.end());
    all.query_ms.insert(all.query_ms.end(), tally.query_ms.begin(), tally.query_ms.end());
    for (std::size_t k = 0; k < kKindCount; ++k) {
      all.ok[k] += tally.ok[k];
      all.failed[k] += tally.failed[k];
    }
    for (const auto& [code, count] : tally.errors) all.errors[code] += count;
    if (all.errors_per_second.size() < tally.errors_per_second.size()) {
      all.errors_per_second.resize(tally.errors_per_second.size());
    }
    for (std::size_t s = 0; s < tally.errors_per_second.size(); ++s) {
      all.errors_per_second[s] += tally.errors_per_second[s];
    }
    if (all.queries_per_second.size() < tally.queries_per_second.size()) {
      all.queries_per_second.resize(tally.queries_per_second.size());
    }
    for (std::size_t s = 0; s < tally.queries_per_second.size(); ++s) {
      all.queries_per_second[s] += tally.queries_per_second[s];
    }
  }
  std::uint64_t answered = 0;
  std::uint64_t failed = 0;
  std::printf("%-14s %12s %10s\n", "operation", "ok", "errors");
  for (std::size_t k = 0; k < kKindCount; ++k) {
    std::printf("%-14s %12llu %10llu\n", kKindNames[k], static_cast<unsigned long long>(all.ok[k]),
                static_cast<unsigned long long>(all.failed[k]));
    answered += all.ok[k];
    failed += all.failed[k];
  }
  if (!all.errors.empty()) {
    std::printf("errors by code:");
    for (const auto& [code, count] : all.errors) {
      std::printf(" %s=%llu", code.c_str(), static_cast<unsigned long long>(count));
    }
    std::printf("\n");
  }
  std::sort(all.query_ms.begin(), all.query_ms.end());
  std::vector<double> lag_ms;
  for (const auto& [second, ms] : lag) lag_ms.push_back(ms);
  std::sort(lag_ms.begin(), lag_ms.end());
  std::vector<Sample> samples = all.commands;
  const double p50 = WeightedPercentile(samples, 0.50);
  const double p99 = WeightedPercentile(samples, 0.99);
  const double p999 = WeightedPercentile(samples, 0.999);
  std::printf("throughput: %.0f commands/s\n", static_cast<double>(answered) / options.seconds);
  std::printf("errors: %.0f/s (%llu in all)\n", static_cast<double>(failed) / options.seconds,
              static_cast<unsigned long long>(failed));
  std::printf("latency_ms: p50=%.3f p99=%.3f p999=%.3f\n", p50, p99, p999);
  if (!all.query_ms.empty()) {
    std::printf("query_latency_ms: p50=%.3f p99=%.3f\n", Percentile(all.query_ms, 0.5),
                Percentile(all.query_ms, 0.99));
  }
  if (!lag_ms.empty()) {
    std::printf("projection_lag_ms: p50=%.1f p99=%.1f max=%.1f (%zu samples)\n",
                Percentile(lag_ms, 0.5), Percentile(lag_ms, 0.99), lag_ms.back(), lag_ms.size());
  } else {
    std::printf("projection_lag_ms: not measured (needs --http)\n");
  }

  if (!options.csv.empty()) {
    std::FILE* file = std::fopen(options.csv.c_str(), "w");
    if (file == nullptr) Die("cannot write " + options.csv);
    std::fprintf(file, "system,second,commands_per_s,errors,p50_ms,p99_ms,p999_ms,lag_ms\n");
    const std::string label = options.label.empty() ? "ledgerd-" + protocol : options.label;
    const auto seconds = static_cast<std::uint32_t>(options.seconds);
    std::vector<std::vector<Sample>> by_second(seconds);
    std::vector<std::uint64_t> ops(seconds, 0);
    for (const Sample& sample : all.commands) {
      if (sample.second < seconds) by_second[sample.second].push_back(sample);
    }
    std::vector<double> lag_max(seconds, -1);
    for (const auto& [second, ms] : lag) {
      if (second < seconds) lag_max[second] = std::max(lag_max[second], ms);
    }
    for (std::uint32_t s = 0; s < seconds; ++s) {
      // Operations answered in this second, queries included, as in the throughput line.
      std::uint64_t count = s < all.queries_per_second.size() ? all.queries_per_second[s] : 0;
      for (const Sample& sample : by_second[s]) count += sample.count;
      const std::uint64_t errors = s < all.errors_per_second.size() ? all.errors_per_second[s] : 0;
      std::fprintf(file, "%s,%u,%llu,%llu,%.3f,%.3f,%.3f,", label.c_str(), s + 1,
                   static_cast<unsigned long long>(count), static_cast<unsigned long long>(errors),
                   WeightedPercentile(by_second[s], 0.5), WeightedPercentile(by_second[s], 0.99),
                   WeightedPercentile(by_second[s], 0.999));
      if (lag_max[s] >= 0) std::fprintf(file, "%.1f", lag_max[s]);
      std::fprintf(file, "\n");
    }
    std::fclose(file);
    std::printf("csv: %s\n", options.csv.c_str());
  }
  return 0;
}

}  // namespace

int RunRawCommand(std::span<char* const> args) {
  std::string data;
  double seconds = 10;
  int rounds = 1;
  std::size_t batch = 4'096;
  std::string csv;
  std::string label = "rocksdb-raw";
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--data") {
      data = value;
    } else if (flag == "--seconds") {
      seconds = ParseNumber<double>(flag, value);
    } else if (flag == "--rounds") {
      rounds = ParseNumber<int>(flag, value);
    } else if (flag == "--batch") {
      batch = ParseNumber<std::size_t>(flag, value);
    } else if (flag == "--csv") {
      csv = value;
    } else if (flag == "--label") {
      label = value;
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (seconds < 1 || rounds < 1 || batch == 0) Usage("raw flags out of range");
  const TempOrGiven base(data, "raw");
  std::vector<double> rates;
  std::vector<std::vector<std::uint64_t>> all_seconds;
  for (int round = 1; round <= rounds; ++round) {
    const std::string path = base.path() + "/raw-" + std::to_string(round);
    std::vector<std::uint64_t> seconds_of_round;
    const double rate = RawRocksDbRound(path, seconds, batch, &seconds_of_round);
    std::filesystem::remove_all(path);
    std::printf("round %d: raw rocksdb %.0f puts/s (sync batches of %zu 200-byte values)\n",
                round, rate, batch);
    rates.push_back(rate);
    all_seconds.push_back(std::move(seconds_of_round));
  }
  const double median = Median(rates);
  std::printf("throughput: %.0f puts/s\n", median);
  if (!csv.empty()) {
    // The round whose rate is closest to the median.
    std::size_t best = 0;
    for (std::size_t i = 1; i < rates.size(); ++i) {
      if (std::abs(rates[i] - median) < std::abs(rates[best] - median)) best = i;
    }
    std::FILE* file = std::fopen(csv.c_str(), "w");
    if (file == nullptr) Die("cannot write " + csv);
    std::fprintf(file, "system,second,commands_per_s,errors,p50_ms,p99_ms,p999_ms,lag_ms\n");
    const auto whole = static_cast<std::size_t>(seconds);
    for (std::size_t s = 0; s < whole && s < all_seconds[best].size(); ++s) {
      std::fprintf(file, "%s,%zu,%llu,0,,,,\n", label.c_str(), s + 1,
                   static_cast<unsigned long long>(all_seconds[best][s]));
    }
    std::fclose(file);
    std::printf("csv: %s\n", csv.c_str());
  }
  return 0;
}

int RunMixCommand(std::span<char* const> args) {
  MixOptions options;
  bool batch_given = false;
  bool connections_given = false;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--http") {
      options.http = ParseEndpoint(flag, value);
    } else if (flag == "--binary") {
      options.binary = ParseEndpoint(flag, value);
    } else if (flag == "--tls-ca") {
      options.tls = {.enabled = true, .ca_file = value};
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--connections") {
      options.connections = ParseNumber<std::size_t>(flag, value);
      connections_given = true;
    } else if (flag == "--seconds") {
      options.seconds = ParseNumber<double>(flag, value);
    } else if (flag == "--warmup") {
      options.warmup = ParseNumber<double>(flag, value);
    } else if (flag == "--batch") {
      options.batch = ParseNumber<std::size_t>(flag, value);
      batch_given = true;
    } else if (flag == "--pipeline") {
      options.pipeline = ParseNumber<std::size_t>(flag, value);
    } else if (flag == "--rate") {
      options.rate = ParseNumber<double>(flag, value);
    } else if (flag == "--csv") {
      options.csv = value;
    } else if (flag == "--label") {
      options.label = value;
    } else if (flag == "--users") {
      options.users = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--payers") {
      options.payers = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--merchants") {
      options.merchants = ParseNumber<std::uint64_t>(flag, value);
    } else if (flag == "--mix") {
      options.mix = ParseMix(value);
    } else if (flag == "--seed") {
      options.seed = ParseNumber<std::uint64_t>(flag, value);
    } else {
      Usage(("unknown flag " + flag).c_str());
    }
  }
  if (!options.http && !options.binary) Usage("mix needs --http HOST:PORT or --binary HOST:PORT");
  if (options.token.empty()) Usage("mix needs --token");
  if (options.binary) {
    if (!batch_given) options.batch = 1'024;
    if (!connections_given) options.connections = 4;
  } else if (options.batch != 1) {
    Usage("--batch applies to --binary; over HTTP each command is one request");
  }
  double mix_total = 0;
  for (const double share : options.mix) mix_total += share;
  if (options.mix[kQuery] >= mix_total) Usage("--mix needs some commands besides queries");
  if (options.connections == 0 || options.connections > 4'096 || options.seconds < 1 ||
      options.warmup < 0 || options.batch == 0 || options.batch > kBinaryBatchCommandsMax ||
      options.pipeline == 0 || options.rate < 0 || options.users == 0 || options.payers == 0 ||
      options.payers > options.users || options.merchants == 0) {
    Usage("mix flags out of range");
  }
  return RunMix(options);
}

}  // namespace ledger::bench
