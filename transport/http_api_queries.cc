// The query endpoints of HttpApi: read models only, never the write path. Every query accepts
// min_position (and timeout_ms): it waits, without blocking an io thread, until the projection
// it reads has applied that position, else answers 504 with the position reached.
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/field.hpp>
#include <map>

#include "ledger/limits.h"
#include "projections/entries_projection.h"
#include "projections/statements_projection.h"
#include "projections/wallets_projection.h"
#include "transport/http_api.h"
#include "transport/internal/json_fields.h"
#include "transport/internal/json_write.h"
#include "transport/internal/query_request.h"
#include "transport/internal/routes.h"
#include "transport/rfc3339.h"
#include "transport/url.h"

namespace ledger::transport {

using projections::ProjectionId;
using projections::ProjectionRunner;

namespace {

namespace http = boost::beast::http;
using internal::BoolField;
using internal::Field;
using internal::Key;
using internal::Str;
using internal::TimeField;
using internal::UnsignedField;

constexpr std::string_view kMinPosition = "min_position";
constexpr std::string_view kTimeoutMs = "timeout_ms";

Error BadQuery(std::string message) {
  return MakeError(ErrorKind::kInvalidArgument, "invalid_argument", std::move(message));
}

// The query parameters each query route accepts (min_position and timeout_ms for all but
// /v1/projections).
std::span<const std::string_view> AllowedParams(RouteId route) {
  static constexpr std::string_view kWaitOnly[] = {kMinPosition, kTimeoutMs};
  static constexpr std::string_view kEntries[] = {"asset", "cursor", "limit", kMinPosition,
                                                  kTimeoutMs};
  static constexpr std::string_view kStatements[] = {"period", "from",       "to",
                                                     "asset",  kMinPosition, kTimeoutMs};
  // The Elasticsearch-compatible routes (docs/search.md).
  static constexpr std::string_view kPrettyOnly[] = {"pretty"};
  static constexpr std::string_view kSearch[] = {"from",       "size",     "track_total_hits",
                                                 kMinPosition, kTimeoutMs, "pretty"};
  static constexpr std::string_view kWaitAndPretty[] = {kMinPosition, kTimeoutMs, "pretty"};
  switch (route) {
    case RouteId::kProjections:
    case RouteId::kElasticInfoHead:
    case RouteId::kDeleteReport:
      return {};
    case RouteId::kElasticInfo:
    case RouteId::kMapping:
    case RouteId::kReports:
    case RouteId::kPutReport:
      return kPrettyOnly;
    case RouteId::kSearch:
      return kSearch;
    case RouteId::kCount:
    case RouteId::kReport:
      return kWaitAndPretty;
    case RouteId::kAccountEntries:
      return kEntries;
    case RouteId::kStatements:
      return kStatements;
    default:
      return kWaitOnly;
  }
}

// The projection a query route reads (and waits for).
ProjectionId ProjectionOf(RouteId route) {
  switch (route) {
    case RouteId::kAccount:
      return ProjectionId::kAccounts;
    case RouteId::kAccountEntries:
      return ProjectionId::kEntries;
    case RouteId::kWallet:
      return ProjectionId::kWallets;
    case RouteId::kStatements:
      return ProjectionId::kStatements;
    case RouteId::kHolder:
    case RouteId::kHoldersCheck:
      return ProjectionId::kHolders;
    case RouteId::kSearch:
    case RouteId::kCount:
    case RouteId::kReport:
      return ProjectionId::kSearch;
    default:
      break;
  }
  LEDGER_ASSERT(false && "not a query route with a projection");
  return ProjectionId::kAccounts;
}

// Takes min_position and timeout_ms out of `query`.
Status ParseWait(std::map<std::string, std::string, std::less<>>* query,
                 std::uint64_t* min_position, std::int64_t* timeout_ms) {
  if (auto it = query->find(kMinPosition); it != query->end()) {
    if (!ParseUnsigned(it->second, min_position)) {
      return std::unexpected(BadQuery("min_position must be an unsigned integer"));
    }
    query->erase(it);
  }
  if (auto it = query->find(kTimeoutMs); it != query->end()) {
    std::uint64_t timeout = 0;
    if (!ParseUnsigned(it->second, &timeout) ||
        timeout > static_cast<std::uint64_t>(kQueryWaitMaxMs)) {
      return std::unexpected(
          BadQuery("timeout_ms must be an integer from 0 to " + std::to_string(kQueryWaitMaxMs)));
    }
    *timeout_ms = static_cast<std::int64_t>(timeout);
    query->erase(it);
  }
  return Ok();
}

// 504: the projection did not reach min_position in time; says where it is.
HttpResponse NotReachedResponse(std::string_view projection, std::uint64_t reached,
                                std::uint64_t min_position, std::int64_t timeout_ms) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Key(writer, "error");
  writer.StartObject();
  Field(writer, "code", "position_not_reached");
  Field(writer, "message",
        "projection " + std::string(projection) + " reached position " + std::to_string(reached) +
            ", not " + std::to_string(min_position) + ", within " + std::to_string(timeout_ms) +
            " ms");
  writer.EndObject();
  UnsignedField(writer, "position", reached);
  writer.EndObject();
  return JsonResponse(HttpStatus::gateway_timeout, internal::BufferText(buffer));
}

void LastChangeField(JsonWriter& writer, std::uint64_t position, TimestampUs at_us) {
  Key(writer, "last_change");
  writer.StartObject();
  UnsignedField(writer, "position", position);
  TimeField(writer, "at", at_us);
  writer.EndObject();
}

void WalletAssetsField(JsonWriter& writer, std::string_view name,
                       const std::vector<projections::WalletAsset>& assets) {
  Key(writer, name);
  writer.StartArray();
  for (const projections::WalletAsset& asset : assets) {
    writer.StartObject();
    Field(writer, "asset", asset.asset);
    Field(writer, "balance", asset.balance);
    LastChangeField(writer, asset.last_position, asset.last_change_us);
    writer.EndObject();
  }
  writer.EndArray();
}

void WalletCouponsField(JsonWriter& writer, const std::vector<projections::WalletCoupon>& coupons) {
  Key(writer, "coupons");
  writer.StartArray();
  for (const projections::WalletCoupon& coupon : coupons) {
    writer.StartObject();
    Field(writer, "campaign_id", coupon.campaign_id);
    Field(writer, "asset", coupon.asset);
    Field(writer, "balance", coupon.balance);
    Field(writer, "count", coupon.count);
    Field(writer, "unit_amount", coupon.unit_amount);
    TimeField(writer, "valid_from", coupon.valid_from_us);
    TimeField(writer, "valid_until", coupon.valid_until_us);
    LastChangeField(writer, coupon.last_position, coupon.last_change_us);
    writer.EndObject();
  }
  writer.EndArray();
}

// {"account", "position", "served_by", "cash", "coupons", "other"}.
std::string WalletToJson(std::string_view account, std::uint64_t position,
                         std::string_view served_by, const projections::Wallet& wallet) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "account", account);
  UnsignedField(writer, "position", position);
  Field(writer, "served_by", served_by);
  WalletAssetsField(writer, "cash", wallet.cash);
  WalletCouponsField(writer, wallet.coupons);
  WalletAssetsField(writer, "other", wallet.other);
  writer.EndObject();
  return internal::BufferText(buffer);
}

