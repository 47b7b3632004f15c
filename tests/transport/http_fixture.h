// A real ledger behind a real HTTP server for integration tests: Store in a TempDir, Sequencer,
// HttpServer on 127.0.0.1 port 0, and helpers to talk to it with HttpClient.
#pragma once

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>
#include <string_view>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "tests/support/temp_dir.h"
#include "transport/auth.h"
#include "transport/http_client.h"
#include "transport/http_server.h"

namespace ledger::transport::testing {

inline constexpr std::string_view kWriterToken = "writer-token-0123456789";
inline constexpr std::string_view kReaderToken = "reader-token-0123456789";
inline constexpr std::string_view kAdminToken = "admin-token-0123456789";
inline constexpr std::string_view kLimitedToken = "limited-token-0123456789";
inline constexpr std::string_view kOtherWriterToken = "other-writer-token-0123456789";

inline constexpr std::string_view kTokensFile =
    "# clients of the integration tests\n"
    "writer-token-0123456789 shop writer\n"
    "other-writer-token-0123456789 shop2 writer\n"
    "reader-token-0123456789 auditor reader\n"
    "admin-token-0123456789 ops admin\n"
    "limited-token-0123456789 limited writer rate=0.001/3\n";

// One running ledger on `data_dir`. Start() may be called again after Stop() (a restart).
class LedgerServer {
 public:
  explicit LedgerServer(std::string data_dir, HttpServerOptions options = {},
                        commands::SequencerOptions sequencer_options = {})
      : data_dir_(std::move(data_dir)),
        options_(std::move(options)),
        sequencer_options_(sequencer_options) {
    options_.host = "127.0.0.1";
    options_.port = 0;
    auto auth = Authenticator::Parse(kTokensFile, "test tokens", 0);
    LEDGER_ASSERT(auth.has_value());
    auth_ = std::move(*auth);
  }
  ~LedgerServer() { Stop(); }

  void Start() {
    auto store = Store::Open(
        StoreOptions{.path = data_dir_,
                     .extra_column_families = projections::ReadModels::ColumnFamilies(),
                     .point_lookup_families = projections::ReadModels::PointLookupFamilies()});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    metrics_ = std::make_unique<Metrics>();
    sequencer_ =
        std::make_unique<commands::Sequencer>(*store_, clock_, *metrics_, sequencer_options_);
    auto started = sequencer_->Start();
    ASSERT_TRUE(started.has_value()) << started.error().message;
    auto read_models = projections::ReadModels::Create(*store_, *metrics_);
    ASSERT_TRUE(read_models.has_value()) << read_models.error().message;
    read_models_ = std::move(*read_models);
    auto reading = read_models_->Start();
    ASSERT_TRUE(reading.has_value()) << reading.error().message;
    server_ = std::make_unique<HttpServer>(options_, *store_, *sequencer_, *read_models_,
                                           *metrics_, *auth_);
    auto listening = server_->Start();
    ASSERT_TRUE(listening.has_value()) << listening.error().message;
  }

  // The shutdown order of ledgerd: stop accepting, drain the sequencer, close.
  void Stop() {
    if (server_ == nullptr) return;
    server_->StopAccepting();
    sequencer_->Stop();
    server_->Stop();
    read_models_->Stop();
    server_.reset();
    read_models_.reset();
    sequencer_.reset();
    store_.reset();
  }

  [[nodiscard]] std::unique_ptr<HttpClient> Connect() const {
    auto client = HttpClient::Connect("127.0.0.1", server_->port());
    LEDGER_ASSERT(client.has_value());
    return std::move(*client);
  }

  [[nodiscard]] Store& store() { return *store_; }
  [[nodiscard]] Metrics& metrics() { return *metrics_; }
  [[nodiscard]] HttpServer& server() { return *server_; }
  [[nodiscard]] commands::Sequencer& sequencer() { return *sequencer_; }
  [[nodiscard]] std::uint16_t port() const { return server_->port(); }

 private:
  std::string data_dir_;
  HttpServerOptions options_;
  commands::SequencerOptions sequencer_options_;
  SystemClock clock_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<projections::ReadModels> read_models_;
  std::unique_ptr<HttpServer> server_;
};

// Parses a response body as JSON (failing the test if it is not).
inline rapidjson::Document Json(const HttpResponse& response) {
  rapidjson::Document document;
  document.Parse(response.body().c_str());
  EXPECT_FALSE(document.HasParseError()) << response.body();
  return document;
}

// The "error.code" of an error response, or "" if the body has none.
inline std::string ErrorCode(const HttpResponse& response) {
  rapidjson::Document document;
  document.Parse(response.body().c_str());
  if (document.HasParseError() || !document.IsObject() || !document.HasMember("error")) return "";
  return document["error"]["code"].GetString();
}

// A fixture with one server on a fresh data directory and one client connection.
class HttpTest : public ::testing::Test {
 protected:
  explicit HttpTest(HttpServerOptions options = {}) : server_(dir_.Sub("data"), options) {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(server_.Start());
    client_ = server_.Connect();
  }
  void TearDown() override {
    client_.reset();
    server_.Stop();
  }

  // Sends one request on the fixture's connection; fails the test on a network error.
  HttpResponse Send(std::string_view method, std::string_view target, std::string_view body = {},
                    std::string_view token = kWriterToken,
                    const HttpClient::Headers& headers = {}) {
    auto response = client_->Send(method, target, body, token, headers);
    EXPECT_TRUE(response.has_value()) << (response ? "" : response.error().message);
    return response ? std::move(*response) : HttpResponse{};
  }
  HttpResponse Post(std::string_view target, std::string_view body,
                    std::string_view token = kWriterToken,
                    const HttpClient::Headers& headers = {}) {
    return Send("POST", target, body, token, headers);
  }
  HttpResponse Get(std::string_view target, std::string_view token = kReaderToken) {
    return Send("GET", target, {}, token);
  }
  std::uint64_t Head() { return server_.store().HeadPosition(); }

  // Credits `account` with `amount` of USD from an external source; expects 201.
  std::uint64_t Credit(std::string_view account, std::int64_t amount) {
    const HttpResponse response =
        Post("/v1/assets/changes", R"({"account":")" + std::string(account) +
                                       R"(","asset":"USD","amount":)" + std::to_string(amount) +
                                       R"(,"source":"bank","reason":"deposit","ref":"d"})");
    EXPECT_EQ(response.result_int(), 201u) << response.body();
    return Json(response)["position"].GetUint64();
  }

  ::ledger::testing::TempDir dir_;
  LedgerServer server_;
  std::unique_ptr<HttpClient> client_;
};

}  // namespace ledger::transport::testing
