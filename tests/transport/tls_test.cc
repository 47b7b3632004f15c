// TLS on both listeners (transport/tls.h): certificates made at test time with OpenSSL's C API,
// the real HttpServer and BinaryServer on 127.0.0.1, the real clients, and ledgerd as a process.
#include "transport/tls.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/transport/binaries.h"
#include "tests/transport/http_fixture.h"
#include "tests/transport/test_commands.h"
#include "transport/binary_client.h"
#include "transport/binary_protocol.h"
#include "transport/binary_server.h"
#include "transport/http_client.h"

namespace ledger::transport {
namespace {

using testing::Credit;

using testing::kWriterToken;
using testing::LedgerServer;

// --- Certificates ------------------------------------------------------------------------------

struct KeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct CertFree {
  void operator()(X509* cert) const { X509_free(cert); }
};

void AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  LEDGER_ASSERT(extension != nullptr);
  LEDGER_ASSERT(X509_add_ext(cert, extension, -1) == 1);
  X509_EXTENSION_free(extension);
}

// A self-signed certificate (its own CA) for `common_name`, valid for a day, naming localhost
// and 127.0.0.1; cert and key written as PEM to `cert_path` and `key_path`.
void MakeSelfSigned(const std::string& common_name, const std::string& cert_path,
                    const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, KeyFree> key(EVP_EC_gen("P-256"));
  LEDGER_ASSERT(key != nullptr);
  std::unique_ptr<X509, CertFree> cert(X509_new());
  LEDGER_ASSERT(cert != nullptr);
  LEDGER_ASSERT(X509_set_version(cert.get(), 2) == 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  LEDGER_ASSERT(X509_set_pubkey(cert.get(), key.get()) == 1);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  LEDGER_ASSERT(X509_set_issuer_name(cert.get(), name) == 1);
  AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(cert.get(), NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
  LEDGER_ASSERT(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0);
  FILE* cert_file = std::fopen(cert_path.c_str(), "w");
  LEDGER_ASSERT(cert_file != nullptr);
  LEDGER_ASSERT(PEM_write_X509(cert_file, cert.get()) == 1);
  std::fclose(cert_file);
  FILE* key_file = std::fopen(key_path.c_str(), "w");
  LEDGER_ASSERT(key_file != nullptr);
  LEDGER_ASSERT(PEM_write_PrivateKey(key_file, key.get(), nullptr, nullptr, 0, nullptr, nullptr) ==
                1);
  std::fclose(key_file);
}

// The server's certificate and key, and an unrelated one a client must not accept instead.
struct Certificates {
  explicit Certificates(const ::ledger::testing::TempDir& dir)
      : cert(dir.Sub("server.pem")),
        key(dir.Sub("server.key")),
        other_cert(dir.Sub("other.pem")),
        other_key(dir.Sub("other.key")) {
    MakeSelfSigned("ledger test server", cert, key);
    MakeSelfSigned("someone else", other_cert, other_key);
  }
  std::string cert, key, other_cert, other_key;
};

std::shared_ptr<ServerTls> LoadOrDie(const Certificates& certificates) {
  auto tls = ServerTls::Load(certificates.cert, certificates.key);
  LEDGER_ASSERT(tls.has_value());
  return *tls;
}

// True once `counter` reads `expected`, false if it does not within 5 s. A client may see its
// connection fail (an alert, a close) a moment before the server's handler counts it.
template <class Counter>
bool CountReaches(Counter&& counter, std::uint64_t expected) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (counter() != expected) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// --- Raw sockets -------------------------------------------------------------------------------

// A plain TCP connection to 127.0.0.1:port (closed on destruction), for peers that do not
// speak TLS or stall in the handshake.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    LEDGER_ASSERT(fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawSocket() { ::close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }
  [[nodiscard]] int fd() const { return fd_; }
  void Send(std::string_view bytes) {
    LEDGER_ASSERT(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                  static_cast<ssize_t>(bytes.size()));
  }
  // Reads (and discards) until the server closes; the seconds that took, or nullopt if it was
  // still open after `limit`.
  std::optional<double> SecondsUntilClosed(std::chrono::seconds limit) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + limit;
    char buffer[4096];
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd waiting{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&waiting, 1, static_cast<int>(left.count())) <= 0) {
        return std::nullopt;
      }
      if (::recv(fd_, buffer, sizeof(buffer), 0) <= 0) {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// The first bytes of a TLS ClientHello record (handshake, TLS 1.0 record version, 512 bytes
// announced) and nothing more: a handshake begun and never finished.
constexpr std::string_view kStalledClientHello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc", 9);

// Sends kStalledClientHello to a server whose handshake timeout is 1 s: it must close the
// connection after about that long, not before and not never.
void ExpectStalledHandshakeClosedAfterOneSecond(std::uint16_t port) {
  RawSocket stalled(port);
  ASSERT_TRUE(stalled.connected());
  stalled.Send(kStalledClientHello);
  const auto seconds = stalled.SecondsUntilClosed(std::chrono::seconds(10));
  ASSERT_TRUE(seconds.has_value()) << "still open after 10 s";
  EXPECT_GE(*seconds, 0.9);
}

// --- Loading ---------------------------------------------------------------------------------

class ServerTlsLoadTest : public ::testing::Test {
 protected:
  ::ledger::testing::TempDir dir_;
  Certificates certificates_{dir_};
};

TEST_F(ServerTlsLoadTest, LoadsAMatchingCertificateAndKey) {
  auto tls = ServerTls::Load(certificates_.cert, certificates_.key);
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  EXPECT_NE(*tls, nullptr);
}

TEST_F(ServerTlsLoadTest, RefusesMissingOrBadFilesNamingThem) {
  const std::string missing = dir_.Sub("missing.pem");
  auto no_cert = ServerTls::Load(missing, certificates_.key);
  ASSERT_FALSE(no_cert.has_value());
  EXPECT_EQ(no_cert.error().code, "tls_config");
  EXPECT_NE(no_cert.error().message.find(missing), std::string::npos) << no_cert.error().message;

  auto no_key = ServerTls::Load(certificates_.cert, missing);
  ASSERT_FALSE(no_key.has_value());
  EXPECT_NE(no_key.error().message.find(missing), std::string::npos) << no_key.error().message;

  const std::string garbage = dir_.Sub("garbage.pem");
  std::ofstream(garbage) << "not a certificate\n";
  auto bad_cert = ServerTls::Load(garbage, certificates_.key);
  ASSERT_FALSE(bad_cert.has_value());
  EXPECT_NE(bad_cert.error().message.find(garbage), std::string::npos) << bad_cert.error().message;
  // The certificate file given as the key: PEM, but no private key.
  auto cert_as_key = ServerTls::Load(certificates_.cert, certificates_.cert);
  ASSERT_FALSE(cert_as_key.has_value());
  EXPECT_EQ(cert_as_key.error().code, "tls_config");
}

TEST_F(ServerTlsLoadTest, RefusesAKeyOfAnotherCertificate) {
  auto mismatched = ServerTls::Load(certificates_.cert, certificates_.other_key);
  ASSERT_FALSE(mismatched.has_value());
  EXPECT_EQ(mismatched.error().code, "tls_config");
  EXPECT_NE(mismatched.error().message.find(certificates_.other_key), std::string::npos)
      << mismatched.error().message;
}

// --- HTTPS -------------------------------------------------------------------------------------

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(Start({})); }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  void Start(HttpServerOptions options) {
    if (server_) server_->Stop();
    options.tls = LoadOrDie(certificates_);
    server_.emplace(dir_.Sub("data"), std::move(options));
    ASSERT_NO_FATAL_FAILURE(server_->Start());
  }

  TlsClientOptions Trusting(const std::string& ca_file) const {
    return {.enabled = true, .ca_file = ca_file};
  }
  Result<std::unique_ptr<HttpClient>> Connect(const TlsClientOptions& tls) {
    return HttpClient::Connect("127.0.0.1", server_->port(), tls);
  }
  std::unique_ptr<HttpClient> ConnectTrusted() {
    auto client = Connect(Trusting(certificates_.cert));
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return client ? std::move(*client) : nullptr;
  }
  bool HandshakeFailuresReach(std::uint64_t expected) {
    return CountReaches(
        [this] {
          return server_->metrics()
              .GetCounter("ledger_http_tls_handshake_failures_total", "")
              .Value();
        },
        expected);
  }

  ::ledger::testing::TempDir dir_;
  Certificates certificates_{dir_};
  std::optional<LedgerServer> server_;
};

TEST_F(HttpsTest, AcceptsACommandOverHttpsDurably) {
  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);
  auto created = client->Send("POST", "/v1/accounts", R"({"account":"alice"})", kWriterToken);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(created->result_int(), 201u) << created->body();
  EXPECT_EQ(server_->store().HeadPosition(), 1u);

