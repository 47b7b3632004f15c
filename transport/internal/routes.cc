#include "transport/internal/routes.h"

#include "transport/url.h"

namespace ledger::transport::internal {
namespace {

using boost::beast::http::verb;

constexpr Route kRoutes[] = {
    {RouteId::kHealthz, "/healthz", verb::get, "", false},
    {RouteId::kMetrics, "/metrics", verb::get, ""},
    {RouteId::kEvents, "/v1/events", verb::get, ""},
    {RouteId::kEvent, "/v1/events/{position}", verb::get, ""},
    {RouteId::kStreamEvents, "/v1/streams/{stream*}/events", verb::get, ""},
    {RouteId::kChangeAsset, "/v1/assets/changes", verb::post, "ChangeAsset"},
    {RouteId::kTransfer, "/v1/transfers", verb::post, "Transfer"},
    {RouteId::kSettleOrder, "/v1/settlements", verb::post, "SettleOrder"},
    {RouteId::kRefundOrder, "/v1/settlements/{order_id}/refunds", verb::post, "RefundOrder"},
    {RouteId::kPayOut, "/v1/payouts", verb::post, "PayOut"},
    {RouteId::kOpenAccount, "/v1/accounts", verb::post, "OpenAccount"},
    {RouteId::kCreateCampaign, "/v1/campaigns", verb::post, "CreateCampaign"},
    {RouteId::kGrantVoucher, "/v1/campaigns/{campaign_id}/grants", verb::post, "GrantVoucher"},
    {RouteId::kRedeemVoucher, "/v1/campaigns/{campaign_id}/redemptions", verb::post,
     "RedeemVoucher"},
    {RouteId::kProjections, "/v1/projections", verb::get, "", true, true},
    // Before {account*} alone, which would swallow ".../entries".
    {RouteId::kAccountEntries, "/v1/accounts/{account*}/entries", verb::get, "", true, true},
    {RouteId::kAccount, "/v1/accounts/{account*}", verb::get, "", true, true},
    {RouteId::kWallet, "/v1/wallets/{account*}", verb::get, "", true, true},
    {RouteId::kStatements, "/v1/merchants/{merchant*}/statements", verb::get, "", true, true},
    {RouteId::kHoldersCheck, "/v1/holders/_check", verb::post, "", true, true},
    {RouteId::kHolder, "/v1/holders/{account*}", verb::get, "", true, true},
    // Elasticsearch-compatible routes (http_api_search.cc). The saved reports come before
    // "/{index}/...", which would take "_reports" for an index; no pattern here has a literal
    // second segment that a /v1/ route uses, so "/v1/..." never reaches these.
    {RouteId::kElasticInfo, "/", verb::get, "", true, true, true},
    {RouteId::kElasticInfoHead, "/", verb::head, "", true, true, true},
    {RouteId::kReports, "/_reports", verb::get, "", true, true, true},
    {RouteId::kReport, "/_reports/{name}", verb::get, "", true, true, true},
    {RouteId::kPutReport, "/_reports/{name}", verb::put, "", true, true, true},
    {RouteId::kDeleteReport, "/_reports/{name}", verb::delete_, "", true, true, true},
    {RouteId::kSearch, "/{index}/_search", verb::get, "", true, true, true},
    {RouteId::kSearch, "/{index}/_search", verb::post, "", true, true, true},
    {RouteId::kCount, "/{index}/_count", verb::get, "", true, true, true},
    {RouteId::kCount, "/{index}/_count", verb::post, "", true, true, true},
    {RouteId::kMapping, "/{index}/_mapping", verb::get, "", true, true, true},
};

bool IsParam(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool IsGreedy(std::string_view segment) { return IsParam(segment) && segment.ends_with("*}"); }

// Matches escaped `segments` against `pattern`; on success appends the raw (escaped) parameter
// segments, one group per parameter.
bool MatchSegments(const std::vector<std::string_view>& pattern,
                   const std::vector<std::string_view>& segments,
                   std::vector<std::vector<std::string_view>>* params) {
  if (segments.size() < pattern.size()) return false;
  const std::size_t extra = segments.size() - pattern.size();
  std::size_t at = 0;
  for (const std::string_view part : pattern) {
    const std::size_t take = IsGreedy(part) ? extra + 1 : 1;
    if (!IsGreedy(part) && !IsParam(part) && part != segments[at]) return false;
    if (IsParam(part)) {
      std::vector<std::string_view> group(
          segments.begin() + static_cast<std::ptrdiff_t>(at),
          segments.begin() + static_cast<std::ptrdiff_t>(at + take));
      for (const std::string_view segment : group) {
        if (segment.empty()) return false;
      }
      params->push_back(std::move(group));
    }
    at += take;
  }
  return at == segments.size();
}

Result<std::string> DecodeGroup(const std::vector<std::string_view>& group) {
  std::string joined;
  for (const std::string_view segment : group) {
    auto decoded = PercentDecode(segment);
    if (!decoded) return std::unexpected(decoded.error());
    if (!joined.empty()) joined.push_back('/');
    joined += *decoded;
  }
  return joined;
}

}  // namespace

std::span<const Route> Routes() { return kRoutes; }

Result<RouteMatch> MatchRoute(std::string_view path, verb method) {
  const std::vector<std::string_view> segments = SplitPath(path);
  RouteMatch match;
  for (const Route& route : kRoutes) {
    std::vector<std::vector<std::string_view>> groups;
    if (!MatchSegments(SplitPath(route.pattern), segments, &groups)) continue;
    if (route.method != method) {
      const auto name = boost::beast::http::to_string(route.method);  // A static string.
      const std::string allowed(name.data(), name.size());
      if (match.allow.find(allowed) == std::string::npos) {
        match.allow += match.allow.empty() ? allowed : ", " + allowed;
      }
      continue;
    }
    match.route = &route;
    for (const auto& group : groups) {
      auto decoded = DecodeGroup(group);
      if (!decoded) return std::unexpected(decoded.error());
      match.params.push_back(std::move(*decoded));
    }
    return match;
  }
  return match;
}

bool IsElasticPath(std::string_view path) {
  if (!path.starts_with('/')) return false;  // Not a path (e.g. unparsable HTTP): not "/".
  const std::vector<std::string_view> segments = SplitPath(path);
  for (const Route& route : kRoutes) {
    std::vector<std::vector<std::string_view>> groups;
    if (route.elastic && MatchSegments(SplitPath(route.pattern), segments, &groups)) return true;
  }
  return false;
}

}  // namespace ledger::transport::internal
