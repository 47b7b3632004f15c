#include "transport/local_nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace ledger::transport {
namespace {

// Debian installs it in sbin; other layouts in bin.
constexpr const char* kNatsServerPaths[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server"};
constexpr auto kStartTimeout = std::chrono::seconds(20);

Error Unavailable(std::string message) {
  return MakeError(ErrorKind::kUnavailable, "nats_server_unavailable", std::move(message));
}

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A loopback port the kernel considers free right now (0 if none).
std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  return bound ? ntohs(address.sin_port) : 0;
}

bool Accepts(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address = Loopback(port);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Result<std::unique_ptr<LocalNatsServer>> LocalNatsServer::Start(std::string dir) {
  std::string binary;
  for (const char* path : kNatsServerPaths) {
    if (::access(path, X_OK) == 0) {
      binary = path;
      break;
    }
  }
  if (binary.empty()) {
    return std::unexpected(
        Unavailable("nats-server is missing (looked in /usr/sbin and /usr/bin): install the "
                    "nats-server package"));
  }
  const std::uint16_t port = FreePort();
  if (port == 0) return std::unexpected(Unavailable("cannot find a free loopback port"));
  std::unique_ptr<LocalNatsServer> server(new LocalNatsServer(std::move(dir), binary, port));
  if (auto launched = server->Launch(); !launched) return std::unexpected(launched.error());
  return server;
}

LocalNatsServer::~LocalNatsServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string LocalNatsServer::url() const {
  return "nats://127.0.0.1:" + std::to_string(port_);
}

Status LocalNatsServer::Launch() {
  const std::string port = std::to_string(port_);
  const std::string store = dir_ + "/jetstream";
  const std::string log = dir_ + "/nats-server.log";
  pid_ = ::fork();
  if (pid_ < 0) return std::unexpected(Unavailable("fork() failed"));
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // Do not outlive a crashed test or benchmark.
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    const char* argv[] = {binary_.c_str(), "-js",        "-sd", store.c_str(), "-a",   "127.0.0.1",
                          "-p",            port.c_str(), "-l",  log.c_str(),   nullptr};
    ::execv(binary_.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  while (!Accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return std::unexpected(Unavailable("nats-server exited at start; see " + log));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      Kill();
      return std::unexpected(Unavailable("nats-server did not accept connections within 20 s"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Ok();
}

void LocalNatsServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Status LocalNatsServer::Restart() {
  Kill();
  return Launch();
}

}  // namespace ledger::transport
