#include "transport/binary_server.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <kj/exception.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <variant>

#include "transport/binary_protocol.h"
#include "transport/internal/listener.h"

namespace ledger::transport {
namespace internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using ErrorCode = boost::system::error_code;

std::int64_t SteadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view ViewOf(capnp::Text::Reader text) { return {text.cStr(), text.size()}; }

// Frames written in one gathered write at most.
constexpr std::size_t kWriteGatherFramesMax = 16;
// A frame buffer above this is freed after its frame instead of kept for the next one.
constexpr std::size_t kFrameBufferKeepWords = (1 << 20) / sizeof(capnp::word);

}  // namespace

class BinarySession;

// What the server's sessions share: options, the sequencer, metrics, and the open sessions.
class BinaryCore {
 public:
  BinaryCore(BinaryServerOptions server_options, commands::Sequencer& seq, Metrics& registry,
             const Authenticator& authenticator)
      : work(io.get_executor()),
        acceptor(asio::make_strand(io)),
        accept_retry_timer(acceptor.get_executor()),
        options(std::move(server_options)),
        sequencer(seq),
        auth(authenticator),
        metrics(registry),
        open_gauge(registry.GetGauge("ledger_binary_connections_open",
                                     "Open binary-protocol connections.")),
        refused_connections(registry.GetCounter(
            "ledger_binary_connections_refused_total",
            "Binary connections closed at once because connections_max were open.")),
        tls_handshake_failures(registry.GetCounter(
            "ledger_binary_tls_handshake_failures_total",
            "Binary connections closed because their TLS handshake failed or timed out.")),
        batches(registry.GetCounter("ledger_binary_batches_total",
                                    "Command batches answered over the binary protocol.")),
        accepted(CommandCounter("ok")),
        replayed(CommandCounter("replayed")) {}

  Counter& CommandCounter(std::string_view outcome) {
    return metrics.GetCounter("ledger_binary_commands_total",
                              "Commands answered over the binary protocol, by outcome or error code.",
                              {{"outcome", std::string(outcome)}});
  }

  void CountConnectionError(std::string_view code) {
    metrics
        .GetCounter("ledger_binary_connection_errors_total",
                    "Binary connections closed with a ConnectionError, by code.",
                    {{"code", std::string(code)}})
        .Add();
  }

  std::uint64_t Register(const std::shared_ptr<BinarySession>& session) {
    std::lock_guard lock(mutex_);
    const std::uint64_t id = next_id_++;
    sessions_.emplace(id, session);
    open_gauge.Set(static_cast<double>(sessions_.size()));
    return id;
  }

  void Unregister(std::uint64_t id) {
    std::lock_guard lock(mutex_);
    sessions_.erase(id);
    open_gauge.Set(static_cast<double>(sessions_.size()));
    if (sessions_.empty()) all_closed_.notify_all();
  }

  std::size_t OpenSessions() const {
    std::lock_guard lock(mutex_);
    return sessions_.size();
  }

  std::vector<std::shared_ptr<BinarySession>> Sessions() const {
    std::vector<std::shared_ptr<BinarySession>> open;
    std::lock_guard lock(mutex_);
    for (const auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
    return open;
  }

  bool WaitForNoSessions(std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return all_closed_.wait_for(lock, timeout, [this] { return sessions_.empty(); });
  }

  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  tcp::acceptor acceptor;
  asio::steady_timer accept_retry_timer;
  const BinaryServerOptions options;
  commands::Sequencer& sequencer;
  const Authenticator& auth;
  Metrics& metrics;
  Gauge& open_gauge;
  Counter& refused_connections;
  Counter& tls_handshake_failures;
  Counter& batches;
  Counter& accepted;
  Counter& replayed;
  std::atomic<bool> stopping{false};

 private:
  mutable std::mutex mutex_;
  std::condition_variable all_closed_;
  std::map<std::uint64_t, std::weak_ptr<BinarySession>> sessions_;
  std::uint64_t next_id_ = 1;
};

// One connection. Every handler runs on the socket's strand; the sequencer's callbacks only
// fill their own result slot and, for a batch's last command, post to the strand.
class BinarySession : public std::enable_shared_from_this<BinarySession> {
 public:
  using TlsStream = asio::ssl::stream<tcp::socket>;
  using Stream = std::variant<tcp::socket, TlsStream>;