  // Durable: still there after a restart, read back over HTTPS.
  ASSERT_NO_FATAL_FAILURE(Start({}));
  auto again = ConnectTrusted();
  ASSERT_NE(again, nullptr);
  auto event = again->Send("GET", "/v1/events/1", {}, testing::kReaderToken);
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->result_int(), 200u);
  EXPECT_NE(event->body().find("\"account\":\"alice\""), std::string::npos) << event->body();
}

TEST_F(HttpsTest, ClientRefusesAServerItDoesNotTrust) {
  auto untrusted = Connect(Trusting(certificates_.other_cert));
  ASSERT_FALSE(untrusted.has_value());
  EXPECT_EQ(untrusted.error().code, "tls_verify_failed") << untrusted.error().message;

  // The right CA but another name than the certificate carries.
  TlsClientOptions wrong_name = Trusting(certificates_.cert);
  wrong_name.server_name = "ledger.example.com";
  auto misnamed = Connect(wrong_name);
  ASSERT_FALSE(misnamed.has_value());
  EXPECT_EQ(misnamed.error().code, "tls_verify_failed") << misnamed.error().message;

  // The DNS name the certificate does carry.
  TlsClientOptions by_name = Trusting(certificates_.cert);
  by_name.server_name = "localhost";
  auto named = Connect(by_name);
  ASSERT_TRUE(named.has_value()) << named.error().message;
  auto health = (*named)->Send("GET", "/healthz");
  ASSERT_TRUE(health.has_value()) << health.error().message;
  EXPECT_EQ(health->result_int(), 200u);
}