Error NotAUserAccount(std::string_view account) {
  return MakeError(ErrorKind::kInvalidArgument, "not_a_user_account",
                   "the holders cache covers accounts user:<n> with n a decimal from 0 to "
                   "4294967295; '" +
                       std::string(account.substr(0, kIdBytesMax)) + "' is not one");
}

// The user ids of POST /v1/holders/_check's {"accounts": [...]}, 1..kHoldersCheckAccountsMax.
Result<std::vector<std::uint32_t>> ParseHoldersCheck(std::string_view body,
                                                     std::vector<std::string>* accounts) {
  auto document = internal::ParseJsonDocument(body);
  if (!document) return std::unexpected(document.error());
  std::optional<Error> error;
  internal::JsonFields fields(*document, "", {"accounts"}, error);
  const rapidjson::Value* list = fields.Array("accounts");
  if (error) return std::unexpected(*error);
  if (list->Empty() || list->Size() > kHoldersCheckAccountsMax) {
    return std::unexpected(BadQuery("accounts must hold 1 to " +
                                    std::to_string(kHoldersCheckAccountsMax) + " account ids"));
  }
  std::vector<std::uint32_t> users;
  users.reserve(list->Size());
  for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
    const rapidjson::Value& item = (*list)[i];
    if (!item.IsString()) {
      return std::unexpected(BadQuery("accounts[" + std::to_string(i) + "] must be a string"));
    }
    const std::string_view account(item.GetString(), item.GetStringLength());
    const auto user = projections::UserIdOf(account);
    if (!user) {
      Error bad = NotAUserAccount(account);
      bad.message = "accounts[" + std::to_string(i) + "]: " + bad.message;
      return std::unexpected(std::move(bad));
    }
    users.push_back(*user);
    accounts->emplace_back(account);
  }
  return users;
}