  BinarySession(std::shared_ptr<BinaryCore> core, tcp::socket socket)
      : core_(std::move(core)),
        stream_(MakeStream(*core_, std::move(socket))),
        read_timer_(Tcp().get_executor()),
        write_timer_(Tcp().get_executor()),
        tls_(std::holds_alternative<TlsStream>(stream_)) {}

  ~BinarySession() {
    if (id_ != 0) core_->Unregister(id_);
  }

  void Start() {
    id_ = core_->Register(shared_from_this());
    ErrorCode ignored;
    Tcp().set_option(tcp::no_delay(true), ignored);
    if (!tls_) return ResumeReading();
    handshaking_ = true;
    ArmReadTimer(core_->options.handshake_timeout, "handshake_timeout");
    std::get<TlsStream>(stream_).async_handshake(
        asio::ssl::stream_base::server,
        [self = shared_from_this()](ErrorCode error) { self->OnHandshake(error); });
  }

  // Thread-safe: answers what was read, then closes with "shutting_down".
  void Shutdown() {
    asio::post(Tcp().get_executor(), [self = shared_from_this()] {
      self->Fail("shutting_down", "ledgerd is stopping; reconnect to another writer or later");
    });
  }

 private:
  // One batch read from the connection, until its results are written.
  struct Batch {
    std::uint64_t request_id = 0;
    std::size_t command_count = 0;
    std::vector<CommandReply> replies;
    std::optional<CommandReply> refused;
    std::atomic<std::size_t> remaining{0};
    bool done = false;  // Strand only.
    // Keeps the session alive while the sequencer holds commands of this batch.
    std::shared_ptr<BinarySession> keep_alive;
  };

  enum class ReadPhase { kNone, kPrefix, kBody };

  static Stream MakeStream(const BinaryCore& core, tcp::socket socket) {
    if (core.options.tls == nullptr) return Stream(std::move(socket));
    return Stream(std::in_place_type<TlsStream>, std::move(socket), core.options.tls->context());
  }

  // The TCP socket, under TLS or not: executor, options, shutdown, close.
  tcp::socket& Tcp() {
    return std::visit(
        [](auto& stream) -> tcp::socket& {
          if constexpr (std::is_same_v<std::decay_t<decltype(stream)>, tcp::socket>) {
            return stream;
          } else {
            return stream.next_layer();
          }
        },
        stream_);
  }

  // Calls `operation(stream)` with the stream frames are read from and written to: one
  // dispatch per operation, nothing per byte on the plain path.
  template <class Operation>
  void WithStream(Operation&& operation) {
    std::visit(std::forward<Operation>(operation), stream_);
  }

  void OnHandshake(ErrorCode error) {
    handshaking_ = false;
    CancelReadTimer();
    if (closed_) return;  // The handshake timed out.
    if (error) {
      core_->tls_handshake_failures.Add();
      return CloseSocket();
    }
    ResumeReading();
  }

  // --- Reading --------------------------------------------------------------------------------

  void ResumeReading() {
    if (read_phase_ != ReadPhase::kNone || closing_ || input_closed_ || closed_) return;
    if (batches_.size() >= core_->options.batches_in_flight_max) return;  // Flush resumes.
    if (client_ == nullptr) {
      ArmReadTimer(core_->options.hello_timeout, "hello_timeout");
    } else {
      ArmReadTimer(core_->options.idle_timeout, "idle_timeout");
    }
    read_phase_ = ReadPhase::kPrefix;
    WithStream([this](auto& stream) {
      asio::async_read(stream, asio::buffer(prefix_),
                       [self = shared_from_this()](ErrorCode error, std::size_t) {
                         self->OnPrefix(error);
                       });
    });
  }

  void OnPrefix(ErrorCode error) {
    if (error) return OnReadError(error, /*mid_frame=*/false);
    auto length = FrameLength(prefix_, core_->options.frame_bytes_max);
    if (!length) {
      read_phase_ = ReadPhase::kNone;
      return Fail(length.error().code, length.error().message);
    }
    const std::size_t words = *length / sizeof(capnp::word);
    if (frame_capacity_ < words) {
      frame_.reset(new capnp::word[words]);
      frame_capacity_ = words;
    }
    frame_words_ = words;
    read_phase_ = ReadPhase::kBody;
    ArmReadTimer(core_->options.io_timeout, "read_timeout");
    WithStream([this, length = *length](auto& stream) {
      asio::async_read(stream, asio::buffer(frame_.get(), length),
                       [self = shared_from_this()](ErrorCode read_error, std::size_t) {
                         self->OnFrame(read_error);
                       });
    });
  }

