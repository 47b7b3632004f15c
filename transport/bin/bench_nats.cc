// ledger-bench publish: NATS JetStream publishing (docs/benchmarks.md).
//
//   ledger-bench publish [--nats URL] [--events N] [--rounds R] [--in-flight W] [--rate R]
//                        [--seconds S]
//
// Throughput: a log is pre-filled once with N asset-change events (default 200,000) through the
// sequencer. Each of R rounds (default 3) then runs, in alternating order, two measurements on a
// fresh JetStream stream (file storage, the ledger's stream configuration):
//  - baseline: plain asynchronous JetStream publishing of N messages of the log's median event
//    size (js_PublishAsync, at most W awaiting their ack, no headers, no expectations), timed
//    until js_PublishAsyncComplete returns;
//  - publisher: transport::NatsPublisher (in_flight_max = W) over the pre-filled log, timed from
//    Start() until the stream acknowledged position N.
// Both check that the stream then holds exactly N messages. Each prints events/s and the CPU
// time per event of this process and (private server only) of nats-server.
//
// Latency: a fresh log with the sequencer and the publisher running and an ordered consumer on
// the stream in another thread; asset changes are submitted at a fixed rate (default 5,000/s)
// for S seconds (default 10). For every position it takes the time the submit callback reported
// the command durable and the time the subscriber received the message (Ledger-Position header),
// and prints percentiles of the difference, split at the time JetStream stored the message.
//
// Without --nats it starts a private nats-server (-js, a temp store dir, a free loopback port)
// and stops it at the end. With --nats, the stream LEDGER_BENCH_PUBLISH (subjects
// "ledger-bench-publish.>") on that server is deleted and recreated for every measurement and
// deleted at the end.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "commands/sequencer.h"
#include "ledger/clock.h"
#include "ledger/limits.h"
#include "ledger/metrics.h"
#include "ledger/store.h"
#include "transport/bin/bench_common.h"
#include "transport/local_nats_server.h"
#include "transport/nats_common.h"
#include "transport/nats_publisher.h"

namespace ledger::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kStreamName = "LEDGER_BENCH_PUBLISH";
constexpr const char* kSubjectPrefix = "ledger-bench-publish";
constexpr std::uint64_t kAccounts = 1'000'000;
// No measurement may take longer than this (a stuck stream is an error, never a hang).
constexpr std::int64_t kMeasurementTimeoutMs = 300'000;
// Latency runs pre-generate their commands and keep five timestamps per command: a bound on
// their memory (rate x seconds).
constexpr double kLatencyCommandsMax = 1'000'000;

struct PublishOptions {
  std::string nats_url;  // Empty: start a private nats-server.
  std::uint64_t events = 200'000;
  int rounds = 3;
  std::size_t in_flight = 4'096;
  double rate = 5'000;
  double seconds = 10;
};

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// Wall-clock nanoseconds: comparable with the time JetStream stamps on a stored message (when
// nats-server runs on this host).
std::int64_t WallNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- A private nats-server ----------------------------------------------------------------------

// nats-server with JetStream on a free loopback port, storing in a temp dir that is removed
// after the server stopped.
class PrivateNatsServer {
 public:
  PrivateNatsServer() : dir_("", "nats") {
    auto server = transport::LocalNatsServer::Start(dir_.path());
    if (!server) Die(server.error().message + " (or pass --nats URL)");
    server_ = std::move(*server);
  }
  ~PrivateNatsServer() { server_.reset(); }
  PrivateNatsServer(const PrivateNatsServer&) = delete;
  PrivateNatsServer& operator=(const PrivateNatsServer&) = delete;

  [[nodiscard]] std::string url() const { return server_->url(); }
  [[nodiscard]] pid_t pid() const { return server_->pid(); }

 private:
  TempOrGiven dir_;  // Removed after the server stopped.
  std::unique_ptr<transport::LocalNatsServer> server_;
};

