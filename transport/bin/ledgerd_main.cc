// ledgerd: the ledger's HTTP server. Composition only: flags, then Store -> Sequencer ->
// [NATS publisher | NATS replica feed] -> ReadModels (projections) -> HttpServer, started in
// that order and stopped in reverse on SIGTERM/SIGINT. --role picks what runs:
//   all (default)  commands, projections and queries; the publisher with --nats
//   writer         commands and the publisher (needs no projections)
//   reader         a read replica: its log comes from NATS (--nats), queries only
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "projections/read_models.h"
#include "transport/auth.h"
#include "transport/binary_server.h"
#include "transport/http_server.h"
#include "transport/nats_publisher.h"
#include "transport/nats_replica.h"
#include "transport/tls.h"
#include "transport/bin/cli.h"
#include "transport/url.h"

namespace {

using namespace ledger;

constexpr std::string_view kUsage =
    "Usage: ledgerd [--data DIR] [--listen HOST:PORT] [--auth-file FILE] [--http-threads N]\n"
    "               [--listen-binary HOST:PORT [--binary-threads N]]\n"
    "               [--tls-cert FILE --tls-key FILE]\n"
    "               [--role all|writer|reader] [--nats URL [NATS flags]]\n"
    "\n"
    "  --data DIR          data directory (RocksDB and, by default, the tokens file);\n"
    "                      default ./data\n"
    "  --listen HOST:PORT  address to serve HTTP on (an IP address or localhost; port 0 picks\n"
    "                      a free port); default 127.0.0.1:8080\n"
    "  --auth-file FILE    tokens file: '<token> <client-id> <roles> [rate=N[/B]]' per line;\n"
    "                      default DIR/tokens, created with one admin token if missing\n"
    "  --http-threads N    HTTP io threads, 1..64; default 2\n"
    "  --listen-binary HOST:PORT  also serve the binary command protocol (docs/protocol.md)\n"
    "                      there; off by default; not with --role reader\n"
    "  --binary-threads N  binary-protocol io threads, 1..64; default 1\n"
    "  --tls-cert FILE     PEM certificate (chain): serve HTTPS and the binary protocol over\n"
    "                      TLS (1.2 or later) only; needs --tls-key\n"
    "  --tls-key FILE      PEM private key of --tls-cert\n"
    "  --role ROLE         all (default): commands, projections, queries;\n"
    "                      writer: commands and the NATS publisher, no projections;\n"
    "                      reader: a read replica fed from NATS (needs --nats), queries only\n"
    "  --help              print this and exit\n"
    "\n"
    "NATS JetStream (docs/operations.md); without --nats ledgerd runs on its data dir alone:\n"
    "  --nats URL                  NATS server(s), e.g. nats://127.0.0.1:4222 (comma-separated)\n"
    "  --nats-stream NAME          JetStream stream; default LEDGER\n"
    "  --nats-subject-prefix P     subjects P.<EventType>; default ledger\n"
    "  --nats-format capnp|json    payload: stored Cap'n Proto bytes (default) or JSON\n"
    "  --nats-duplicate-window S   the stream's duplicate window, seconds; default 120\n"
    "  --nats-replicas N           stream replicas when ledgerd creates it, 1..5; default 1\n"
    "  --nats-in-flight N          publisher: unacknowledged messages, 1..65536; default 4096\n"
    "  --nats-consumer NAME        reader: durable consumer name; default ledger-replica\n";

struct Flags {
  std::string data = "./data";
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string auth_file;
  std::size_t http_threads = 2;
  std::optional<std::string> binary_host;
  std::uint16_t binary_port = 0;
  std::size_t binary_threads = 1;
  std::string tls_cert;  // Both or neither (ParseFlags checks).
  std::string tls_key;
  std::string role = "all";
  std::optional<std::string> nats_url;
  transport::NatsStreamOptions nats;
  transport::PayloadFormat nats_format = transport::PayloadFormat::kCapnp;
  std::size_t nats_in_flight = kNatsInFlightDefault;
  std::string nats_consumer = "ledger-replica";
};

[[noreturn]] void UsageError(const std::string& message) {
  std::fprintf(stderr, "ledgerd: %s\n\n%.*s", message.c_str(), static_cast<int>(kUsage.size()),
               kUsage.data());
  std::exit(2);
}

bool ParseListen(std::string_view text, std::string* host_out, std::uint16_t* port_out) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::uint64_t port = 0;
  if (!transport::ParseUnsigned(text.substr(colon + 1), &port) || port > 65535) return false;
  *host_out = std::string(host);
  *port_out = static_cast<std::uint16_t>(port);
  return true;
}

