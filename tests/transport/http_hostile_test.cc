// Hostile and overloading HTTP clients: slow headers (slowloris), slow bodies, idle keep-alive
// connections, clients that stop reading, too many connections, deep and huge JSON, and more
// concurrent writers than the command queue takes. Timeouts and limits come from the server's
// and sequencer's options so each test takes seconds.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/transport/http_fixture.h"

namespace ledger::transport::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A raw TCP connection to the server, for byte-level misbehaviour HttpClient does not do.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    LEDGER_ASSERT(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    LEDGER_ASSERT(::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False once the server has closed the connection (the send fails).
  bool Send(std::string_view bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Sends what the socket takes without blocking; the bytes sent (0 when it would block).
  std::size_t SendSome(std::string_view bytes) {
    const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    return sent > 0 ? static_cast<std::size_t>(sent) : 0;
  }
  // True if the server closed the connection within `timeout` (EOF or reset); data it sends
  // first is read and discarded.
  bool ClosedWithin(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (Clock::now() < deadline) {
      pollfd poll_fd{fd_, POLLIN, 0};
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&poll_fd, 1, static_cast<int>(std::max<long long>(1, left.count()))) <= 0) {
        continue;
      }
      if (::recv(fd_, buffer, sizeof buffer, 0) <= 0) return true;
    }
    return false;
  }

 private:
  int fd_;
};

double OpenConnections(LedgerServer& server) {
  return server.metrics().GetGauge("ledger_http_connections_open", "").Value();
}

// Waits until the server has no open connection; false after `timeout`.
bool NoOpenConnectionsWithin(LedgerServer& server, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (OpenConnections(server) == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string Deposit(int client, int i) {
  return R"({"account":"user:)" + std::to_string(client) +
         R"(","asset":"USD","amount":1,"source":"bank","reason":"load","ref":"c)" +
         std::to_string(client) + "-" + std::to_string(i) + "\"}";
}

HttpServerOptions ShortTimeouts() {
  HttpServerOptions options;
  options.idle_timeout = std::chrono::seconds(1);
  options.read_timeout = std::chrono::seconds(1);
  return options;
}

// A client that sends its request header one byte at a time, slower than the timeout allows
// for the whole header, is closed once idle_timeout has passed since it connected.
TEST(HttpHostileTest, SlowlorisHeaderIsClosed) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), ShortTimeouts());
  ASSERT_NO_FATAL_FAILURE(server.Start());
  RawConnection slow(server.port());
  const std::string header = "POST /v1/assets/changes HTTP/1.1\r\nHost: x\r\nX-Slow: " +
                             std::string(200, 's') + "\r\n\r\n";
  const auto started = Clock::now();
  bool closed = false;
  for (char byte : header) {
    if (!slow.Send(std::string_view(&byte, 1)) ||
        slow.ClosedWithin(std::chrono::milliseconds(100))) {
      closed = true;
      break;
    }
    ASSERT_LT(Clock::now() - started, std::chrono::seconds(10)) << "never closed";
  }
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(closed) << "the whole header went through at one byte per 100 ms";
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::seconds(4));
  EXPECT_TRUE(NoOpenConnectionsWithin(server, std::chrono::seconds(2)));
}

// A complete header, then a body trickling in slower than read_timeout: closed.
TEST(HttpHostileTest, SlowBodyIsClosed) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), ShortTimeouts());
  ASSERT_NO_FATAL_FAILURE(server.Start());
  RawConnection slow(server.port());
  const std::string body = Deposit(1, 1);
  ASSERT_TRUE(slow.Send("POST /v1/assets/changes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                        std::string(kWriterToken) + "\r\nContent-Type: application/json\r\n" +
                        "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n"));
  const auto started = Clock::now();
  bool closed = false;
  for (char byte : body) {
    if (!slow.Send(std::string_view(&byte, 1)) ||
        slow.ClosedWithin(std::chrono::milliseconds(200))) {
      closed = true;
      break;
    }
  }
  ASSERT_TRUE(closed) << "the whole body went through at one byte per 200 ms";
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(4));
  EXPECT_EQ(server.store().HeadPosition(), 0u);
}

// A keep-alive connection that sends nothing after its response is closed after idle_timeout,
// not before.
TEST(HttpHostileTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  ::ledger::testing::TempDir dir;
  HttpServerOptions options;
  options.idle_timeout = std::chrono::seconds(2);
  LedgerServer server(dir.Sub("data"), options);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  auto client = server.Connect();
  auto response = client->Send("GET", "/healthz");
  ASSERT_TRUE(response.has_value());
  ASSERT_TRUE(response->keep_alive());
  const auto answered = Clock::now();
  EXPECT_FALSE(client->ServerClosed(1000)) << "closed before the idle timeout";
  EXPECT_TRUE(client->ServerClosed(4000));
  EXPECT_GE(Clock::now() - answered, std::chrono::milliseconds(1900));
  EXPECT_TRUE(NoOpenConnectionsWithin(server, std::chrono::seconds(2)));
}