// --- JetStream helpers --------------------------------------------------------------------------

transport::NatsStreamOptions BenchStream(const std::string& url) {
  transport::NatsStreamOptions stream;
  stream.url = url;
  stream.stream = kStreamName;
  stream.subject_prefix = kSubjectPrefix;
  return stream;
}

void DeleteStream(jsCtx* js, const std::string& name) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_DeleteStream(js, name.c_str(), nullptr, &code);
  if (s != NATS_OK && s != NATS_NOT_FOUND && code != JSStreamNotFoundErr) {
    Die(transport::NatsError("deleting stream " + name, s, code).message);
  }
}

// Deletes the bench stream and creates it empty, with the ledger's configuration.
void FreshStream(jsCtx* js, const transport::NatsStreamOptions& stream) {
  DeleteStream(js, stream.stream);
  if (auto ensured = transport::EnsureStream(js, stream); !ensured) Die(ensured.error().message);
}

std::uint64_t StoredMessages(jsCtx* js, const std::string& name) {
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus s = js_GetStreamInfo(&info, js, name.c_str(), nullptr, &code);
  if (s != NATS_OK) Die(transport::NatsError("reading stream " + name, s, code).message);
  const std::uint64_t messages = info->State.Msgs;
  jsStreamInfo_Destroy(info);
  return messages;
}

// A connection and a JetStream context for the benchmark's own calls (not the publisher's).
struct NatsClient {
  transport::NatsConnectionPtr connection;
  transport::JsContextPtr js;
};

NatsClient ConnectClient(const std::string& url, const char* name, jsOptions* options) {
  auto connection = transport::ConnectNats(url, name);
  if (!connection) Die(connection.error().message);
  auto js = transport::NewJetStream(connection->get(), options);
  if (!js) Die(js.error().message);
  return {std::move(*connection), std::move(*js)};
}

// --- The pre-filled log -------------------------------------------------------------------------

std::unique_ptr<Store> OpenLog(const std::string& path) {
  auto store =
      Store::Open({.path = path, .extra_column_families = {std::string(transport::kOutboxFamily)}});
  if (!store) Die("cannot open the log in " + path + ": " + store.error().message);
  if ((*store)->HeadPosition() != 0) Die("the log in " + path + " is not empty");
  return std::move(*store);
}