TEST_F(HttpsTest, ClosesAPlainHttpClientAndKeepsServingOthers) {
  auto plain = HttpClient::Connect("127.0.0.1", server_->port());
  ASSERT_TRUE(plain.has_value());
  auto answer = (*plain)->Send("GET", "/healthz");
  EXPECT_FALSE(answer.has_value()) << "a plain request got an HTTP answer on the TLS port";
  EXPECT_TRUE(HandshakeFailuresReach(1));

  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);
  auto health = client->Send("GET", "/healthz");
  ASSERT_TRUE(health.has_value()) << health.error().message;
  EXPECT_EQ(health->result_int(), 200u);
}

TEST_F(HttpsTest, ClosesAStalledHandshakeAfterTheTimeout) {
  ASSERT_NO_FATAL_FAILURE(Start({.handshake_timeout = std::chrono::seconds(1)}));
  ASSERT_NO_FATAL_FAILURE(ExpectStalledHandshakeClosedAfterOneSecond(server_->port()));
  EXPECT_TRUE(HandshakeFailuresReach(1));
}

TEST_F(HttpsTest, LimitsAndPipeliningHoldOverTls) {
  HttpServerOptions options;
  options.connections_max = 1;
  ASSERT_NO_FATAL_FAILURE(Start(std::move(options)));
  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);

  // Two pipelined requests in one write, answered in order.
  auto first = client->SendRaw(
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/events/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
      std::string(testing::kReaderToken) + "\r\n\r\n");
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first->result_int(), 200u);
  auto second = client->ReadResponse();
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second->result_int(), 404u) << second->body();

  // The connection limit counts TLS connections: a second one is closed at once.
  auto refused = Connect(Trusting(certificates_.cert));
  EXPECT_FALSE(refused.has_value());

  // The body limit: 413, then the connection closes.
  const std::string huge = R"({"account":")" + std::string(kHttpBodyBytesMax, 'a') + "\"}";
  auto too_large = client->Send("POST", "/v1/accounts", huge, kWriterToken);
  ASSERT_TRUE(too_large.has_value()) << too_large.error().message;
  EXPECT_EQ(too_large->result_int(), 413u);
  EXPECT_TRUE(client->ServerClosed());
}

