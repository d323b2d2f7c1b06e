// BinaryRun: the real pgmorph binary (PGMORPH_BINARY) as a child process of an app test, its
// stdout and stderr to files: what a person at a terminal or a service manager sees. Running()
// children are killed (SIGKILL) and reaped when the object goes, so a failing assertion leaves
// no pgmorph streaming from a slot.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgmorph::test {

class BinaryRun {
 public:
  // Starts `pgmorph <args...>`; output to `<base>.stdout` and `<base>.stderr`.
  BinaryRun(const std::vector<std::string>& args, std::string base) : base_(std::move(base)) {
    std::vector<std::string> argv{PGMORPH_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      if (!freopen("/dev/null", "r", stdin) || !freopen((base_ + ".stdout").c_str(), "w", stdout) ||
          !freopen((base_ + ".stderr").c_str(), "w", stderr))
        _exit(127);
      std::vector<char*> raw;
      for (auto& a : argv) raw.push_back(a.data());
      raw.push_back(nullptr);
      execv(raw[0], raw.data());
      _exit(127);
    }
  }
  ~BinaryRun() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      int w = 0;
      waitpid(pid_, &w, 0);
    }
    std::remove((base_ + ".stdout").c_str());
    std::remove((base_ + ".stderr").c_str());
  }
  BinaryRun(const BinaryRun&) = delete;
  BinaryRun& operator=(const BinaryRun&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) {
    if (!status_) ::kill(pid_, sig);
  }
  // The exit code (128 + signal when killed), or nullopt if still running after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (!status_) {
      int w = 0;
      pid_t r = waitpid(pid_, &w, WNOHANG);
      if (r == pid_) {
        status_ = WIFEXITED(w) ? WEXITSTATUS(w) : 128 + WTERMSIG(w);
        break;
      }
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return status_;
  }
  std::string out() const { return slurp(base_ + ".stdout"); }
  std::string err() const { return slurp(base_ + ".stderr"); }

  // Runs to the end (at most `timeout`): the exit code, -1 when it had to be killed.
  static int run(const std::vector<std::string>& args, const std::string& base, std::string* out,
                 std::string* err, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    BinaryRun p(args, base);
    auto code = p.wait(timeout);
    if (out) *out = p.out();
    if (err) *err = p.err();
    return code.value_or(-1);
  }

 private:
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string base_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace pgmorph::test
