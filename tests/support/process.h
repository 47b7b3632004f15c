// A child process for tests that run the built binaries (ledgerd, ledger-tail): stdout read
// line by line, stderr collected, signals, exit status. Killed (SIGKILL) if still running when
// destroyed.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "ledger/status.h"

namespace ledger::testing {

// A child process with its stdout and stderr piped to us.
class Process {
 public:
  explicit Process(std::vector<std::string> args) {
    int out[2];
    int err[2];
    LEDGER_ASSERT(::pipe2(out, O_CLOEXEC) == 0 && ::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    LEDGER_ASSERT(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::dup2(err[1], STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    stdout_ = out[0];
    stderr_ = err[0];
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stdout_);
    ::close(stderr_);
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // The next line on stdout, or nullopt after `timeout` or at EOF.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      if (const std::size_t newline = buffer_.find('\n'); newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd fd{stdout_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0) {
        return std::nullopt;
      }
      char chunk[512];
      const ssize_t n = ::read(stdout_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // Every line on stdout until EOF (or `timeout`).
  std::vector<std::string> ReadAllLines(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> lines;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto line = ReadLine(std::max(left, std::chrono::milliseconds(0)));
      if (!line) return lines;
      lines.push_back(std::move(*line));
    }
  }

  // Everything the process wrote to stderr so far (non-blocking).
  std::string Stderr() {
    pollfd fd{stderr_, POLLIN, 0};
    char chunk[4096];
    while (::poll(&fd, 1, 0) > 0) {
      const ssize_t n = ::read(stderr_, chunk, sizeof chunk);
      if (n <= 0) break;
      stderr_text_.append(chunk, static_cast<std::size_t>(n));
    }
    return stderr_text_;
  }

  void Signal(int number) { ::kill(pid_, number); }

  // The exit status (WEXITSTATUS, or 128 + signal), or nullopt if still running at `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

 private:
  pid_t pid_ = -1;
  int stdout_ = -1;
  int stderr_ = -1;
  bool exited_ = false;
  std::string buffer_;
  std::string stderr_text_;
};

// The first token in a ledgerd tokens file (the admin token ledgerd created).
inline std::string AdminToken(const std::string& tokens_path) {
  std::ifstream file(tokens_path);
  std::string line;
  while (std::getline(file, line)) {
    if (!line.empty() && line[0] != '#') return line.substr(0, line.find(' '));
  }
  return "";
}

}  // namespace ledger::testing
