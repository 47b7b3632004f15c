// The HTTP API without the sockets: routes a complete request to its handler, authenticates and
// authorizes it, decodes it, and either answers from the store (reads) or submits a command to
// the sequencer (writes). Endpoints, roles and error codes: transport/README.md.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "transport/auth.h"
#include "transport/http_response.h"

namespace ledger::transport {

// Receives the response to one request. Called exactly once.
using Respond = std::function<void(HttpResponse)>;

enum class RouteId : std::uint8_t {
  kHealthz,
  kMetrics,
  kEvents,
  kEvent,
  kStreamEvents,
  kChangeAsset,
  kTransfer,
  kSettleOrder,
  kRefundOrder,
  kPayOut,
  kOpenAccount,
  kCreateCampaign,
  kGrantVoucher,
  kRedeemVoucher,
  // Queries of the read models (http_api_queries.cc).
  kProjections,
  kAccount,
  kAccountEntries,
  kWallet,
  kStatements,
  kHolder,
  kHoldersCheck,
  // The Elasticsearch-compatible search API (http_api_search.cc, docs/search.md).
  kElasticInfo,
  kElasticInfoHead,
  kSearch,
  kCount,
  kMapping,
  kReports,
  kReport,
  kPutReport,
  kDeleteReport,
};

struct Route;
class SearchReports;

// Something besides the projections that follows the log (the NATS publisher, a replica's
// feed), listed by GET /v1/projections.
struct FeedStatus {
  std::string name;
  std::uint64_t position = 0;
  std::uint64_t lag = 0;
  std::string state;
  std::optional<Error> error;
};

// What this ledgerd serves (--role): commands (writer, all), queries (reader, all).
struct HttpApiOptions {
  bool serve_commands = true;
  bool serve_queries = true;
  std::string role = "all";  // Named in the wrong_role error.
  // Called (thread-safe) by GET /v1/projections.
  std::function<std::vector<FeedStatus>()> feeds;
};

class HttpApi {
 public:
  // A monotonic clock in microseconds, for rate limiting.
  using MonotonicClock = std::function<std::int64_t()>;

  // `store`, `sequencer`, `metrics` and `auth` must outlive the HttpApi and every request in
  // flight. `now` defaults to std::chrono::steady_clock.
  HttpApi(Store& store, commands::Sequencer& sequencer, projections::ReadModels& read_models,
          Metrics& metrics, const Authenticator& auth, MonotonicClock now = {},
          HttpApiOptions options = {});
  ~HttpApi();
  HttpApi(const HttpApi&) = delete;
  HttpApi& operator=(const HttpApi&) = delete;

  // Handles one complete request. `respond` runs exactly once on `executor`: directly inside
  // Handle for requests answered at once, or posted to `executor` when the sequencer completes
  // a command (never on the sequencer's threads). `request` is only used before Handle returns.
  // Thread-safe.
  void Handle(const HttpRequest& request, const boost::asio::any_io_executor& executor,
              Respond respond);

  // The largest body a request to `target` with `method` may carry.
  [[nodiscard]] static std::size_t BodyBytesMax(std::string_view target,
                                                boost::beast::http::verb method);

  // A response the connection produced itself (413, 431, 400 on unparsable HTTP) for a request
  // to `target`, in the form of that path's responses: Elasticsearch's shape on the search
  // routes, unchanged elsewhere.
  [[nodiscard]] static HttpResponse ShapeProtocolResponse(std::string_view target,
                                                          HttpResponse response);

  // The metrics label of the route `target` maps to ("/v1/events/{position}"), or "unmatched".
  [[nodiscard]] static std::string_view RouteLabel(std::string_view target);

 private:
  using Params = std::vector<std::string>;

  void Dispatch(const Route& route, const Params& params, const HttpRequest& request,
                const boost::asio::any_io_executor& executor, Respond& respond);
  // Reads (http_api_reads.cc).
  [[nodiscard]] HttpResponse HandleRead(const Route& route, const Params& params,
                                        std::string_view query);
  [[nodiscard]] HttpResponse Healthz() const;
  [[nodiscard]] HttpResponse MetricsText() const;
  [[nodiscard]] HttpResponse Events(std::string_view query) const;
  [[nodiscard]] HttpResponse EventAt(std::string_view position) const;
  [[nodiscard]] HttpResponse StreamEvents(const std::string& stream, std::string_view query) const;
  // Queries (http_api_queries.cc): wait for min_position without blocking, then answer.
  struct QueryRequest;
  void HandleQuery(const Route& route, const Params& params, const HttpRequest& request,
                   const Client& client, const boost::asio::any_io_executor& executor,
                   Respond& respond);
  void AwaitPosition(std::shared_ptr<const QueryRequest> query,
                     const boost::asio::any_io_executor& executor, Respond& respond);
  // Answers `query` once its wait is over (or was not needed).
  [[nodiscard]] HttpResponse AnswerQuery(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse RunQuery(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse Projections() const;
  [[nodiscard]] HttpResponse Account(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse AccountEntries(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse Wallet(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse Statements(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse Holder(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse HoldersCheck(const QueryRequest& query) const;
  // The Elasticsearch-compatible routes (http_api_search.cc): GET|HEAD /, /{index}/_search,
  // /{index}/_count, /{index}/_mapping, /_reports[/{name}].
  // Refuses a query parameter not in `allowed` with Elasticsearch's error.
  [[nodiscard]] static Status CheckElasticParams(std::string_view target,
                                                 std::span<const std::string_view> allowed);
  void HandleElastic(std::shared_ptr<QueryRequest> query, const HttpRequest& request,
                     const boost::asio::any_io_executor& executor, Respond& respond);
  // Parses the body of _search/_count into query.search; the refusal if it is bad.
  [[nodiscard]] std::optional<HttpResponse> PrepareSearch(QueryRequest& query) const;
  [[nodiscard]] HttpResponse Search(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse Count(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse RunReport(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse ListReports(const QueryRequest& query) const;
  [[nodiscard]] HttpResponse PutReport(const QueryRequest& query, const HttpRequest& request);
  [[nodiscard]] HttpResponse DeleteReport(const QueryRequest& query);
  // Writes (http_api_commands.cc).
  void HandleCommand(const Route& route, const Params& params, const HttpRequest& request,
                     const Client& client, const boost::asio::any_io_executor& executor,
                     Respond& respond);
  void Submit(const Route& route, commands::Command command,
              const boost::asio::any_io_executor& executor, Respond& respond);
  void CountCommand(std::string_view type, std::string_view outcome, const std::string& client_id);
  void CountRequest(std::string_view route, unsigned status,
                    std::chrono::steady_clock::time_point start);

  Store& store_;
  commands::Sequencer& sequencer_;
  projections::ReadModels& read_models_;
  Metrics& metrics_;
  const Authenticator& auth_;
  MonotonicClock now_;
  const HttpApiOptions options_;
  std::unique_ptr<SearchReports> reports_;  // Saved search reports (search_reports.h).
};

}  // namespace ledger::transport