// Appends `events` asset changes through the sequencer, as fast as it takes them.
void Prefill(Store& store, std::uint64_t events) {
  Metrics metrics;
  SystemClock clock;
  commands::Sequencer sequencer(store, clock, metrics);
  if (auto started = sequencer.Start(); !started) Die(started.error().message);
  std::mt19937_64 rng(42);
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> failed{0};
  std::uint64_t submitted = 0;
  while (submitted < events) {
    const auto chunk_size = std::min<std::uint64_t>(65'536, events - submitted);
    auto chunk = MakeChangeAssetCommands(chunk_size, kAccounts, submitted, rng);
    for (auto& command : chunk) {
      while (submitted - done.load(std::memory_order_relaxed) > kCommandQueueDepthMax / 2) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      auto result = sequencer.Submit(std::move(command), [&done, &failed](auto outcome) {
        if (!outcome) failed.fetch_add(1, std::memory_order_relaxed);
        done.fetch_add(1, std::memory_order_release);
      });
      if (!result) Die("submit failed: " + result.error().message);
      ++submitted;
    }
  }
  while (done.load(std::memory_order_acquire) < submitted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  sequencer.Stop();
  if (failed.load() > 0) Die(std::to_string(failed.load()) + " pre-fill commands failed");
  if (store.HeadPosition() != events) Die("the pre-filled log does not hold every event");
}

// The median size of the stored (canonical Cap'n Proto) events: the payload the publisher sends.
std::size_t MedianEventBytes(const Store& store) {
  std::vector<double> sizes;
  sizes.reserve(store.HeadPosition());
  for (std::uint64_t position = 1; position <= store.HeadPosition();) {
    auto events = store.ReadFrom(position, 4'096);
    if (!events) Die(events.error().message);
    if (events->empty()) Die("the log ends before its head");
    for (const StoredEvent& stored : *events)
      sizes.push_back(static_cast<double>(stored.bytes.size()));
    position += events->size();
  }
  return static_cast<std::size_t>(Median(std::move(sizes)));
}

// --- Throughput rounds --------------------------------------------------------------------------

// Where the measurements publish: the stream, and the private nats-server's pid (0 for --nats).
struct Target {
  transport::NatsStreamOptions stream;
  pid_t server_pid = 0;
};

// User + system CPU seconds of process `pid` so far (/proc/<pid>/stat, clock-tick resolution).
double ProcessCpuSeconds(pid_t pid) {
  std::FILE* file = std::fopen(("/proc/" + std::to_string(pid) + "/stat").c_str(), "r");
  if (file == nullptr) Die("cannot read the CPU time of process " + std::to_string(pid));
  char buffer[1024];
  const std::size_t size = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  buffer[size] = '\0';
  // Fields 14 and 15 (utime, stime) count from the ')' that closes field 2, the command name.
  const char* field = std::strrchr(buffer, ')');
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  if (field == nullptr ||
      std::sscanf(field + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2) {
    Die("cannot parse /proc/" + std::to_string(pid) + "/stat");
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

struct RoundResult {
  double events_per_second = 0;
  double cpu_us_per_event = 0;         // This process's user + system CPU.
  double server_cpu_us_per_event = 0;  // The private nats-server's (unknown with --nats).
};

// Wall clock and CPU (this process and the private nats-server) over one measurement.
class RoundMeter {
 public:
  explicit RoundMeter(pid_t server_pid)
      : server_pid_(server_pid),
        cpu_(CpuSeconds()),
        server_cpu_(server_pid > 0 ? ProcessCpuSeconds(server_pid) : 0),
        started_(Clock::now()) {}
  [[nodiscard]] RoundResult Finish(std::uint64_t events) const {
    const double elapsed = SecondsSince(started_);
    const double cpu = CpuSeconds() - cpu_;
    const double server_cpu = server_pid_ > 0 ? ProcessCpuSeconds(server_pid_) - server_cpu_ : 0;
    const auto count = static_cast<double>(events);
    return {count / elapsed, cpu * 1e6 / count, server_cpu * 1e6 / count};
  }
  [[nodiscard]] Clock::time_point started() const { return started_; }

 private:
  pid_t server_pid_;
  double cpu_;
  double server_cpu_;
  Clock::time_point started_;
};

struct BaselineAcks {
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> failed{0};
};

void OnBaselineAck(jsCtx*, natsMsg* message, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  auto* acks = static_cast<BaselineAcks*>(closure);
  if (ack != nullptr) acks->acked.fetch_add(1, std::memory_order_relaxed);
  if (error != nullptr) acks->failed.fetch_add(1, std::memory_order_relaxed);
  natsMsg_Destroy(message);
}

// Plain async JetStream publishing of `options.events` messages of `payload_bytes`.
RoundResult BaselineRound(const PublishOptions& options, const Target& target,
                          std::size_t payload_bytes) {
  const transport::NatsStreamOptions& stream = target.stream;
  BaselineAcks acks;
  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.PublishAsync.MaxPending = static_cast<int64_t>(options.in_flight);
  js_options.PublishAsync.AckHandler = &OnBaselineAck;
  js_options.PublishAsync.AckHandlerClosure = &acks;
  NatsClient client = ConnectClient(stream.url, "ledger-bench-baseline", &js_options);
  FreshStream(client.js.get(), stream);
  const std::string subject =
      transport::EventSubject(stream.subject_prefix, EventType::kAssetChanged);
  const std::string payload(payload_bytes, 'x');
  const RoundMeter meter(target.server_pid);
  for (std::uint64_t i = 0; i < options.events; ++i) {
    while (true) {
      const natsStatus s = js_PublishAsync(client.js.get(), subject.c_str(), payload.data(),
                                           static_cast<int>(payload.size()), nullptr);
      if (s == NATS_OK) break;
      if (s != NATS_TIMEOUT) Die(transport::NatsError("baseline publish", s).message);
      if (SecondsSince(meter.started()) * 1000 > kMeasurementTimeoutMs) {
        Die("baseline publish stalled");
      }
    }
  }
  jsPubOptions wait;
  jsPubOptions_Init(&wait);
  wait.MaxWait = kMeasurementTimeoutMs;
  const natsStatus s = js_PublishAsyncComplete(client.js.get(), &wait);
  const RoundResult result = meter.Finish(options.events);
  if (s != NATS_OK) Die(transport::NatsError("waiting for the baseline's acks", s).message);
  if (acks.failed.load() > 0 || acks.acked.load() != options.events ||
      StoredMessages(client.js.get(), stream.stream) != options.events) {
    Die("baseline: " + std::to_string(acks.acked.load()) + " acked, " +
        std::to_string(acks.failed.load()) + " refused of " + std::to_string(options.events));
  }
  return result;
}

// Forgets the outbox cursor an earlier round saved ("cursor", nats_publisher.h): Start() would
// report it as acknowledged until the publisher has read the fresh stream's end.
void ForgetOutboxCursor(Store& store) {
  rocksdb::ColumnFamilyHandle* outbox = store.ColumnFamily(transport::kOutboxFamily);
  LEDGER_ASSERT(outbox != nullptr);
  const rocksdb::Status status = store.db()->Delete(rocksdb::WriteOptions(), outbox, "cursor");
  if (!status.ok()) Die("deleting the outbox cursor: " + status.ToString());
}

// The ledger's publisher over the pre-filled `store`, on a fresh stream.
RoundResult PublisherRound(Store& store, const PublishOptions& options, const Target& target) {
  const transport::NatsStreamOptions& stream = target.stream;
  NatsClient client = ConnectClient(stream.url, "ledger-bench-admin", nullptr);
  FreshStream(client.js.get(), stream);
  ForgetOutboxCursor(store);
  Metrics metrics;
  transport::NatsPublisher publisher(store, metrics,
                                     {.stream = stream, .in_flight_max = options.in_flight});
  const RoundMeter meter(target.server_pid);
  if (auto ok = publisher.Start(); !ok) Die("publisher: " + ok.error().message);
  const std::uint64_t acked = publisher.WaitForAcked(options.events, kMeasurementTimeoutMs * 1000);
  const RoundResult result = meter.Finish(options.events);
  if (acked < options.events) {
    const transport::PublisherStatus status = publisher.Snapshot();
    Die("publisher: only " + std::to_string(acked) + " of " + std::to_string(options.events) +
        " acknowledged (" + status.state + (status.error ? ": " + status.error->message : "") +
        ")");
  }
  publisher.Stop();
  const std::uint64_t stored = StoredMessages(client.js.get(), stream.stream);
  if (stored != options.events) {
    Die("publisher: the stream holds " + std::to_string(stored) + " messages, not " +
        std::to_string(options.events));
  }
  return result;
}

struct ThroughputFigures {
  std::vector<RoundResult> baseline;
  std::vector<RoundResult> publisher;
  bool server_cpu_known = false;  // Only for a private nats-server.
};

// "12.34 us", or "n/a" when the server is not ours to measure.
std::string ServerCpuText(double us_per_event, bool known) {
  char text[32];
  if (!known) return "n/a";
  std::snprintf(text, sizeof text, "%.2f us", us_per_event);
  return text;
}

void PrintRound(int round, bool baseline_first, const RoundResult& baseline,
                const RoundResult& publisher, bool server_cpu_known) {
  std::printf("round %d (%s first):\n", round, baseline_first ? "baseline" : "publisher");
  for (const auto& [name, result] : {std::pair{"baseline async publish", &baseline},
                                     std::pair{"ledger publisher", &publisher}}) {
    std::printf("  %-23s %7.0f events/s  CPU/event: %6.2f us here, %s nats-server\n", name,
                result->events_per_second, result->cpu_us_per_event,
                ServerCpuText(result->server_cpu_us_per_event, server_cpu_known).c_str());
  }
  std::printf("  ratio publisher/baseline %.2f\n",
              publisher.events_per_second / baseline.events_per_second);
  std::fflush(stdout);
}

// R rounds, alternating which of the two goes first.
ThroughputFigures RunRounds(Store& store, const PublishOptions& options, const Target& target,
                            std::size_t payload_bytes) {
  ThroughputFigures figures;
  figures.server_cpu_known = target.server_pid > 0;
  for (int round = 1; round <= options.rounds; ++round) {
    const bool baseline_first = round % 2 == 1;
    RoundResult baseline;
    RoundResult publisher;
    if (baseline_first) baseline = BaselineRound(options, target, payload_bytes);
    publisher = PublisherRound(store, options, target);
    if (!baseline_first) baseline = BaselineRound(options, target, payload_bytes);
    PrintRound(round, baseline_first, baseline, publisher, figures.server_cpu_known);
    figures.baseline.push_back(baseline);
    figures.publisher.push_back(publisher);
  }
  return figures;
}

// --- Commit-to-subscriber latency ---------------------------------------------------------------

// One slot per position (index 0 unused); each written by one thread, read after both stopped.
struct Timeline {
  explicit Timeline(std::size_t positions)
      : committed_ns(positions + 1, 0),
        committed_wall_ns(positions + 1, 0),
        stored_wall_ns(positions + 1, 0),
        received_ns(positions + 1, 0),
        received_wall_ns(positions + 1, 0) {}
  // Written by the sequencer's callbacks.
  std::vector<std::int64_t> committed_ns;
  std::vector<std::int64_t> committed_wall_ns;
  // Written by the subscriber: JetStream's stored timestamp, and when the message arrived.
  std::vector<std::int64_t> stored_wall_ns;
  std::vector<std::int64_t> received_ns;
  std::vector<std::int64_t> received_wall_ns;
  std::atomic<std::uint64_t> received{0};
  std::atomic<std::uint64_t> duplicates{0};
  std::atomic<std::uint64_t> out_of_range{0};
};

// Reads the stream through an ordered consumer until `stop`, stamping each position's arrival.
void Subscribe(jsCtx* js, Timeline& timeline, const std::atomic<bool>& stop) {
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = kStreamName;
  sub_options.Ordered = true;
  natsSubscription* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const std::string subjects = std::string(kSubjectPrefix) + ".>";
  natsStatus s = js_SubscribeSync(&raw, js, subjects.c_str(), nullptr, &sub_options, &code);
  if (s != NATS_OK) Die(transport::NatsError("subscribing to the stream", s, code).message);
  transport::NatsSubscriptionPtr subscription(raw);
  while (!stop.load()) {
    natsMsg* message = nullptr;
    s = natsSubscription_NextMsg(&message, subscription.get(), 100);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) Die(transport::NatsError("receiving from the stream", s).message);
    const std::int64_t now = NowNs();
    const std::int64_t now_wall = WallNs();
    transport::NatsMsgPtr owned(message);
    const auto text = transport::HeaderValue(message, transport::kHeaderPosition);
    std::uint64_t position = 0;
    if (!text) continue;
    std::from_chars(text->data(), text->data() + text->size(), position);
    if (position == 0 || position >= timeline.received_ns.size()) {
      timeline.out_of_range.fetch_add(1);
      continue;
    }
    if (timeline.received_ns[position] != 0) {
      timeline.duplicates.fetch_add(1);
      continue;
    }
    timeline.received_ns[position] = now;
    timeline.received_wall_ns[position] = now_wall;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, message) == NATS_OK) {
      timeline.stored_wall_ns[position] = meta->Timestamp;
      jsMsgMetaData_Destroy(meta);
    }
    timeline.received.fetch_add(1, std::memory_order_release);
  }
}

// Submits `count` commands at `rate` per second; returns once all are durable. Returns the rate
// actually reached.
double SubmitPaced(commands::Sequencer& sequencer, std::uint64_t count, double rate,
                   Timeline& timeline) {
  std::mt19937_64 rng(7);
  auto commands = MakeChangeAssetCommands(count, kAccounts, 0, rng);
  std::atomic<std::uint64_t> done{0};
  std::atomic<std::uint64_t> failed{0};
  const auto interval = std::chrono::duration<double>(1.0 / rate);
  const auto started = Clock::now();
  for (std::uint64_t i = 0; i < count; ++i) {
    const auto due =
        started + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
    if (Clock::now() < due) std::this_thread::sleep_until(due);
    auto result = sequencer.Submit(std::move(commands[i]), [&](auto outcome) {
      if (outcome && outcome->event.envelope.position < timeline.committed_ns.size()) {
        timeline.committed_ns[outcome->event.envelope.position] = NowNs();
        timeline.committed_wall_ns[outcome->event.envelope.position] = WallNs();
      } else {
        failed.fetch_add(1, std::memory_order_relaxed);
      }
      done.fetch_add(1, std::memory_order_release);
    });
    if (!result) Die("submit failed: " + result.error().message);
  }
  const double elapsed = SecondsSince(started);
  while (done.load(std::memory_order_acquire) < count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (failed.load() > 0) Die(std::to_string(failed.load()) + " latency commands failed");
  return static_cast<double>(count) / elapsed;
}

struct LatencyFigures {
  double submit_rate = 0;
  std::uint64_t expected = 0;
  std::uint64_t received = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t out_of_range = 0;
  std::vector<double> latencies_us;  // received - committed, per position received.
  // The same split at the time JetStream stored the message (wall clocks).
  std::vector<double> to_stored_us;
  std::vector<double> stored_to_received_us;
};

// The latencies of every position both committed and received. Call once both writers stopped.
void CollectLatencies(const Timeline& timeline, LatencyFigures& figures) {
  figures.received = timeline.received.load();
  figures.duplicates = timeline.duplicates.load();
  figures.out_of_range = timeline.out_of_range.load();
  auto us = [](std::int64_t from_ns, std::int64_t to_ns) {
    return static_cast<double>(to_ns - from_ns) / 1e3;
  };
  for (std::size_t position = 1; position < timeline.received_ns.size(); ++position) {
    if (timeline.received_ns[position] == 0 || timeline.committed_ns[position] == 0) continue;
    figures.latencies_us.push_back(
        us(timeline.committed_ns[position], timeline.received_ns[position]));
    if (timeline.stored_wall_ns[position] == 0) continue;
    figures.to_stored_us.push_back(
        us(timeline.committed_wall_ns[position], timeline.stored_wall_ns[position]));
    figures.stored_to_received_us.push_back(
        us(timeline.stored_wall_ns[position], timeline.received_wall_ns[position]));
  }
}

// Waits until the subscriber holds `count` positions or the timeout passes.
void WaitForReceived(const Timeline& timeline, std::uint64_t count) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kMeasurementTimeoutMs);
  while (timeline.received.load(std::memory_order_acquire) < count && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// A fresh log in `log_path` with the sequencer and the publisher running, and a subscriber.
LatencyFigures MeasureLatency(const PublishOptions& options, const Target& target,
                              const std::string& log_path) {
  const transport::NatsStreamOptions& stream = target.stream;
  std::unique_ptr<Store> store = OpenLog(log_path);
  const auto count = static_cast<std::uint64_t>(options.rate * options.seconds);
  Timeline timeline(count);
  NatsClient client = ConnectClient(stream.url, "ledger-bench-subscriber", nullptr);
  FreshStream(client.js.get(), stream);
  std::atomic<bool> stop{false};
  std::thread subscriber([&] { Subscribe(client.js.get(), timeline, stop); });

  Metrics metrics;
  SystemClock clock;
  commands::Sequencer sequencer(*store, clock, metrics);
  if (auto started = sequencer.Start(); !started) Die(started.error().message);
  transport::NatsPublisher publisher(*store, metrics,
                                     {.stream = stream, .in_flight_max = options.in_flight});
  if (auto started = publisher.Start(); !started) Die("publisher: " + started.error().message);

  LatencyFigures figures;
  figures.expected = count;
  figures.submit_rate = SubmitPaced(sequencer, count, options.rate, timeline);
  (void)publisher.WaitForAcked(count, kMeasurementTimeoutMs * 1000);
  WaitForReceived(timeline, count);
  stop = true;
  subscriber.join();
  publisher.Stop();
  sequencer.Stop();

  CollectLatencies(timeline, figures);
  DeleteStream(client.js.get(), stream.stream);
  return figures;
}

// --- Output -------------------------------------------------------------------------------------

// The median of one figure over rounds.
double MedianOf(const std::vector<RoundResult>& rounds, double RoundResult::*figure) {
  std::vector<double> values;
  for (const RoundResult& round : rounds) values.push_back(round.*figure);
  return Median(std::move(values));
}

void PrintThroughput(const ThroughputFigures& figures, const PublishOptions& options,
                     std::size_t payload_bytes) {
  constexpr double kTargetEventsPerSecond = 100'000;
  std::printf(
      "publish (median of %d rounds, %llu events each, payload %zu bytes, %zu in flight):\n",
      options.rounds, static_cast<unsigned long long>(options.events), payload_bytes,
      options.in_flight);
  std::printf("  %-42s %9s  %s\n", "", "events/s", "CPU/event: here, nats-server");
  for (const auto& [name, rounds] :
       {std::pair{"plain async JetStream publish (baseline)", &figures.baseline},
        std::pair{"ledger NatsPublisher", &figures.publisher}}) {
    std::printf("  %-42s %9.0f  %6.2f us, %s\n", name,
                MedianOf(*rounds, &RoundResult::events_per_second),
                MedianOf(*rounds, &RoundResult::cpu_us_per_event),
                ServerCpuText(MedianOf(*rounds, &RoundResult::server_cpu_us_per_event),
                              figures.server_cpu_known)
                    .c_str());
  }
  const double publisher = MedianOf(figures.publisher, &RoundResult::events_per_second);
  std::printf("  ratio publisher/baseline (of the medians)  %9.2f\n",
              publisher / MedianOf(figures.baseline, &RoundResult::events_per_second));
  std::printf("  target >= %.0f events/s: %s\n", kTargetEventsPerSecond,
              publisher >= kTargetEventsPerSecond ? "met" : "not met");
  std::printf("  (CPU: user + system time of this process and of the private nats-server)\n");
}

// One row of percentiles over `values` (sorted here), in microseconds.
void PrintPercentiles(const char* name, std::vector<double>& values) {
  if (values.empty()) return;
  std::sort(values.begin(), values.end());
  std::printf("  %-32s p50 %7.0f  p99 %7.0f  p999 %7.0f  max %7.0f  min %6.0f us\n", name,
              Percentile(values, 0.5), Percentile(values, 0.99), Percentile(values, 0.999),
              values.back(), values.front());
}

void PrintLatency(LatencyFigures& figures, const PublishOptions& options) {
  std::printf(
      "commit-to-subscriber latency (%.0f commands/s asked, %.0f reached, %.0f s, "
      "%zu in flight):\n",
      options.rate, figures.submit_rate, options.seconds, options.in_flight);
  std::printf("  received %llu of %llu events (%s); duplicates %llu, unknown positions %llu\n",
              static_cast<unsigned long long>(figures.received),
              static_cast<unsigned long long>(figures.expected),
              figures.received == figures.expected ? "all" : "NOT ALL",
              static_cast<unsigned long long>(figures.duplicates),
              static_cast<unsigned long long>(figures.out_of_range));
  PrintPercentiles("commit -> subscriber", figures.latencies_us);
  PrintPercentiles("  commit -> stored in the stream", figures.to_stored_us);
  PrintPercentiles("  stored -> subscriber", figures.stored_to_received_us);
  const auto negative = std::count_if(figures.latencies_us.begin(), figures.latencies_us.end(),
                                      [](double latency) { return latency < 0; });
  std::printf(
      "  commit = the submit callback (command durable); subscriber = an ordered consumer\n"
      "  receiving the event (%lld arrived before their callback ran); stored = JetStream's\n"
      "  timestamp of the message (wall clocks, nats-server on this host)\n",
      static_cast<long long>(negative));
}

PublishOptions ParsePublish(std::span<char* const> args) {
  PublishOptions options;
  for (const auto& [flag, value] : FlagPairs(args)) {
    if (flag == "--nats")
      options.nats_url = value;
    else if (flag == "--events")
      options.events = ParseNumber<std::uint64_t>(flag, value);
    else if (flag == "--rounds")
      options.rounds = ParseNumber<int>(flag, value);
    else if (flag == "--in-flight")
      options.in_flight = ParseNumber<std::size_t>(flag, value);
    else if (flag == "--rate")
      options.rate = ParseNumber<double>(flag, value);
    else if (flag == "--seconds")
      options.seconds = ParseNumber<double>(flag, value);
    else
      Usage(("unknown flag " + flag).c_str());
  }
  if (options.events == 0 || options.rounds <= 0 || options.in_flight == 0 ||
      options.in_flight > kNatsInFlightMax || !(options.rate > 0) || !(options.seconds > 0) ||
      options.rate * options.seconds < 1 || options.rate * options.seconds > kLatencyCommandsMax) {
    Usage("flags out of range");
  }
  return options;
}

}  // namespace

int RunPublishCommand(std::span<char* const> args) {
  const PublishOptions options = ParsePublish(args);
  // Static, so that Die()'s exit() still stops the server and removes the files (the scratch
  // dir is created first, so it is removed last).
  static const auto scratch = std::make_unique<TempOrGiven>("", "publish");
  static std::unique_ptr<PrivateNatsServer> server;
  std::string url = options.nats_url;
  if (url.empty()) {
    server = std::make_unique<PrivateNatsServer>();
    url = server->url();
  }
  const Target target{BenchStream(url), server ? server->pid() : 0};
  std::printf("publish: nats %s (%s), stream %s\n", url.c_str(),
              server ? "private nats-server" : "given", kStreamName);
  {
    std::unique_ptr<Store> store = OpenLog(scratch->path() + "/throughput-log");
    const auto prefill_started = Clock::now();
    Prefill(*store, options.events);
    const double prefill_seconds = SecondsSince(prefill_started);
    const std::size_t payload_bytes = MedianEventBytes(*store);
    std::printf("pre-filled %llu events in %.1f s; median stored event %zu bytes\n",
                static_cast<unsigned long long>(options.events), prefill_seconds, payload_bytes);
    std::fflush(stdout);
    const ThroughputFigures figures = RunRounds(*store, options, target, payload_bytes);
    PrintThroughput(figures, options, payload_bytes);
    std::fflush(stdout);
  }
  LatencyFigures latency = MeasureLatency(options, target, scratch->path() + "/latency-log");
  PrintLatency(latency, options);
  server.reset();
  return latency.received == latency.expected ? 0 : 1;
}

}  // namespace ledger::bench
