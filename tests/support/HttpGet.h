// httpGet: one plain HTTP/1.1 GET to 127.0.0.1 with Boost.Beast, for the tests of pgmorph's
// /metrics and /healthz. Header-only (Beast is too). Status 0 when nothing answered within the
// deadline (not listening yet, or gone): the caller decides whether that is a failure.
#pragma once

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <exception>
#include <string>

namespace pgmorph::test {

struct HttpReply {
  int status = 0;  // 0: could not connect or no answer
  std::string body;
};

inline HttpReply httpGet(int port, const std::string& target,
                         std::chrono::seconds deadline = std::chrono::seconds(5)) {
  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(deadline);
    stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    return {static_cast<int>(res.result_int()), res.body()};
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace pgmorph::test