  void OnReadError(ErrorCode error, bool mid_frame) {
    read_phase_ = ReadPhase::kNone;
    CancelReadTimer();
    if (closed_ || closing_) return MaybeFinish();
    // Under TLS a client that closes its TCP side without close_notify reads as a truncated
    // stream (Asio's mapping); it has ended its input all the same, as a plain FIN does, and
    // the frame prefix still tells a cut-off frame.
    if (error == asio::error::eof || error == asio::ssl::error::stream_truncated) {
      if (mid_frame) return Fail("truncated_frame", "the connection ended inside a frame");
      input_closed_ = true;  // The client is done sending; answer what it sent, then close.
      return MaybeFinish();
    }
    CloseSocket();
  }

  void OnFrame(ErrorCode error) {
    if (error) return OnReadError(error, /*mid_frame=*/true);
    read_phase_ = ReadPhase::kNone;
    CancelReadTimer();
    if (closed_ || closing_) return MaybeFinish();
    try {
      FrameReader reader(std::span<const capnp::word>(frame_.get(), frame_words_));
      if (auto checked = reader.Check(); !checked) {
        Fail(checked.error().code, checked.error().message);
      } else {
        HandleFrame(reader.Root());
      }
    } catch (const kj::Exception& exception) {
      Fail("malformed_frame",
           "the frame is not a valid Cap'n Proto message of protocol.capnp's Frame: " +
               std::string(exception.getDescription().cStr()));
    }
    if (frame_capacity_ > kFrameBufferKeepWords) {
      frame_.reset();
      frame_capacity_ = 0;
    }
    ResumeReading();
  }

  // May throw kj::Exception on a malformed message.
  void HandleFrame(wire::Frame::Reader frame) {
    switch (frame.which()) {
      case wire::Frame::HELLO:
        return HandleHello(frame.getHello());
      case wire::Frame::BATCH:
        return HandleBatch(frame.getBatch());
      case wire::Frame::UNSET:
        return Fail("malformed_frame", "the frame has no member set");
      case wire::Frame::WELCOME:
      case wire::Frame::RESULTS:
      case wire::Frame::ERROR:
        return Fail("unexpected_frame", "a client sends only hello and batch frames");
    }
    Fail("unknown_frame", "unknown frame type " + std::to_string(static_cast<unsigned>(
                                                      frame.which())) +
                              "; this server speaks protocol version " +
                              std::to_string(wire::PROTOCOL_VERSION));
  }

  void HandleHello(wire::Hello::Reader hello) {
    if (client_ != nullptr) return Fail("unexpected_frame", "hello was already sent");
    if (hello.getVersion() != wire::PROTOCOL_VERSION) {
      return Fail("unsupported_version",
                  "this server speaks protocol version " + std::to_string(wire::PROTOCOL_VERSION) +
                      ", the client asked for " + std::to_string(hello.getVersion()));
    }
    const Client* client = core_->auth.Authenticate(ViewOf(hello.getToken()));
    if (client == nullptr) return Fail("unauthenticated", "missing or unknown token");
    if (!client->CanWrite()) {
      return Fail("forbidden", "client '" + client->client_id + "' may not write");
    }
    client_ = client;
    capnp::MallocMessageBuilder message;
    auto welcome = message.initRoot<wire::Frame>().initWelcome();
    welcome.setVersion(wire::PROTOCOL_VERSION);
    welcome.setClientId(capnp::Text::Reader(client->client_id.data(), client->client_id.size()));
    welcome.setBatchCommandsMax(static_cast<std::uint32_t>(core_->options.batch_commands_max));
    welcome.setFrameBytesMax(static_cast<std::uint32_t>(core_->options.frame_bytes_max));
    welcome.setBatchesInFlightMax(
        static_cast<std::uint32_t>(core_->options.batches_in_flight_max));
    Send(EncodeFrame(message));
  }

