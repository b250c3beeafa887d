// Whole-request deadline (see request_deadline.h).
#include "service/request_deadline.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <vector>

namespace leukocrypt::service {
namespace {

// "addr port" of a socket's peer (numeric, as httplib reports it) and its local port; false for
// anything that is not a connected TCP socket.
bool endpoints(int fd, std::string& peer, int& local_port) {
  sockaddr_storage local{}, remote{};
  socklen_t ll = sizeof local, rl = sizeof remote;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &ll) != 0) return false;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &rl) != 0) return false;
  char buf[INET6_ADDRSTRLEN] = {};
  int rport = 0;
  if (remote.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&remote);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    rport = ntohs(a->sin_port);
    local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  } else if (remote.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&remote);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    rport = ntohs(a->sin6_port);
    local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  } else {
    return false;
  }
  peer = std::string(buf) + " " + std::to_string(rport);
  return true;
}

// The process's open descriptors (sockets among them).
std::vector<int> open_fds() {
  std::vector<int> fds;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') fds.push_back(std::atoi(e->d_name));
    closedir(d);
  }
  return fds;
}

constexpr char k408[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: 102\r\n\r\n"
    "{\"error\":{\"status\":408,\"code\":\"request_timeout\",\"message\":\"request not received within the deadline\"}}";

}  // namespace

RequestDeadline::RequestDeadline(int port, std::chrono::milliseconds limit, double min_body_rate, bool tls,
                                 std::chrono::milliseconds tick)
    : port_(port), limit_(limit), tick_(tick), min_body_rate_(min_body_rate), tls_(tls) {
  thread_ = std::thread([this] { loop(); });
}

RequestDeadline::~RequestDeadline() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void RequestDeadline::head_received(const std::string& addr, int port, std::uint64_t declared_body) {
  std::lock_guard lock(mu_);
  auto [it, fresh] = conns_.try_emplace(key(addr, port), Conn{Clock::now(), limit_});
  if (!it->second.reading) it->second = Conn{Clock::now(), limit_};  // a keep-alive request before the logger ran
  it->second.allowance += std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(double(declared_body) / min_body_rate_));
}

void RequestDeadline::handled(const std::string& addr, int port) {
  std::lock_guard lock(mu_);
  if (auto it = conns_.find(key(addr, port)); it != conns_.end()) it->second.reading = false;
}

void RequestDeadline::responded(const std::string& addr, int port) {
  std::lock_guard lock(mu_);
  if (auto it = conns_.find(key(addr, port)); it != conns_.end()) it->second = Conn{Clock::now(), limit_};
}

void RequestDeadline::loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, tick_, [this] { return stop_; })) {
    lock.unlock();
    scan();
    lock.lock();
  }
}

void RequestDeadline::scan() {
  struct Found {
    int fd;
    std::string peer;
  };
  std::vector<Found> found;
  for (int fd : open_fds()) {
    std::string peer;
    int local = 0;
    if (endpoints(fd, peer, local) && local == port_) found.push_back({fd, peer});
  }
  const auto now = Clock::now();
  std::vector<Found> late;
  {
    std::lock_guard lock(mu_);
    for (auto& [k, c] : conns_) c.seen = false;
    for (const auto& f : found) {
      auto [it, fresh] = conns_.try_emplace(f.peer, Conn{now, limit_});
      Conn& c = it->second;
      c.seen = true;
      if (c.reading && now - c.since > c.allowance) late.push_back(f);
    }
    std::erase_if(conns_, [](const auto& kv) { return !kv.second.seen; });
  }
  for (const auto& f : late) {
    std::string peer;
    int local = 0;
    if (!endpoints(f.fd, peer, local) || peer != f.peer || local != port_) continue;  // closed or reused meanwhile
    if (!tls_) (void)send(f.fd, k408, sizeof k408 - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(f.fd, SHUT_RDWR);
    ++cut_off_;
  }
}

}  // namespace leukocrypt::service
