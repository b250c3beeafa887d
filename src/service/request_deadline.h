// Whole-request deadline for the HTTP server (slowloris). cpp-httplib 0.11 times out single reads
// only: a client that sends one byte before every read timeout keeps an HTTP thread reading its
// request head (or a small body) for as long as it likes, and a few such clients take all
// threads. RequestDeadline closes that gap from outside httplib: a watchdog thread looks at the
// process's sockets accepted on the server's port once per `tick`, and a connection that has been
// receiving one request for longer than its allowance (`limit` plus the declared body at
// `min_body_rate`) gets a 408 JSON answer (plain HTTP) and is shut down; the blocked read then
// fails and httplib closes it. The clock of a connection starts when it is first seen, stops when
// its request has been handled (post-routing: the response is being written, which the write
// timeout bounds) and restarts after the response (a keep-alive connection's next request).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

namespace leukocrypt::service {

class RequestDeadline {
 public:
  using Clock = std::chrono::steady_clock;
  // tls: no 408 body (raw bytes would break the TLS stream), the connection is only shut down.
  RequestDeadline(int port, std::chrono::milliseconds limit, double min_body_rate, bool tls,
                  std::chrono::milliseconds tick = std::chrono::milliseconds(250));
  ~RequestDeadline();
  RequestDeadline(const RequestDeadline&) = delete;
  RequestDeadline& operator=(const RequestDeadline&) = delete;

  // From the server's hooks, with httplib's Request::remote_addr / remote_port.
  void head_received(const std::string& addr, int port, std::uint64_t declared_body);  // pre-routing
  void handled(const std::string& addr, int port);                                     // post-routing
  void responded(const std::string& addr, int port);                                   // logger
  std::uint64_t cut_off() const { return cut_off_; }  // connections shut down so far

 private:
  struct Conn {
    Clock::time_point since;
    Clock::duration allowance;
    bool reading = true;
    bool seen = false;  // still present in the last scan
  };
  void loop();
  void scan();
  static std::string key(const std::string& addr, int port) { return addr + " " + std::to_string(port); }

  const int port_;
  const std::chrono::milliseconds limit_, tick_;
  const double min_body_rate_;
  const bool tls_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::string, Conn> conns_;  // peer "addr port" -> state, under mu_
  std::atomic<std::uint64_t> cut_off_{0};
  std::thread thread_;
};

}  // namespace leukocrypt::service