  // The whole batch refused, nothing submitted.
  static void Refuse(Batch& batch, const Error& error, std::uint32_t retry_after_seconds = 0) {
    batch.replies.clear();
    batch.refused = RejectionReply(error);
    if (retry_after_seconds > 0) batch.refused->retry_after_seconds = retry_after_seconds;
  }

  static commands::CommandCallback DoneCallback(Batch* batch, std::uint32_t index) {
    // Two words: std::function keeps it inline, no allocation per command.
    return [batch, index](Result<commands::CommandOutcome> outcome) {
      batch->replies[index] = ReplyFor(outcome);
      if (batch->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::shared_ptr<BinarySession> session = std::move(batch->keep_alive);
        auto executor = session->Tcp().get_executor();
        asio::post(executor, [session = std::move(session), batch] {
          batch->done = true;
          session->Flush();
        });
      }
    };
  }

  void HandleBatch(wire::CommandBatch::Reader in) {
    if (client_ == nullptr) return Fail("unauthenticated", "send a hello frame first");
    auto batch = std::make_unique<Batch>();
    batch->request_id = in.getRequestId();
    const auto list = in.getCommands();
    const std::size_t count = list.size();
    batch->command_count = count;
    const std::size_t count_max = core_->options.batch_commands_max;
    const auto limit = [count_max] {
      return "a batch carries 1.." + std::to_string(count_max) + " commands";
    };
    if (count == 0) {
      Refuse(*batch, MakeError(ErrorKind::kInvalidArgument, "invalid_argument",
                               limit() + ", this one none"));
    } else if (count > count_max) {
      Refuse(*batch, MakeError(ErrorKind::kTooLarge, "batch_too_large",
                               limit() + ", this one " + std::to_string(count)));
    } else if (client_->limiter != nullptr &&
               static_cast<double>(count) > client_->limiter->limit().burst) {
      Refuse(*batch, MakeError(ErrorKind::kTooLarge, "batch_too_large",
                               "a batch of " + std::to_string(count) +
                                   " commands exceeds the rate-limit burst of client '" +
                                   client_->client_id + "'; send smaller batches"));
    } else if (const int wait = client_->limiter != nullptr
                                    ? client_->limiter->TryAcquire(SteadyNowUs(), count)
                                    : 0;
               wait > 0) {
      Refuse(*batch,
             MakeError(ErrorKind::kRateLimited, "rate_limited",
                       "rate limit of client '" + client_->client_id + "' exceeded"),
             static_cast<std::uint32_t>(wait));
    }
    // Done at once unless commands went to the sequencer: then the last callback marks it.
    batch->done = batch->refused.has_value() || !Submit(*batch, list);
    batches_.push_back(std::move(batch));
    Flush();
  }

  // Decodes the batch's commands and submits the valid ones. True when the sequencer took
  // commands (their callbacks will complete the batch); false when none were submitted.
  bool Submit(Batch& batch, capnp::List<wire::Command>::Reader list) {
    const std::size_t count = list.size();
    batch.replies.resize(count);
    submissions_.clear();
    submissions_.reserve(count);
    for (std::size_t i = 0; i < count; ++i) {
      auto command = DecodeWireCommand(list[i], i, *client_);
      if (!command) {
        batch.replies[i] = RejectionReply(command.error());
        continue;
      }
      submissions_.push_back(commands::Submission{
          std::move(*command), DoneCallback(&batch, static_cast<std::uint32_t>(i))});
    }
    if (submissions_.empty()) return false;
    batch.remaining.store(submissions_.size(), std::memory_order_relaxed);
    batch.keep_alive = shared_from_this();
    if (auto status = core_->sequencer.SubmitAll(submissions_); !status) {
      batch.remaining.store(0, std::memory_order_relaxed);
      batch.keep_alive.reset();
      Refuse(batch, status.error());
      submissions_.clear();
      return false;
    }
    submissions_.clear();
    return true;
  }

  // Writes the results of every finished batch at the front, in order.
  void Flush() {
    while (!batches_.empty() && batches_.front()->done) {
      Batch& batch = *batches_.front();
      CountResults(batch);
      if (!closed_) {
        Send(EncodeResults(batch.request_id, batch.replies,
                           batch.refused ? &*batch.refused : nullptr));
      }
      batches_.pop_front();
    }
    ResumeReading();
    MaybeFinish();
  }

