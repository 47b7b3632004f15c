// libFuzzer target: HTTP request handling. Input: the bytes a client sends on a connection.
// They are parsed by Beast's request parser with the server's limits (header, body per route),
// and a complete request goes to the real HttpApi, over a real Store, Sequencer and
// projections in a temporary data dir: routing, authentication, every decoder, commands,
// queries, the search API. Writes are durable as in ledgerd (put TMPDIR on tmpfs to make the
// syncs cheap: scripts/fuzz.sh does).
//
// Requests with min_position are answered without their wait (the target sets no timeout on
// a wait that the fuzzer's writes may never satisfy): min_position is skipped as input.
//
// Checks: no crash, no sanitizer finding, every request is answered exactly once, with a
// status the API documents (2xx, 4xx, or 503), never 500.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/scratch_dir.h"
#include "ledger/status.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "transport/auth.h"
#include "transport/http_api.h"

namespace {

using namespace ledger;
using namespace ledger::transport;
namespace http = boost::beast::http;

// The seed corpus's tokens (tests/fuzz/corpus/http_requests/).
constexpr std::string_view kTokens =
    "fuzz-writer-token-0123456789 shop writer\n"
    "fuzz-reader-token-0123456789 auditor reader\n"
    "fuzz-admin-token-0123456789 ops admin\n";

// One ledger for the whole run; stopped in order at exit.
struct Ledger {
  Ledger() {
    auto dir = ScratchDir::Create("fuzz-http");
    LEDGER_ASSERT(dir.has_value());
    scratch = std::move(*dir);
    auto opened = Store::Open(
        StoreOptions{.path = scratch.path() + "/data",
                     .extra_column_families = projections::ReadModels::ColumnFamilies(),
                     .point_lookup_families = projections::ReadModels::PointLookupFamilies(),
                     .block_cache_bytes = 8u << 20});
    LEDGER_ASSERT(opened.has_value());
    store = std::move(*opened);
    sequencer = std::make_unique<commands::Sequencer>(*store, clock, metrics);
    LEDGER_ASSERT(sequencer->Start().has_value());
    auto models = projections::ReadModels::Create(*store, metrics);
    LEDGER_ASSERT(models.has_value());
    read_models = std::move(*models);
    LEDGER_ASSERT(read_models->Start().has_value());
    auto parsed = Authenticator::Parse(kTokens, "fuzz tokens", 0);
    LEDGER_ASSERT(parsed.has_value());
    auth = std::move(*parsed);
    api = std::make_unique<HttpApi>(*store, *sequencer, *read_models, metrics, *auth);
  }
  ~Ledger() {
    sequencer->Stop();
    read_models->Stop();
    api.reset();
    read_models.reset();
    sequencer.reset();
    store.reset();
  }

  ScratchDir scratch;
  SystemClock clock;
  Metrics metrics;
  std::unique_ptr<Store> store;
  std::unique_ptr<commands::Sequencer> sequencer;
  std::unique_ptr<projections::ReadModels> read_models;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<HttpApi> api;
  boost::asio::io_context io;
};

Ledger& TheLedger() {
  static Ledger ledger;
  return ledger;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Ledger& ledger = TheLedger();
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kHttpHeaderBytesMax));
  parser.body_limit(std::uint64_t{std::max(kHttpBodyBytesMax, kHttpHoldersCheckBodyBytesMax)});
  parser.eager(true);
  boost::beast::error_code error;
  std::size_t offset = 0;
  while (!parser.is_done() && offset < size) {
    const std::size_t used = parser.put(boost::asio::buffer(data + offset, size - offset), error);
    if (error || used == 0) break;
    offset += used;
  }
  if (error || !parser.is_done()) return 0;  // The server answers 400/413/431 or waits.
  const auto& request = parser.get();
  const std::string_view target(request.target().data(), request.target().size());
  if (request.body().size() > HttpApi::BodyBytesMax(target, request.method())) return 0;
  if (target.find("min_position") != std::string_view::npos) return 0;

  bool answered = false;
  unsigned status = 0;
  auto work = boost::asio::make_work_guard(ledger.io);
  ledger.api->Handle(request, ledger.io.get_executor(), [&](HttpResponse response) {
    LEDGER_ASSERT(!answered);
    answered = true;
    status = response.result_int();
  });
  ledger.io.restart();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!answered) {
    ledger.io.run_one_for(std::chrono::milliseconds(100));
    LEDGER_ASSERT(std::chrono::steady_clock::now() < deadline);
  }
  work.reset();
  ledger.io.poll();
  LEDGER_ASSERT(status >= 200 && status != 500);
  return 0;
}