// A statements bound: "2026", "2026-11", "2026-11-21" (the start of that year, month or day,
// UTC) or an RFC 3339 timestamp.
Result<TimestampUs> ParseStatementBound(std::string_view name, std::string_view text) {
  using namespace std::chrono;
  auto bad = [&] {
    return Fail(
        ErrorKind::kInvalidArgument, "invalid_argument",
        std::string(name) + " must be YYYY, YYYY-MM, YYYY-MM-DD (UTC) or an RFC 3339 timestamp");
  };
  if (text.empty()) return bad();
  if (text.size() > 10) {
    auto timestamp = ParseRfc3339(text);
    if (!timestamp) return bad();
    return *timestamp;
  }
  unsigned parts[3] = {0, 1, 1};
  const std::size_t widths[3] = {4, 2, 2};
  std::size_t at = 0;
  for (std::size_t i = 0; i < 3 && at < text.size(); ++i) {
    if (i > 0 && text[at++] != '-') return bad();
    const std::string_view digits = text.substr(at, widths[i]);
    std::uint64_t value = 0;
    if (digits.size() != widths[i] || !ParseUnsigned(digits, &value)) return bad();
    parts[i] = static_cast<unsigned>(value);
    at += widths[i];
  }
  if (at != text.size()) return bad();
  const year_month_day date{year{static_cast<int>(parts[0])}, month{parts[1]}, day{parts[2]}};
  if (!date.ok()) return bad();
  return duration_cast<microseconds>(sys_days{date}.time_since_epoch()).count();
}

std::string EntriesToJson(std::string_view account, std::string_view asset,
                          const projections::EntriesPage& page) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "account", account);
  if (!asset.empty()) Field(writer, "asset", asset);
  UnsignedField(writer, "position", page.position);
  Key(writer, "entries");
  writer.StartArray();
  for (const projections::Entry& entry : page.entries) {
    writer.StartObject();
    UnsignedField(writer, "position", entry.position);
    UnsignedField(writer, "index", entry.index);
    Field(writer, "type", EventTypeName(entry.type));
    TimeField(writer, "recorded_at", entry.recorded_at_us);
    Field(writer, "asset", entry.asset);
    Field(writer, "amount", entry.amount);
    Field(writer, "counterparty", entry.counterparty);
    Field(writer, "balance_after", entry.balance_after);
    writer.EndObject();
  }
  writer.EndArray();
  Key(writer, "next_cursor");
  if (page.next_cursor.empty()) {
    writer.Null();
  } else {
    Str(writer, page.next_cursor);
  }
  writer.EndObject();
  return internal::BufferText(buffer);
}

