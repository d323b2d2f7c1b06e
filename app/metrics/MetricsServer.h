// MetricsServer: a small HTTP/1.1 server (Boost.Beast) for /metrics and /healthz. It owns its
// own io_context and one thread; it serves one connection at a time (read one request with a
// deadline, answer, `Connection: close`), which is plenty for a scraper and a health probe.
//
// Contract: the constructor binds and listens on `address` ("HOST:PORT", port 0 = any free
// port) and throws PgmorphError (Operator) with the address and the reason when it cannot
// (address in use, unknown host); after that the thread serves until the destructor, which
// stops the io_context and joins the thread (RAII: it stops with the command).
//
// Thread-safety: `handler` is called on the server's thread only, one request at a time; it
// must only read state that other threads publish safely (Metrics, Health lock).
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace pgmorph {

struct HttpAnswer {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
};

class MetricsServer {
 public:
  // `target` is the request's path (query string included). `what` names the address's
  // origin in the bind error ("metrics.listen", "--metrics-address").
  using Handler = std::function<HttpAnswer(const std::string& target)>;

  MetricsServer(const std::string& address, Handler handler, const std::string& what);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  unsigned short port() const;  // the port bound (useful with port 0)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgmorph
