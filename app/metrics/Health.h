// Health: what `/healthz` answers, as the follow loop last reported it. The follow thread
// writes (starting, streaming, down, stopped, lag); the HTTP thread reads (verdict).
//
// Thread-safety: all members lock one mutex; any thread may call any of them.
// Verdict: healthy only while streaming (connected to both sides) with the lag under
// `maxLagSeconds`; otherwise the one-line reason: not streaming yet, which side is down and
// why, lag too high, or stopped on an error.
#pragma once

#include <mutex>
#include <string>

namespace pgmorph {

class Health {
 public:
  explicit Health(double maxLagSeconds) : maxLagSeconds_(maxLagSeconds) {}

  struct Verdict {
    bool healthy = false;
    std::string reason;  // one line; "streaming" when healthy
  };

  void starting(const std::string& what);  // before streaming (snapshot, connecting)
  // A new attempt to connect: keeps the reason of a side that was down (it still is until the
  // stream runs again), otherwise as starting("connecting").
  void connecting();
  void streaming();                         // connected to both sides, stream started
  void down(const std::string& reason);     // a session failed; the command will retry
  void stopped(const std::string& reason);  // the command gave up (needs an operator)
  void setLagSeconds(double seconds);
  // A stalled walsender (Heartbeat::stallReason()): unhealthy with that reason; "" = none.
  void setStalled(const std::string& reason);

  Verdict verdict() const;

  // "target down: <message>" / "source down: <message>" for a failed session's error, by the
  // side it came from (PgError::side(): "replication" is the source); "retrying: <message>"
  // when the side is not known.
  static std::string describeFailure(const std::string& side, const std::string& message);
  // The side as metrics label it: "target", "source" or "unknown".
  static std::string sideLabel(const std::string& side);

 private:
  enum class Phase { Starting, Streaming, Down, Stopped };
  mutable std::mutex mutex_;
  double maxLagSeconds_;
  Phase phase_ = Phase::Starting;
  std::string reason_ = "not streaming yet";
  double lagSeconds_ = 0;
  std::string stalled_;
};

}  // namespace pgmorph