// A client that pipelines requests and never reads the answers: the server reads no further
// than the request it answers, its write stalls, and read_timeout closes the connection; the
// client could only push what the socket buffers hold.
TEST(HttpHostileTest, ClientThatStopsReadingIsClosed) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"), ShortTimeouts());
  ASSERT_NO_FATAL_FAILURE(server.Start());
  RawConnection greedy(server.port());
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                              std::string(kAdminToken) + "\r\n\r\n";
  std::string requests;
  for (int i = 0; i < 64; ++i) requests += request;
  std::size_t sent = 0;
  auto last_progress = Clock::now();
  const auto started = Clock::now();
  // Push until the socket takes nothing for 300 ms (the server stopped reading).
  while (Clock::now() - last_progress < std::chrono::milliseconds(300)) {
    ASSERT_LT(Clock::now() - started, std::chrono::seconds(20)) << "the server keeps reading";
    const std::size_t n = greedy.SendSome(requests);
    if (n > 0) {
      sent += n;
      last_progress = Clock::now();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  // Bounded: socket buffers, not the server's memory, hold the backlog.
  EXPECT_LT(sent, std::size_t{64} << 20);
  EXPECT_TRUE(NoOpenConnectionsWithin(server, std::chrono::seconds(5)))
      << "the connection of a client that does not read is still open";
  // The server still serves others.
  auto client = server.Connect();
  auto healthz = client->Send("GET", "/healthz");
  ASSERT_TRUE(healthz.has_value());
  EXPECT_EQ(healthz->result_int(), 200u);
}

// Beyond connections_max: 503 too_many_connections at once, then closed; the open connections
// keep being served, and a slot frees when one closes.
TEST(HttpHostileTest, ConnectionsBeyondTheLimitGet503AndExistingOnesAreServed) {
  ::ledger::testing::TempDir dir;
  HttpServerOptions options;
  options.connections_max = 3;
  LedgerServer server(dir.Sub("data"), options);
  ASSERT_NO_FATAL_FAILURE(server.Start());
  std::vector<std::unique_ptr<HttpClient>> open;
  for (int i = 0; i < 3; ++i) {
    open.push_back(server.Connect());
    ASSERT_TRUE(open.back()->Send("GET", "/healthz").has_value());
  }
  for (int i = 0; i < 5; ++i) {
    const auto started = Clock::now();
    auto extra = server.Connect();
    auto refused = extra->ReadResponse();
    ASSERT_TRUE(refused.has_value()) << refused.error().message;
    EXPECT_EQ(refused->result_int(), 503u);
    EXPECT_EQ(ErrorCode(*refused), "too_many_connections");
    EXPECT_EQ((*refused)[boost::beast::http::field::retry_after], "1");
    EXPECT_TRUE(extra->ServerClosed(2000));
    EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
  }
  EXPECT_EQ(server.metrics().GetCounter("ledger_http_connections_refused_total", "").Value(), 5u);
  for (auto& client : open) {
    auto response = client->Send("POST", "/v1/assets/changes", Deposit(0, 0), kWriterToken);
    ASSERT_TRUE(response.has_value()) << response.error().message;
    EXPECT_TRUE(response->result_int() == 201u || response->result_int() == 200u)
        << response->body();
  }
  open.pop_back();
  for (int attempt = 0;; ++attempt) {
    ASSERT_LT(attempt, 100) << "no slot freed";
    auto again = server.Connect();
    auto response = again->Send("GET", "/healthz");
    if (response && response->result_int() == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Nesting beyond kJsonDepthMax is a 400 naming the limit; a body above the limit is refused
// from its Content-Length, before the body is sent; a huge array inside the limit is a 400.
TEST(HttpHostileTest, DeepAndHugeJsonAreRefused) {
  ::ledger::testing::TempDir dir;
  LedgerServer server(dir.Sub("data"));
  ASSERT_NO_FATAL_FAILURE(server.Start());
  auto client = server.Connect();

  const std::string deep = R"({"account":"user:1","x":)" + std::string(kJsonDepthMax, '[') +
                           std::string(kJsonDepthMax, ']') + "}";
  auto nested = client->Send("POST", "/v1/accounts", deep, kWriterToken);
  ASSERT_TRUE(nested.has_value());
  EXPECT_EQ(nested->result_int(), 400u) << nested->body();
  EXPECT_NE(nested->body().find("deeper than " + std::to_string(kJsonDepthMax)),
            std::string::npos)
      << nested->body();
  // Far deeper (a stack-overflow attempt) is the same clear 400.
  const std::string very_deep =
      std::string(20'000, '[') + std::string(20'000, ']');
  auto deeper = client->Send("POST", "/v1/accounts", very_deep, kWriterToken);
  ASSERT_TRUE(deeper.has_value());
  EXPECT_EQ(deeper->result_int(), 400u) << deeper->body();

  // 100 MB announced and no body sent: 413 at once, from the header alone.
  auto announcer = server.Connect();
  const auto started = Clock::now();
  auto too_large = announcer->SendRaw(
      "POST /v1/assets/changes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      std::string(kWriterToken) +
      "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n");
  ASSERT_TRUE(too_large.has_value()) << too_large.error().message;
  EXPECT_EQ(too_large->result_int(), 413u);
  EXPECT_EQ(ErrorCode(*too_large), "body_too_large");
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
  EXPECT_TRUE(announcer->ServerClosed());

  // 1,000 well-formed postings fit in the body limit; the transfer limit refuses them.
  std::string postings = R"({"ref":"t1","postings":[)";
  for (int i = 0; i < 1'000; ++i) {
    postings += (i == 0 ? "" : ",") +
                std::string(R"({"from":"user:1","to":"user:2","asset":"USD","amount":1})");
  }
  postings += "]}";
  ASSERT_LT(postings.size(), kHttpBodyBytesMax);
  auto many = client->Send("POST", "/v1/transfers", postings, kWriterToken);
  ASSERT_TRUE(many.has_value());
  EXPECT_EQ(many->result_int(), 400u) << many->body();
  EXPECT_NE(many->body().find(std::to_string(kTransferPostingsMax)), std::string::npos)
      << many->body();
  EXPECT_EQ(server.store().HeadPosition(), 0u);
}

// More concurrent writers than the command queue takes: every answer is 201 or 503 overloaded
// with Retry-After; the queue never exceeds its bound; accepted commands are answered with a
// bounded p99; and everything acknowledged is durable after a restart.
TEST(HttpHostileTest, OverloadAnswersAcceptedOr503AndBoundsQueueAndLatency) {
  constexpr std::size_t kQueueDepthMax = 8;
  constexpr int kClients = 48;
  ::ledger::testing::TempDir dir;
  HttpServerOptions options;
  options.threads = 2;
  LedgerServer server(dir.Sub("data"), options, {.queue_depth_max = kQueueDepthMax});
  ASSERT_NO_FATAL_FAILURE(server.Start());

  std::atomic<bool> stop{false};
  std::atomic<std::size_t> queue_depth_seen{0};
  std::thread sampler([&] {
    while (!stop.load()) {
      const std::size_t depth = server.sequencer().QueueDepth();
      std::size_t seen = queue_depth_seen.load();
      while (depth > seen && !queue_depth_seen.compare_exchange_weak(seen, depth)) {
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  std::mutex mutex;
  std::vector<std::pair<std::string, std::uint64_t>> acknowledged;  // ref, position
  std::vector<double> accepted_seconds;
  std::vector<std::string> unexpected;
  std::atomic<int> overloaded{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto client = HttpClient::Connect("127.0.0.1", server.port());
      if (!client) {
        std::lock_guard lock(mutex);
        unexpected.push_back("connect: " + client.error().message);
        return;
      }
      for (int i = 0; !stop.load(); ++i) {
        const auto sent = Clock::now();
        auto response = (*client)->Send("POST", "/v1/assets/changes", Deposit(c, i), kWriterToken);
        const double seconds = std::chrono::duration<double>(Clock::now() - sent).count();
        std::lock_guard lock(mutex);
        if (!response) {
          unexpected.push_back(response.error().message);
          return;
        }
        if (response->result_int() == 201) {
          acknowledged.emplace_back("c" + std::to_string(c) + "-" + std::to_string(i),
                                    Json(*response)["position"].GetUint64());
          accepted_seconds.push_back(seconds);
        } else if (response->result_int() == 503 && ErrorCode(*response) == "overloaded" &&
                   (*response)[boost::beast::http::field::retry_after] == "1") {
          ++overloaded;
        } else {
          unexpected.push_back(std::to_string(response->result_int()) + " " + response->body());
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  for (auto& client : clients) client.join();
  sampler.join();

  ASSERT_TRUE(unexpected.empty()) << unexpected.size() << " unexpected answers, e.g. "
                                  << unexpected.front();
  ASSERT_FALSE(acknowledged.empty());
  EXPECT_GT(overloaded.load(), 0) << "the load never exceeded the queue";
  EXPECT_LE(queue_depth_seen.load(), kQueueDepthMax);
  std::sort(accepted_seconds.begin(), accepted_seconds.end());
  const double p99 = accepted_seconds[accepted_seconds.size() * 99 / 100];
  std::fprintf(stderr, "[overload] %zu accepted, %d overloaded, p99 %.1f ms, queue max %zu\n",
               acknowledged.size(), overloaded.load(), p99 * 1e3, queue_depth_seen.load());
  EXPECT_LT(p99, 2.0);

  // Everything acknowledged is durable: after a restart each position holds its command.
  server.Stop();
  ASSERT_NO_FATAL_FAILURE(server.Start());
  EXPECT_EQ(server.store().HeadPosition(), acknowledged.size());
  for (const auto& [ref, position] : acknowledged) {
    auto stored = server.store().Read(position);
    ASSERT_TRUE(stored.has_value()) << stored.error().message;
    // Cap'n Proto text is NUL-terminated: the ref whole, not a prefix of another.
    EXPECT_NE(stored->bytes.find(ref + '\0'), std::string::npos) << "position " << position;
  }
}

}  // namespace
}  // namespace ledger::transport::testing
