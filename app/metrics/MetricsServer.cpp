#include "app/metrics/MetricsServer.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <thread>

#include "cdc/model/Errors.h"

namespace pgmorph {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct MetricsServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  Handler handler;
  std::thread thread;

  // One connection at a time: accept, read a request (5 s at most), answer, close, repeat.
  struct Connection {
    explicit Connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
  };

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec != asio::error::operation_aborted) accept();
        return;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      conn->stream.expires_after(std::chrono::seconds(5));
      http::async_read(conn->stream, conn->buffer, conn->request,
                       [this, conn](boost::system::error_code rec, std::size_t) {
                         if (rec) {
                           close(*conn);
                           return accept();
                         }
                         answer(conn);
                       });
    });
  }

  void answer(const std::shared_ptr<Connection>& conn) {
    HttpAnswer a;
    if (conn->request.method() != http::verb::get && conn->request.method() != http::verb::head) {
      a = {405, "text/plain; charset=utf-8", "only GET\n"};
    } else {
      try {
        a = handler(std::string(conn->request.target()));
      } catch (const std::exception& e) {
        a = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
      }
    }
    auto& res = conn->response;
    res.version(conn->request.version());
    res.result(static_cast<http::status>(a.status));
    res.set(http::field::content_type, a.contentType);
    res.keep_alive(false);
    res.body() = std::move(a.body);
    res.prepare_payload();
    if (conn->request.method() == http::verb::head) res.body().clear();
    http::async_write(conn->stream, res, [this, conn](boost::system::error_code, std::size_t) {
      close(*conn);
      accept();
    });
  }

  static void close(Connection& conn) {
    boost::system::error_code ignored;
    conn.stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    conn.stream.socket().close(ignored);
  }
};

MetricsServer::MetricsServer(const std::string& address, Handler handler, const std::string& what)
    : impl_(std::make_unique<Impl>()) {
  impl_->handler = std::move(handler);
  auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("{} '{}' is not HOST:PORT (e.g. 127.0.0.1:9187)", what, address));
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);  // [::1]:9187
  std::string port = address.substr(colon + 1);
  boost::system::error_code ec;
  tcp::resolver resolver(impl_->io);
  auto endpoints = resolver.resolve(host, port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty())
    throw PgmorphError(ErrorClass::Operator,
                       fmt::format("cannot serve metrics on {} ({}): {}", address, what,
                                   ec ? ec.message() : "no address"));
  tcp::endpoint endpoint = endpoints.begin()->endpoint();
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw PgmorphError(
        ErrorClass::Operator,
        fmt::format("cannot serve metrics on {} ({}): {}{}", address, what, ec.message(),
                    ec == asio::error::address_in_use
                        ? "; another process listens there: pick another port"
                        : ""));
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get()] {
    try {
      impl->io.run();
    } catch (const std::exception& e) {
      spdlog::error("metrics server stopped: {}", e.what());
    }
  });
  spdlog::info("serving /metrics and /healthz on http://{}:{}", host, this->port());
}

MetricsServer::~MetricsServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

unsigned short MetricsServer::port() const {
  return impl_->acceptor.local_endpoint().port();
}

}  // namespace pgmorph