  // Per batch, not per command: one labelled-counter lookup per error code in the batch.
  void CountResults(const Batch& batch) {
    core_->batches.Add();
    if (batch.refused) {
      core_->CommandCounter(batch.refused->code).Add(batch.command_count);
      return;
    }
    std::uint64_t accepted = 0;
    std::uint64_t replayed = 0;
    std::map<std::string_view, std::uint64_t> rejected;
    for (const CommandReply& reply : batch.replies) {
      if (!reply.accepted) {
        ++rejected[reply.code];
      } else if (reply.replayed) {
        ++replayed;
      } else {
        ++accepted;
      }
    }
    for (const auto& [code, count] : rejected) core_->CommandCounter(code).Add(count);
    if (accepted > 0) core_->accepted.Add(accepted);
    if (replayed > 0) core_->replayed.Add(replayed);
  }

  // --- Writing --------------------------------------------------------------------------------

  void Send(std::string frame) {
    if (closed_) return;
    outbox_.push_back(std::move(frame));
    WriteNext();
  }

  void WriteNext() {
    if (writing_ || outbox_.empty() || closed_) return;
    writing_ = true;
    while (!outbox_.empty() && in_write_.size() < kWriteGatherFramesMax) {
      in_write_.push_back(std::move(outbox_.front()));
      outbox_.pop_front();
    }
    buffers_.clear();
    for (const std::string& frame : in_write_) buffers_.emplace_back(asio::buffer(frame));
    write_timer_.expires_after(core_->options.io_timeout);
    write_timer_.async_wait([self = shared_from_this()](ErrorCode error) {
      if (!error && self->writing_) self->CloseSocket();  // The client stopped reading.
    });
    WithStream([this](auto& stream) {
      asio::async_write(stream, buffers_,
                        [self = shared_from_this()](ErrorCode error, std::size_t) {
                          self->OnWrite(error);
                        });
    });
  }

  void OnWrite(ErrorCode error) {
    writing_ = false;
    write_timer_.cancel();
    in_write_.clear();
    if (error) return CloseSocket();
    WriteNext();
    MaybeFinish();
  }

  // --- Ending ---------------------------------------------------------------------------------

  // Stops reading; once every batch read so far is answered, sends ConnectionError{code,
  // message} and closes.
  // Under TLS the pending read is left running instead (a TCP half-close under it would put
  // OpenSSL in an error state that also fails the write of the ConnectionError); closing the
  // socket after that write ends it.
  void Fail(std::string_view code, std::string_view message) {
    if (closing_ || closed_) return;
    if (handshaking_) {  // Nothing can be sent before the handshake: just close.
      if (code != "shutting_down") core_->tls_handshake_failures.Add();
      return CloseSocket();
    }
    closing_ = true;
    core_->CountConnectionError(code);
    close_frame_ = EncodeConnectionError(code, message);
    if (read_phase_ != ReadPhase::kNone && !tls_) {
      ErrorCode ignored;
      Tcp().shutdown(tcp::socket::shutdown_receive, ignored);  // Ends the pending read.
    }
    MaybeFinish();
  }

  void MaybeFinish() {
    if (closed_ || !batches_.empty()) return;
    if (closing_ && close_frame_) {
      Send(std::move(*close_frame_));
      close_frame_.reset();
    }
    if ((closing_ || input_closed_) && outbox_.empty() && !writing_ &&
        (read_phase_ == ReadPhase::kNone || (tls_ && closing_))) {
      CloseSocket();
    }
  }

  void CloseSocket() {
    if (closed_) return;
    closed_ = true;
    CancelReadTimer();
    write_timer_.cancel();
    outbox_.clear();
    ErrorCode ignored;
    Tcp().shutdown(tcp::socket::shutdown_both, ignored);
    Tcp().close(ignored);
  }

  // --- Timers ---------------------------------------------------------------------------------

  void ArmReadTimer(std::chrono::seconds timeout, const char* code) {
    const std::uint64_t generation = ++read_timer_generation_;
    read_timer_.expires_after(timeout);
    read_timer_.async_wait(
        [self = shared_from_this(), generation, code, timeout](ErrorCode error) {
          if (error || generation != self->read_timer_generation_) return;
          self->OnReadTimeout(code, timeout);
        });
  }

