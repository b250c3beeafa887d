// Binding an HTTP server and waiting for it to listen, the same way for the provider's service
// and the clinic. Templates over the server type (cpp-httplib's Server / SSLServer) so that
// lc_common itself never links cpp-httplib.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "common/error.h"

namespace leukocrypt {

// Binds `http` to host:port; port 0 picks a free port. Returns the port. IoError when refused.
template <class Http>
int bind_http(Http& http, const std::string& host, int port) {
  if (port == 0) {
    const int bound = http.bind_to_any_port(host);
    if (bound <= 0) throw IoError("cannot bind " + host + " to a free port");
    return bound;
  }
  if (!http.bind_to_port(host, port))
    throw IoError("cannot bind " + host + ":" + std::to_string(port) + " (in use or not permitted)");
  return port;
}

// Waits up to 5 s for `http` (serving on another thread) to accept connections, so that start()
// returns a port a client can use at once. IoError naming `who` when it does not.
template <class Http>
void wait_until_listening(const Http& http, int port, const std::string& who) {
  for (int i = 0; i < 500 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (!http.is_running()) throw IoError(who + " did not start listening on port " + std::to_string(port));
}

}  // namespace leukocrypt
