#include "tests/support/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace ledger::testing {
namespace {

constexpr const char* kNatsServer = "/usr/sbin/nats-server";  // Debian puts it in sbin.

[[noreturn]] void Abort(const std::string& what) {
  std::fprintf(stderr, "NatsServer: %s\n", what.c_str());
  std::abort();
}

sockaddr_in Loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A port the kernel considers free right now.
std::uint16_t FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Abort("socket() failed");
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    Abort("cannot bind a loopback port");
  }
  ::close(fd);
  return ntohs(address.sin_port);
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

NatsServer::NatsServer() {
  if (::access(kNatsServer, X_OK) != 0) {
    Abort(std::string(kNatsServer) + " is missing: install the nats-server package");
  }
  port_ = FreePort();
  Launch();
}

NatsServer::~NatsServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
  }
}

std::string NatsServer::url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

void NatsServer::Launch() {
  const std::string port = std::to_string(port_);
  const std::string store = dir_.Sub("jetstream");
  const std::string log = dir_.Sub("nats-server.log");
  pid_ = ::fork();
  if (pid_ < 0) Abort("fork() failed");
  if (pid_ == 0) {
    const int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(null, STDERR_FILENO);
    std::vector<const char*> argv = {kNatsServer, "-js",  "-sd",         store.c_str(),
                                     "-a",        "127.0.0.1", "-p",     port.c_str(),
                                     "-l",        log.c_str(), nullptr};
    ::execv(kNatsServer, const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!Accepts(port_)) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      Abort("nats-server exited at start; see " + log);
    }
    if (std::chrono::steady_clock::now() > deadline) Abort("nats-server did not start in 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void NatsServer::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void NatsServer::Restart() {
  Kill();
  Launch();
}

}  // namespace ledger::testing