void StatementRowJson(JsonWriter& writer, const projections::StatementRow& row) {
  writer.StartObject();
  Field(writer, "period", row.period);
  TimeField(writer, "start", row.start_us);
  TimeField(writer, "end", row.end_us);
  Field(writer, "asset", row.asset);
  Field(writer, "opening", row.opening);
  Field(writer, "income", row.income);
  Field(writer, "other_items", row.other_items);
  Key(writer, "other_items_by_kind");
  writer.StartObject();
  for (const auto& [kind, amount] : row.other_items_by_kind) Field(writer, kind, amount);
  writer.EndObject();
  Field(writer, "expenditure", row.expenditure);
  Field(writer, "closing", row.closing);
  UnsignedField(writer, "orders", row.orders);
  writer.EndObject();
}

}  // namespace

void HttpApi::HandleQuery(const Route& route, const Params& params, const HttpRequest& request,
                          const Client& client, const boost::asio::any_io_executor& executor,
                          Respond& respond) {
  if (!client.CanQuery()) {
    return respond(ErrorResponse(MakeError(ErrorKind::kPermissionDenied, "forbidden",
                                           "queries need the reader or admin role")));
  }
  if (!options_.serve_queries && route.id != RouteId::kProjections) {
    return respond(ErrorResponse(MakeError(ErrorKind::kPermissionDenied, "wrong_role",
                                           "this ledgerd runs --role " + options_.role +
                                               " and keeps no projections: query a reader")));
  }
  const std::string_view target(request.target().data(), request.target().size());
  if (route.elastic) {
    auto checked = CheckElasticParams(target, AllowedParams(route.id));
    if (!checked) return respond(ErrorResponse(checked.error()));
  }
  auto parsed = ParseQuery(SplitTarget(target).query, AllowedParams(route.id));
  if (!parsed) return respond(ErrorResponse(parsed.error()));
  auto query = std::make_shared<QueryRequest>();
  query->route = route.id;
  query->params = params;
  for (auto& [name, value] : *parsed) query->query.emplace(std::move(name), std::move(value));
  if (auto wait = ParseWait(&query->query, &query->min_position, &query->timeout_ms); !wait) {
    return respond(ErrorResponse(wait.error()));
  }
  query->body = request.body();
  if (route.id == RouteId::kProjections) return respond(Projections());
  if (route.elastic) return HandleElastic(std::move(query), request, executor, respond);
  AwaitPosition(std::move(query), executor, respond);
}