// Applies one "--name value" pair; false if the value is invalid.
bool ApplyFlag(std::string_view name, std::string_view value, Flags* flags) {
  if (name == "--data") {
    flags->data = std::string(value);
    return !value.empty();
  }
  if (name == "--listen") return ParseListen(value, &flags->host, &flags->port);
  if (name == "--listen-binary") {
    flags->binary_host.emplace();
    return ParseListen(value, &*flags->binary_host, &flags->binary_port);
  }
  if (name == "--auth-file") {
    flags->auth_file = std::string(value);
    return !value.empty();
  }
  if (name == "--http-threads" || name == "--binary-threads") {
    std::uint64_t threads = 0;
    if (!transport::ParseUnsigned(value, &threads) || threads < 1 || threads > 64) return false;
    (name == "--http-threads" ? flags->http_threads : flags->binary_threads) =
        static_cast<std::size_t>(threads);
    return true;
  }
  if (name == "--tls-cert" || name == "--tls-key") {
    (name == "--tls-cert" ? flags->tls_cert : flags->tls_key) = std::string(value);
    return !value.empty();
  }
  if (name == "--role") {
    flags->role = std::string(value);
    return value == "all" || value == "writer" || value == "reader";
  }
  if (name == "--nats") {
    flags->nats_url = std::string(value);
    flags->nats.url = std::string(value);
    return !value.empty();
  }
  if (name == "--nats-stream") {
    flags->nats.stream = std::string(value);
    return true;  // Checked with the others by ValidateStreamOptions.
  }
  if (name == "--nats-subject-prefix") {
    flags->nats.subject_prefix = std::string(value);
    return true;
  }
  if (name == "--nats-format") {
    auto format = transport::ParsePayloadFormat(value);
    if (format) flags->nats_format = *format;
    return format.has_value();
  }
  std::uint64_t number = 0;
  if (name == "--nats-duplicate-window") {
    if (!transport::ParseUnsigned(value, &number) || number < 1 || number > 7 * 24 * 3600) {
      return false;
    }
    flags->nats.duplicate_window_ms = static_cast<std::int64_t>(number) * 1000;
    return true;
  }
  if (name == "--nats-replicas") {
    if (!transport::ParseUnsigned(value, &number) || number < 1 || number > 5) return false;
    flags->nats.replicas = static_cast<int>(number);
    return true;
  }
  if (name == "--nats-in-flight") {
    if (!transport::ParseUnsigned(value, &number) || number < 1 || number > kNatsInFlightMax) {
      return false;
    }
    flags->nats_in_flight = static_cast<std::size_t>(number);
    return true;
  }
  if (name == "--nats-consumer") {
    flags->nats_consumer = std::string(value);
    return !value.empty();
  }
  UsageError("unknown flag " + std::string(name));
}

Flags ParseFlags(int argc, char** argv) {
  Flags flags;
  cli::ParseFlags(
      argc, argv, kUsage,
      [&flags](std::string_view name, std::string_view value) {
        return ApplyFlag(name, value, &flags);
      },
      [](const std::string& message) { UsageError(message); });
  if (flags.tls_cert.empty() != flags.tls_key.empty()) {
    UsageError(flags.tls_cert.empty() ? "--tls-key needs --tls-cert (give both or neither)"
                                      : "--tls-cert needs --tls-key (give both or neither)");
  }
  if (flags.role == "reader" && flags.binary_host) {
    UsageError("--listen-binary takes commands, which a --role reader replica does not");
  }
  if (flags.role == "reader" && !flags.nats_url) {
    UsageError("--role reader needs --nats: a read replica builds its log from the stream");
  }
  if (flags.nats_url) {
    if (auto valid = transport::ValidateStreamOptions(flags.nats); !valid) {
      UsageError(valid.error().message);
    }
  }
  return flags;
}