  void CancelReadTimer() {
    ++read_timer_generation_;
    read_timer_.cancel();
  }

  void OnReadTimeout(const char* code, std::chrono::seconds timeout) {
    if (read_phase_ == ReadPhase::kPrefix && !batches_.empty()) {
      return ArmReadTimer(timeout, code);  // Not idle: results are still due.
    }
    Fail(code, "no complete frame within " + std::to_string(timeout.count()) + " s");
  }

  std::shared_ptr<BinaryCore> core_;
  Stream stream_;
  asio::steady_timer read_timer_;
  asio::steady_timer write_timer_;
  const bool tls_;
  bool handshaking_ = false;
  std::uint64_t id_ = 0;
  std::uint64_t read_timer_generation_ = 0;

  unsigned char prefix_[kFramePrefixBytes] = {};
  std::unique_ptr<capnp::word[]> frame_;
  std::size_t frame_capacity_ = 0;
  std::size_t frame_words_ = 0;
  ReadPhase read_phase_ = ReadPhase::kNone;

  const Client* client_ = nullptr;
  std::deque<std::unique_ptr<Batch>> batches_;
  std::vector<commands::Submission> submissions_;

  std::deque<std::string> outbox_;
  std::vector<std::string> in_write_;
  std::vector<asio::const_buffer> buffers_;
  bool writing_ = false;

  bool input_closed_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::optional<std::string> close_frame_;
};

namespace {

void Accept(const std::shared_ptr<BinaryCore>& core) {
  std::weak_ptr<BinaryCore> weak = core;
  core->acceptor.async_accept(asio::make_strand(core->io), [weak](ErrorCode error,
                                                                  tcp::socket socket) {
    const std::shared_ptr<BinaryCore> live = weak.lock();
    if (live == nullptr || error == asio::error::operation_aborted || !live->acceptor.is_open()) {
      return;
    }
    if (error) {
      std::fprintf(stderr, "ledgerd: binary accept failed: %s\n", error.message().c_str());
      live->accept_retry_timer.expires_after(std::chrono::milliseconds(100));
      live->accept_retry_timer.async_wait([weak](ErrorCode wait_error) {
        if (auto retry = weak.lock(); retry && !wait_error) Accept(retry);
      });
      return;
    }
    if (live->stopping.load() || live->OpenSessions() >= live->options.connections_max) {
      if (!live->stopping.load()) live->refused_connections.Add();
      ErrorCode ignored;
      socket.close(ignored);
    } else {
      std::make_shared<BinarySession>(live, std::move(socket))->Start();
    }
    Accept(live);
  });
}

}  // namespace
}  // namespace internal

BinaryServer::BinaryServer(BinaryServerOptions options, commands::Sequencer& sequencer,
                           Metrics& metrics, const Authenticator& auth)
    : core_(std::make_shared<internal::BinaryCore>(std::move(options), sequencer, metrics, auth)) {}

BinaryServer::~BinaryServer() { Stop(); }

Status BinaryServer::Start() {
  LEDGER_ASSERT(threads_.empty() && !stopped_);
  auto port = internal::Listen(core_->acceptor, core_->options.host, core_->options.port,
                               "binary protocol");
  if (!port) return std::unexpected(port.error());
  port_ = *port;
  internal::Accept(core_);
  const std::size_t thread_count = std::max<std::size_t>(1, core_->options.threads);
  for (std::size_t i = 0; i < thread_count; ++i) {
    threads_.emplace_back([core = core_] { internal::RunIo(core->io, "binary protocol"); });
  }
  return Ok();
}

void BinaryServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  core_->stopping.store(true);
  boost::asio::post(core_->acceptor.get_executor(), [core = core_] {
    boost::system::error_code ignored;
    core->acceptor.close(ignored);
    core->accept_retry_timer.cancel();
  });
  for (const auto& session : core_->Sessions()) session->Shutdown();
  if (threads_.empty()) return;
  const bool drained = core_->WaitForNoSessions(core_->options.drain_timeout);
  if (!drained) {
    std::fprintf(stderr, "ledgerd: %zu binary connections still open after %lld s; closing\n",
                 core_->OpenSessions(),
                 static_cast<long long>(core_->options.drain_timeout.count()));
  }
  internal::JoinIoThreads(core_->io, core_->work, threads_, drained);
}

}  // namespace ledger::transport