void HttpApi::AwaitPosition(std::shared_ptr<const QueryRequest> query,
                            const boost::asio::any_io_executor& executor, Respond& respond) {
  ProjectionRunner& runner = read_models_.Runner(ProjectionOf(query->route));
  if (query->min_position == 0 || runner.Checkpoint() >= query->min_position ||
      query->timeout_ms == 0) {
    return respond(AnswerQuery(*query));
  }
  // The connection's executor is a strand: the timer and the wake-up never run at once.
  struct Wait {
    explicit Wait(const boost::asio::any_io_executor& executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    bool done = false;
    std::uint64_t waiter_id = 0;
    Respond respond;
  };
  auto wait = std::make_shared<Wait>(executor);
  wait->respond = std::move(respond);
  auto finish = [this, wait, query] {
    if (wait->done) return;
    wait->done = true;
    wait->timer.cancel();
    wait->respond(AnswerQuery(*query));
  };
  auto waiter = runner.WhenReached(query->min_position, [executor, finish](std::uint64_t) {
    boost::asio::post(executor, finish);
  });
  if (!waiter) return wait->respond(ErrorResponse(waiter.error()));
  if (!waiter->has_value()) return finish();  // Reached (or failed) in the meantime.
  wait->waiter_id = **waiter;
  wait->timer.expires_after(std::chrono::milliseconds(query->timeout_ms));
  wait->timer.async_wait([this, wait, query, &runner](const boost::system::error_code& error) {
    if (error || wait->done) return;
    wait->done = true;
    runner.CancelWait(wait->waiter_id);
    wait->respond(AnswerQuery(*query));
  });
}

HttpResponse HttpApi::AnswerQuery(const QueryRequest& query) const {
  const ProjectionId id = ProjectionOf(query.route);
  const ProjectionRunner& runner = read_models_.Runner(id);
  const std::uint64_t reached = runner.Checkpoint();
  if (reached < query.min_position) {
    if (auto failure = runner.Failure()) {
      return ErrorResponse(MakeError(ErrorKind::kUnavailable, "projection_failed",
                                     "projection " + std::string(read_models_.Name(id)) +
                                         " stopped at position " + std::to_string(reached) + ": " +
                                         failure->message));
    }
    return NotReachedResponse(read_models_.Name(id), reached, query.min_position, query.timeout_ms);
  }
  return RunQuery(query);
}

HttpResponse HttpApi::RunQuery(const QueryRequest& query) const {
  switch (query.route) {
    case RouteId::kAccount:
      return Account(query);
    case RouteId::kAccountEntries:
      return AccountEntries(query);
    case RouteId::kWallet:
      return Wallet(query);
    case RouteId::kStatements:
      return Statements(query);
    case RouteId::kHolder:
      return Holder(query);
    case RouteId::kHoldersCheck:
      return HoldersCheck(query);
    case RouteId::kSearch:
      return Search(query);
    case RouteId::kCount:
      return Count(query);
    case RouteId::kReport:
      return RunReport(query);
    default:
      break;
  }
  LEDGER_ASSERT(false && "RunQuery called for a route that is not a query");
  return {};
}

HttpResponse HttpApi::Projections() const {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  UnsignedField(writer, "head", store_.HeadPosition());
  Key(writer, "projections");
  writer.StartArray();
  if (options_.serve_queries) {
    for (const projections::ProjectionStatus& status : read_models_.Statuses()) {
      writer.StartObject();
      Field(writer, "name", status.name);
      UnsignedField(writer, "position", status.position);
      UnsignedField(writer, "lag",
                    status.head > status.position ? status.head - status.position : 0);
      Field(writer, "state", status.failure ? "failed" : "running");
      if (status.failure) Field(writer, "error", status.failure->message);
      writer.EndObject();
    }
  }
  writer.EndArray();
  // The publisher to NATS, or a replica's feed from it.
  Key(writer, "feeds");
  writer.StartArray();
  if (options_.feeds) {
    for (const FeedStatus& feed : options_.feeds()) {
      writer.StartObject();
      Field(writer, "name", feed.name);
      UnsignedField(writer, "position", feed.position);
      UnsignedField(writer, "lag", feed.lag);
      Field(writer, "state", feed.state);
      if (feed.error) Field(writer, "error", feed.error->message);
      writer.EndObject();
    }
  }
  writer.EndArray();
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, internal::BufferText(buffer));
}

HttpResponse HttpApi::Account(const QueryRequest& query) const {
  const std::string& account = query.params.at(0);
  auto view = projections::AccountsProjection::Read(
      read_models_.db(), read_models_.Family(ProjectionId::kAccounts), account);
  if (!view) return ErrorResponse(view.error());
  const std::uint64_t position = view->position;
  if (!view->account) {
    return ErrorResponse(MakeError(
        ErrorKind::kNotFound, "account_not_found",
        "account " + account + " has no events up to position " + std::to_string(position)));
  }
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "account", account);
  UnsignedField(writer, "version", view->account->version);
  UnsignedField(writer, "last_position", view->account->last_position);
  Key(writer, "balances");
  writer.StartArray();
  for (const auto& [asset, balance] : view->account->balances) {
    writer.StartObject();
    Field(writer, "asset", asset);
    Field(writer, "balance", balance);
    writer.EndObject();
  }
  writer.EndArray();
  UnsignedField(writer, "position", position);
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, internal::BufferText(buffer));
}