[[noreturn]] void Die(const std::string& what, const Error& error) {
  std::fprintf(stderr, "ledgerd: %s: %s (%s)\n", what.c_str(), error.message.c_str(),
               error.code.c_str());
  std::exit(1);
}

std::int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The tokens file to use: --auth-file, or DIR/tokens (created with an admin token if missing).
std::string PrepareTokensFile(const Flags& flags) {
  if (!flags.auth_file.empty()) return flags.auth_file;
  const std::string path = flags.data + "/tokens";
  auto created = transport::CreateDefaultTokensFile(path);
  if (!created) Die("cannot create the tokens file", created.error());
  if (*created) std::fprintf(stderr, "ledgerd: created %s with an admin token\n", path.c_str());
  return path;
}

// Tokens and TLS keys are secrets: say so if others on the machine can read the file.
void WarnIfReadableByOthers(const std::string& path) {
  std::error_code error;
  const auto permissions = std::filesystem::status(path, error).permissions();
  using std::filesystem::perms;
  if (!error && (permissions & (perms::group_read | perms::others_read)) != perms::none) {
    std::fprintf(stderr, "ledgerd: warning: %s is readable by group or others (chmod 600 it)\n",
                 path.c_str());
  }
}

std::string UrlHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = ParseFlags(argc, argv);
  std::signal(SIGPIPE, SIG_IGN);
  // Catch SIGTERM/SIGINT from the start, so a signal during startup still stops cleanly.
  boost::asio::io_context signal_io;
  boost::asio::signal_set signals(signal_io, SIGINT, SIGTERM);

  std::error_code fs_error;
  std::filesystem::create_directories(flags.data, fs_error);
  if (fs_error) {
    Die("cannot create " + flags.data,
        MakeError(ErrorKind::kUnavailable, "io_error", fs_error.message()));
  }
  const std::string tokens_path = PrepareTokensFile(flags);
  auto auth = transport::Authenticator::LoadFile(tokens_path, SteadyNowUs());
  if (!auth) Die("cannot load the tokens file", auth.error());
  WarnIfReadableByOthers(tokens_path);
  // Loaded before anything starts, so a bad certificate or key fails fast, naming the file.
  std::shared_ptr<transport::ServerTls> tls;
  if (!flags.tls_cert.empty()) {
    auto loaded = transport::ServerTls::Load(flags.tls_cert, flags.tls_key);
    if (!loaded) Die("cannot set up TLS", loaded.error());
    tls = std::move(*loaded);
    WarnIfReadableByOthers(flags.tls_key);
  }

  const bool writes = flags.role != "reader";
  const bool projects = flags.role != "writer";
  std::vector<std::string> families = projections::ReadModels::ColumnFamilies();
  families.emplace_back(transport::kOutboxFamily);
  auto store = Store::Open(
      StoreOptions{.path = flags.data,
                   .extra_column_families = families,
                   .point_lookup_families = projections::ReadModels::PointLookupFamilies()});
  if (!store) Die("cannot open the store in " + flags.data, store.error());
  SystemClock clock;
  Metrics metrics;
  // A reader never starts its sequencer: its log is written by the replica feed alone.
  commands::Sequencer sequencer(**store, clock, metrics);
  if (writes) {
    if (auto started = sequencer.Start(); !started) {
      Die("cannot start the sequencer", started.error());
    }
  }

  std::unique_ptr<transport::NatsPublisher> publisher;
  std::unique_ptr<transport::NatsReplica> replica;
  if (flags.nats_url && writes) {
    publisher = std::make_unique<transport::NatsPublisher>(
        **store, metrics,
        transport::NatsPublisherOptions{.stream = flags.nats,
                                        .format = flags.nats_format,
                                        .in_flight_max = flags.nats_in_flight});
    if (auto started = publisher->Start(); !started) {
      sequencer.Stop();
      Die("cannot start the NATS publisher", started.error());
    }
  } else if (flags.nats_url) {
    replica = std::make_unique<transport::NatsReplica>(
        **store, metrics,
        transport::NatsReplicaOptions{.stream = flags.nats, .consumer = flags.nats_consumer});
    if (auto started = replica->Start(); !started) {
      Die("cannot start the NATS replica feed", started.error());
    }
  }

  // Projections resume from their checkpoints and catch up in the background; queries with
  // min_position wait for them.
  auto read_models = projections::ReadModels::Create(**store, metrics);
  if (!read_models) Die("cannot set up the projections", read_models.error());
  if (projects) {
    if (auto started = (*read_models)->Start(); !started) {
      if (publisher) publisher->Stop();
      if (replica) replica->Stop();
      sequencer.Stop();
      Die("cannot start the projections", started.error());
    }
  }

  transport::HttpServerOptions options;
  options.host = flags.host;
  options.port = flags.port;
  options.threads = flags.http_threads;
  options.tls = tls;
  options.api.serve_commands = writes;
  options.api.serve_queries = projects;
  options.api.role = flags.role;
  options.api.feeds = [&publisher, &replica] {
    std::vector<transport::FeedStatus> feeds;
    if (publisher) {
      const transport::PublisherStatus status = publisher->Snapshot();
      feeds.push_back({.name = "nats-publisher",
                       .position = status.acked,
                       .lag = status.head > status.acked ? status.head - status.acked : 0,
                       .state = status.state,
                       .error = status.error});
    }
    if (replica) {
      const transport::ReplicaStatus status = replica->Snapshot();
      feeds.push_back({.name = "nats-replica",
                       .position = status.position,
                       .lag = status.pending,
                       .state = status.state,
                       .error = status.error});
    }
    return feeds;
  };
  transport::HttpServer server(options, **store, sequencer, **read_models, metrics, **auth);
  if (auto started = server.Start(); !started) {
    (*read_models)->Stop();
    if (publisher) publisher->Stop();
    if (replica) replica->Stop();
    sequencer.Stop();
    Die("cannot start the HTTP server", started.error());
  }
  std::optional<transport::BinaryServer> binary_server;
  if (flags.binary_host) {
    transport::BinaryServerOptions binary_options{.host = *flags.binary_host,
                                                  .port = flags.binary_port,
                                                  .threads = flags.binary_threads};
    binary_options.tls = tls;
    binary_server.emplace(std::move(binary_options), sequencer, metrics, **auth);
    if (auto started = binary_server->Start(); !started) {
      server.Stop();
      (*read_models)->Stop();
      if (publisher) publisher->Stop();
      sequencer.Stop();
      Die("cannot start the binary protocol server", started.error());
    }
  }
  std::printf("ledgerd listening on %s://%s:%u (data: %s, admin token file: %s)\n",
              tls ? "https" : "http", UrlHost(flags.host).c_str(), static_cast<unsigned>(server.port()), flags.data.c_str(),
              tokens_path.c_str());
  if (binary_server) {
    std::printf("ledgerd binary protocol on %s:%u%s\n", UrlHost(*flags.binary_host).c_str(),
                static_cast<unsigned>(binary_server->port()), tls ? " (TLS)" : "");
  }
  if (flags.role != "all" || flags.nats_url) {
    std::fprintf(stderr, "ledgerd: role %s%s%s\n", flags.role.c_str(),
                 publisher ? ", publishing to stream " : replica ? ", following stream " : "",
                 flags.nats_url ? (flags.nats.stream + " at " + *flags.nats_url).c_str() : "");
  }
  std::fflush(stdout);

  int signal_number = 0;
  signals.async_wait([&](const boost::system::error_code&, int number) { signal_number = number; });
  signal_io.run();
  std::fprintf(stderr, "ledgerd: signal %d, stopping\n", signal_number);
  // Reverse order: stop taking requests, complete every queued command, answer, close.
  server.StopAccepting();
  if (binary_server) binary_server->Stop();  // Answers the batches it read, then closes.
  sequencer.Stop();
  server.Stop();
  if (replica) replica->Stop();
  (*read_models)->Stop();
  // Last: everything the sequencer acknowledged gets its chance to reach the stream.
  if (publisher) publisher->Stop();
  std::fprintf(stderr, "ledgerd: stopped\n");
  return 0;
}
