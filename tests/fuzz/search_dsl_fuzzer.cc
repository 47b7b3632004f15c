// libFuzzer target: the Elasticsearch-compatible search DSL (transport/search_dsl.h), the
// largest parser facing readers. Input: one selector byte, then a request body. Selector bit 0
// picks the index (settlements, entries); bit 1 parses a _count body instead of a _search one.
//
// Checks: no crash, no sanitizer finding, no unbounded work (libFuzzer's -timeout and
// -rss_limit_mb catch those); every refusal carries a code and a message; an accepted search
// stays inside the result window.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "ledger/limits.h"
#include "ledger/status.h"
#include "transport/search_dsl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace ledger;
  if (size == 0) return 0;
  const auto index = (data[0] & 1) != 0 ? projections::SearchIndexId::kEntries
                                        : projections::SearchIndexId::kSettlements;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 2) != 0) {
    auto query = transport::ParseCountBody(body);
    if (!query) LEDGER_ASSERT(!query.error().code.empty() && !query.error().message.empty());
    return 0;
  }
  auto call = transport::ParseSearch(index, body);
  if (!call) {
    LEDGER_ASSERT(!call.error().code.empty() && !call.error().message.empty());
    return 0;
  }
  LEDGER_ASSERT(std::uint64_t{call->request.from} + call->request.size <= kSearchWindowMax);
  return 0;
}