HttpResponse HttpApi::AccountEntries(const QueryRequest& query) const {
  const std::string& account = query.params.at(0);
  std::size_t limit = kEntriesPageDefault;
  if (query.Has("limit")) {
    std::uint64_t value = 0;
    if (!ParseUnsigned(query.Param("limit"), &value) || value < 1 || value > kEntriesPageMax) {
      return ErrorResponse(
          BadQuery("limit must be an integer from 1 to " + std::to_string(kEntriesPageMax)));
    }
    limit = static_cast<std::size_t>(value);
  }
  auto page = projections::EntriesProjection::Read(
      read_models_.db(), read_models_.Family(ProjectionId::kEntries), account, query.Param("asset"),
      query.Param("cursor"), limit);
  if (!page) return ErrorResponse(page.error());
  return JsonResponse(HttpStatus::ok, EntriesToJson(account, query.Param("asset"), *page));
}

HttpResponse HttpApi::Statements(const QueryRequest& query) const {
  const std::string& merchant = query.params.at(0);
  const std::string_view period_name = query.Has("period") ? query.Param("period") : "day";
  const auto period = projections::StatementPeriodFromName(period_name);
  if (!period) return ErrorResponse(BadQuery("period must be day, month or year"));
  if (!query.Has("from") || !query.Has("to")) {
    return ErrorResponse(BadQuery("from and to are required (e.g. from=2026-11-01&to=2026-11-30)"));
  }
  auto from = ParseStatementBound("from", query.Param("from"));
  if (!from) return ErrorResponse(from.error());
  auto to = ParseStatementBound("to", query.Param("to"));
  if (!to) return ErrorResponse(to.error());
  auto page = projections::StatementsProjection::Read(
      read_models_.db(), read_models_.Family(ProjectionId::kStatements), merchant, *period, *from,
      *to, query.Param("asset"));
  if (!page) return ErrorResponse(page.error());
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "merchant", merchant);
  Field(writer, "period", period_name);
  TimeField(writer, "from", *from);
  TimeField(writer, "to", *to);
  UnsignedField(writer, "position", page->position);
  Key(writer, "statements");
  writer.StartArray();
  for (const projections::StatementRow& row : page->rows) StatementRowJson(writer, row);
  writer.EndArray();
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, internal::BufferText(buffer));
}

HttpResponse HttpApi::Wallet(const QueryRequest& query) const {
  const std::string& account = query.params.at(0);
  // The wallet article's first-level cache: a user outside the holders bitmap holds nothing,
  // so the answer needs no store read, provided the bitmap is as recent as the caller asks.
  if (const auto user = projections::UserIdOf(account)) {
    const projections::HoldersAnswer answer = read_models_.holders().Check(*user);
    if (!answer.has_assets && answer.position >= query.min_position) {
      return JsonResponse(HttpStatus::ok,
                          WalletToJson(account, answer.position, "holders_bitmap", {}));
    }
  }
  auto read = projections::WalletsProjection::Read(
      read_models_.db(), read_models_.Family(ProjectionId::kWallets), account);
  if (!read) return ErrorResponse(read.error());
  return JsonResponse(HttpStatus::ok,
                      WalletToJson(account, read->position, "wallets", read->wallet));
}

HttpResponse HttpApi::Holder(const QueryRequest& query) const {
  const std::string& account = query.params.at(0);
  const auto user = projections::UserIdOf(account);
  if (!user) return ErrorResponse(NotAUserAccount(account));
  const projections::HoldersAnswer answer = read_models_.holders().Check(*user);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  Field(writer, "account", account);
  BoolField(writer, "has_assets", answer.has_assets);
  UnsignedField(writer, "position", answer.position);
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, internal::BufferText(buffer));
}

HttpResponse HttpApi::HoldersCheck(const QueryRequest& query) const {
  std::vector<std::string> accounts;
  auto users = ParseHoldersCheck(query.body, &accounts);
  if (!users) return ErrorResponse(users.error());
  std::uint64_t position = 0;
  const std::vector<bool> holds = read_models_.holders().CheckMany(*users, &position);
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  writer.StartObject();
  UnsignedField(writer, "position", position);
  Key(writer, "accounts");
  writer.StartArray();
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    writer.StartObject();
    Field(writer, "account", accounts[i]);
    BoolField(writer, "has_assets", holds[i]);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
  return JsonResponse(HttpStatus::ok, internal::BufferText(buffer));
}

}  // namespace ledger::transport