// --- The binary protocol over TLS ---------------------------------------------------------------

class BinaryTlsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartServer({})); }
  void TearDown() override {
    if (server_) server_->Stop();
    if (sequencer_) sequencer_->Stop();
  }

  void StartServer(BinaryServerOptions options) {
    auto store = Store::Open(StoreOptions{.path = dir_.Sub("data")});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    sequencer_ = std::make_unique<commands::Sequencer>(*store_, clock_, metrics_);
    ASSERT_TRUE(sequencer_->Start().has_value());
    auto auth = Authenticator::Parse(testing::kTokensFile, "test tokens", 0);
    ASSERT_TRUE(auth.has_value());
    auth_ = std::move(*auth);
    options.host = "127.0.0.1";
    options.port = 0;
    options.tls = LoadOrDie(certificates_);
    server_ = std::make_unique<BinaryServer>(options, *sequencer_, metrics_, *auth_);
    ASSERT_TRUE(server_->Start().has_value());
  }

  void Restart(BinaryServerOptions options) {
    server_->Stop();
    sequencer_->Stop();
    server_.reset();
    sequencer_.reset();
    store_.reset();
    ASSERT_NO_FATAL_FAILURE(StartServer(std::move(options)));
  }

  BinaryClientOptions ClientOptions(const std::string& ca_file) const {
    return {.host = "127.0.0.1",
            .port = server_->port(),
            .token = std::string(kWriterToken),
            .timeout = std::chrono::milliseconds(10'000),
            .tls = {.enabled = true, .ca_file = ca_file}};
  }
  std::unique_ptr<BinaryClient> ConnectTrusted() {
    auto client = BinaryClient::Connect(ClientOptions(certificates_.cert));
    EXPECT_TRUE(client.has_value()) << client.error().message;
    return client ? std::move(*client) : nullptr;
  }
  bool HandshakeFailuresReach(std::uint64_t expected) {
    return CountReaches(
        [this] {
          return metrics_.GetCounter("ledger_binary_tls_handshake_failures_total", "").Value();
        },
        expected);
  }

  ::ledger::testing::TempDir dir_;
  Certificates certificates_{dir_};
  SystemClock clock_;
  Metrics metrics_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<commands::Sequencer> sequencer_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<BinaryServer> server_;
};

TEST_F(BinaryTlsTest, AcceptsABatchOverTlsDurably) {
  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->client_id(), "shop");
  const std::vector<commands::Command> batch = {Credit("alice", 5, "k1"), Credit("bob", 7, "k2"),
                                                Credit("alice", 1, "k3")};
  auto reply = client->Execute(batch);
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  ASSERT_FALSE(reply->refused.has_value());
  ASSERT_EQ(reply->replies.size(), 3u);
  for (const CommandReply& command : reply->replies) EXPECT_TRUE(command.accepted) << command.code;
  EXPECT_EQ(store_->HeadPosition(), 3u);

  // Pipelined, then the client's close_notify: the server still answers both batches.
  ASSERT_TRUE(client->Send(std::vector{Credit("carol", 2, "k4")}).has_value());
  ASSERT_TRUE(client->Send(std::vector{Credit("dave", 3, "k5")}).has_value());
  ASSERT_TRUE(client->FinishSending().has_value());
  for (int i = 0; i < 2; ++i) {
    auto answer = client->Receive();
    ASSERT_TRUE(answer.has_value()) << answer.error().message;
    ASSERT_EQ(answer->replies.size(), 1u);
    EXPECT_TRUE(answer->replies[0].accepted) << answer->replies[0].code;
  }
  EXPECT_EQ(store_->HeadPosition(), 5u);

  // Durable: a restarted server knows the first batch (a retry is a replay).
  ASSERT_NO_FATAL_FAILURE(Restart({}));
  auto again = ConnectTrusted();
  ASSERT_NE(again, nullptr);
  auto replay = again->Execute(std::vector{Credit("alice", 5, "k1")});
  ASSERT_TRUE(replay.has_value()) << replay.error().message;
  ASSERT_EQ(replay->replies.size(), 1u);
  EXPECT_TRUE(replay->replies[0].replayed);
  EXPECT_EQ(store_->HeadPosition(), 5u);
}

TEST_F(BinaryTlsTest, ClientRefusesAServerItDoesNotTrust) {
  auto untrusted = BinaryClient::Connect(ClientOptions(certificates_.other_cert));
  ASSERT_FALSE(untrusted.has_value());
  EXPECT_EQ(untrusted.error().code, "tls_verify_failed") << untrusted.error().message;

  BinaryClientOptions wrong_name = ClientOptions(certificates_.cert);
  wrong_name.tls.server_name = "ledger.example.com";
  auto misnamed = BinaryClient::Connect(wrong_name);
  ASSERT_FALSE(misnamed.has_value());
  EXPECT_EQ(misnamed.error().code, "tls_verify_failed") << misnamed.error().message;

  BinaryClientOptions no_ca = ClientOptions(dir_.Sub("missing-ca.pem"));
  auto unconfigured = BinaryClient::Connect(no_ca);
  ASSERT_FALSE(unconfigured.has_value());
  EXPECT_EQ(unconfigured.error().code, "tls_config") << unconfigured.error().message;
  EXPECT_EQ(store_->HeadPosition(), 0u);
}

TEST_F(BinaryTlsTest, ClosesAPlainClientAndKeepsServingOthers) {
  BinaryClientOptions plain = ClientOptions("");
  plain.tls.enabled = false;
  auto refused = BinaryClient::Connect(plain);
  ASSERT_FALSE(refused.has_value()) << "a plain hello was welcomed on the TLS port";
  EXPECT_TRUE(HandshakeFailuresReach(1));

  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);
  auto reply = client->Execute(std::vector{Credit("alice", 5, "k1")});
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  EXPECT_EQ(store_->HeadPosition(), 1u);
}

TEST_F(BinaryTlsTest, ClosesAStalledHandshakeAfterTheTimeout) {
  ASSERT_NO_FATAL_FAILURE(Restart(
      {.hello_timeout = std::chrono::seconds(60), .handshake_timeout = std::chrono::seconds(1)}));
  ASSERT_NO_FATAL_FAILURE(ExpectStalledHandshakeClosedAfterOneSecond(server_->port()));
  EXPECT_TRUE(HandshakeFailuresReach(1));

  // A silent peer (not even a ClientHello) is bounded the same way.
  RawSocket silent(server_->port());
  ASSERT_TRUE(silent.connected());
  ASSERT_TRUE(silent.SecondsUntilClosed(std::chrono::seconds(10)).has_value());
  EXPECT_TRUE(HandshakeFailuresReach(2));
}

struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
  void operator()(SSL_CTX* context) const { SSL_CTX_free(context); }
};

// Writes all of `bytes` with SSL_write on a blocking socket.
bool SslWriteAll(SSL* ssl, std::string_view bytes) {
  return SSL_write(ssl, bytes.data(), static_cast<int>(bytes.size())) ==
         static_cast<int>(bytes.size());
}

// Reads one frame with SSL_read on a blocking socket; nullopt on EOF, error or a bad prefix.
std::optional<std::vector<capnp::word>> SslReadFrame(SSL* ssl) {
  const auto read_exactly = [ssl](void* data, std::size_t size) {
    auto* out = static_cast<char*>(data);
    for (std::size_t got = 0; got < size;) {
      const int n = SSL_read(ssl, out + got, static_cast<int>(size - got));
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return true;
  };
  unsigned char prefix[kFramePrefixBytes];
  if (!read_exactly(prefix, sizeof(prefix))) return std::nullopt;
  auto length = FrameLength(prefix, 4 * kBinaryFrameBytesMax);
  if (!length) return std::nullopt;
  std::vector<capnp::word> words(*length / sizeof(capnp::word));
  if (!read_exactly(words.data(), *length)) return std::nullopt;
  return words;
}

// A client that ends its sending with a TCP half-close and no close_notify (OpenSSL used
// directly, as a non-Asio client might): the server takes it as the end of its input, as it
// does a plain FIN, and still answers the batch it read.
TEST_F(BinaryTlsTest, AHalfCloseWithoutCloseNotifyStillGetsItsAnswer) {
  RawSocket raw(server_->port());
  ASSERT_TRUE(raw.connected());
  const timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(raw.fd(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::unique_ptr<SSL_CTX, SslFree> context(SSL_CTX_new(TLS_client_method()));
  ASSERT_NE(context, nullptr);
  ASSERT_EQ(SSL_CTX_load_verify_locations(context.get(), certificates_.cert.c_str(), nullptr), 1);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  // The server closes without close_notify; without this OpenSSL would answer that EOF with an
  // alert, written to our half-closed socket.
  SSL_CTX_set_options(context.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
  std::signal(SIGPIPE, SIG_IGN);  // And OpenSSL writes with plain write(2).
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(context.get()));
  ASSERT_NE(ssl, nullptr);
  ASSERT_EQ(SSL_set_fd(ssl.get(), raw.fd()), 1);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);

  capnp::MallocMessageBuilder hello_message;
  auto hello = hello_message.initRoot<wire::Frame>().initHello();
  hello.setVersion(wire::PROTOCOL_VERSION);
  hello.setToken(kWriterToken.data());
  capnp::MallocMessageBuilder batch_message;
  auto batch = batch_message.initRoot<wire::Frame>().initBatch();
  batch.setRequestId(7);
  EncodeWireCommand(Credit("alice", 5, "k1"), batch.initCommands(1)[0]);
  ASSERT_TRUE(SslWriteAll(ssl.get(), EncodeFrame(hello_message) + EncodeFrame(batch_message)));
  ASSERT_EQ(::shutdown(raw.fd(), SHUT_WR), 0);

  const auto welcome = SslReadFrame(ssl.get());
  ASSERT_TRUE(welcome.has_value());
  EXPECT_TRUE(FrameReader(*welcome).Root().isWelcome());
  const auto results = SslReadFrame(ssl.get());
  ASSERT_TRUE(results.has_value()) << "the batch was not answered";
  FrameReader reader(*results);
  ASSERT_TRUE(reader.Root().isResults());
  EXPECT_EQ(reader.Root().getResults().getRequestId(), 7u);
  ASSERT_EQ(reader.Root().getResults().getResults().size(), 1u);
  EXPECT_EQ(store_->HeadPosition(), 1u);
  EXPECT_FALSE(SslReadFrame(ssl.get()).has_value()) << "still open after the answer";
}

TEST_F(BinaryTlsTest, StopAnswersThenClosesWithShuttingDown) {
  auto client = ConnectTrusted();
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(std::vector{Credit("alice", 5, "k1")}).has_value());
  auto answer = client->Receive();
  ASSERT_TRUE(answer.has_value()) << answer.error().message;
  std::thread stopper([this] { server_->Stop(); });
  auto words = client->ReceiveFrame();
  stopper.join();
  ASSERT_TRUE(words.has_value()) << words.error().message;
  FrameReader reader(*words);
  ASSERT_TRUE(reader.Check().has_value());
  ASSERT_TRUE(reader.Root().isError());
  EXPECT_STREQ(reader.Root().getError().getCode().cStr(), "shutting_down");
  auto after = client->ReceiveFrame();
  ASSERT_FALSE(after.has_value());
  EXPECT_EQ(after.error().code, "connection_closed") << after.error().message;
}

// --- ledgerd as a process ------------------------------------------------------------------------

class LedgerdTlsTest : public ::testing::Test {
 protected:
  ::ledger::testing::TempDir dir_;
  Certificates certificates_{dir_};
};

TEST_F(LedgerdTlsTest, CertWithoutKeyIsAUsageError) {
  for (const char* flag : {"--tls-cert", "--tls-key"}) {
    ::ledger::testing::Process process({testing::kLedgerdPath, "--data", dir_.Sub("data"),
                                        "--listen", "127.0.0.1:0", flag, certificates_.cert});
    EXPECT_EQ(process.Wait(std::chrono::seconds(10)), 2) << flag;
    EXPECT_NE(process.Stderr().find("give both or neither"), std::string::npos) << process.Stderr();
  }
}

TEST_F(LedgerdTlsTest, AnUnreadableCertificateIsFatalNamingIt) {
  const std::string missing = dir_.Sub("no-such-cert.pem");
  ::ledger::testing::Process process({testing::kLedgerdPath, "--data", dir_.Sub("data"), "--listen",
                                      "127.0.0.1:0", "--tls-cert", missing, "--tls-key",
                                      certificates_.key});
  EXPECT_EQ(process.Wait(std::chrono::seconds(30)), 1);
  const std::string error = process.Stderr();
  EXPECT_NE(error.find("cannot set up TLS"), std::string::npos) << error;
  EXPECT_NE(error.find(missing), std::string::npos) << error;

  ::ledger::testing::Process mismatched({testing::kLedgerdPath, "--data", dir_.Sub("data"),
                                         "--listen", "127.0.0.1:0", "--tls-cert",
                                         certificates_.cert, "--tls-key", certificates_.other_key});
  EXPECT_EQ(mismatched.Wait(std::chrono::seconds(30)), 1);
  EXPECT_NE(mismatched.Stderr().find(certificates_.other_key), std::string::npos)
      << mismatched.Stderr();
}

// The line "<prefix><port><rest>" -> port, 0 if the line does not start with `prefix`.
std::uint16_t PortAfter(const std::optional<std::string>& line, const std::string& prefix) {
  if (!line || line->rfind(prefix, 0) != 0) return 0;
  return static_cast<std::uint16_t>(std::stoi(line->substr(prefix.size())));
}

TEST_F(LedgerdTlsTest, ServesHttpsAndTlsBinaryWrites) {
  ::ledger::testing::Process process({testing::kLedgerdPath, "--data", dir_.Sub("data"), "--listen",
                                      "127.0.0.1:0", "--listen-binary", "127.0.0.1:0", "--tls-cert",
                                      certificates_.cert, "--tls-key", certificates_.key});
  const auto listen_line = process.ReadLine(std::chrono::seconds(30));
  const std::uint16_t port = PortAfter(listen_line, "ledgerd listening on https://127.0.0.1:");
  ASSERT_NE(port, 0) << listen_line.value_or("(none)") << " " << process.Stderr();
  const auto binary_line = process.ReadLine(std::chrono::seconds(10));
  const std::uint16_t binary_port = PortAfter(binary_line, "ledgerd binary protocol on 127.0.0.1:");
  ASSERT_NE(binary_port, 0) << binary_line.value_or("(none)");
  EXPECT_TRUE(binary_line->ends_with(" (TLS)")) << *binary_line;
  const std::string token = ::ledger::testing::AdminToken(dir_.Sub("data") + "/tokens");
  const TlsClientOptions tls{.enabled = true, .ca_file = certificates_.cert};

  auto client = HttpClient::Connect("127.0.0.1", port, tls);
  ASSERT_TRUE(client.has_value()) << client.error().message;
  auto created = (*client)->Send("POST", "/v1/accounts", R"({"account":"alice"})", token);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(created->result_int(), 201u) << created->body();

  auto binary = BinaryClient::Connect({.host = "127.0.0.1",
                                       .port = binary_port,
                                       .token = token,
                                       .timeout = std::chrono::milliseconds(10'000),
                                       .tls = tls});
  ASSERT_TRUE(binary.has_value()) << binary.error().message;
  auto reply = (*binary)->Execute(std::vector{Credit("alice", 5, "k1")});
  ASSERT_TRUE(reply.has_value()) << reply.error().message;
  ASSERT_EQ(reply->replies.size(), 1u);
  EXPECT_TRUE(reply->replies[0].accepted) << reply->replies[0].code;

  auto event = (*client)->Send("GET", "/v1/events/2", {}, token);
  ASSERT_TRUE(event.has_value()) << event.error().message;
  EXPECT_EQ(event->result_int(), 200u) << event->body();

  // Plain HTTP on the HTTPS port gets no answer.
  auto plain = HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(plain.has_value());
  EXPECT_FALSE((*plain)->Send("GET", "/healthz").has_value());

  process.Signal(SIGTERM);
  EXPECT_EQ(process.Wait(std::chrono::seconds(30)), 0) << process.Stderr();
}

}  // namespace
}  // namespace ledger::transport
