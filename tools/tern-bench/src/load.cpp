#include "load.hpp"

#include "clock.hpp"
#include "coap_wire.hpp"
#include "timer_wheel.hpp"

#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <vector>

namespace tern::bench {

std::atomic<bool> stop_requested{false};

void load_result::merge(const load_result& o) {
    sent += o.sent;
    ok += o.ok;
    responses += o.responses;
    timeouts += o.timeouts;
    rst += o.rst;
    unsent += o.unsent;
    for (size_t i = 0; i < codes.size(); ++i) codes[i] += o.codes[i];
    latency.merge(o.latency);
    responses_total += o.responses_total;
    ok_total += o.ok_total;
    separate += o.separate;
    empty_acks += o.empty_acks;
    retransmissions += o.retransmissions;
    stray += o.stray;
    malformed += o.malformed;
    send_errors += o.send_errors;
    icmp_errors += o.icmp_errors;
    mid_reuse_clients += o.mid_reuse_clients;
    notifications += o.notifications;
    observe_registered += o.observe_registered;
    observe_rejected += o.observe_rejected;
    observe_failed += o.observe_failed;
    observe_ended += o.observe_ended;
    observe_cancelled += o.observe_cancelled;
    if (o.window_start_ns && (!window_start_ns || o.window_start_ns < window_start_ns))
        window_start_ns = o.window_start_ns;
    window_end_ns = std::max(window_end_ns, o.window_end_ns);
    warmup_ns = std::max(warmup_ns, o.warmup_ns);
}

double load_result::window_seconds() const {
    if (window_end_ns <= window_start_ns) return 0;
    return static_cast<double>(window_end_ns - window_start_ns) / 1e9;
}

namespace {

// RFC 7252 §4.8 transmission parameters.
constexpr uint32_t ack_timeout_ms = 2000;
constexpr double ack_random_factor = 1.5;
constexpr unsigned max_retransmit = 4;
constexpr uint64_t exchange_lifetime_ns = 247ull * 1'000'000'000u;

constexpr unsigned recv_batch = 32;
constexpr size_t recv_buffer = 65536;  // a whole datagram: a truncated one is unparseable
constexpr unsigned send_batch = 64;
constexpr uint64_t max_wait_ns = 50'000'000;  // keep noticing stop_requested
constexpr uint64_t teardown_max_ns = 1'000'000'000;
constexpr uint64_t spin_below_ns = 100'000;

uint64_t ms_of(uint64_t ns) { return ns / 1'000'000u; }

// Completion step of the start barrier: one start time for every thread's schedule.
struct start_gate {
    std::atomic<uint64_t>* start_ns;
    void operator()() noexcept {
        // A short lead so every thread is back in its loop before the first due send.
        start_ns->store(mono_ns() + 2'000'000, std::memory_order_release);
    }
};

enum class slot_state : uint8_t { free, wait, acked, active };
enum class slot_kind : uint8_t { request, observe };
enum class phase : uint8_t { setup, load, drain, teardown, done };

struct slot {
    timer_node timer;  // first member: a fired node converts back to its slot
    uint64_t intended_ns = 0;
    uint64_t sent_ns = 0;
    uint64_t seq = 0;
    uint32_t device = 0;
    uint32_t rand = 0;
    uint32_t client = 0;
    uint32_t rto_ms = 0;
    uint16_t mid = 0;
    uint8_t token[8]{};
    uint8_t token_len = 0;
    uint8_t retries = 0;
    slot_state state = slot_state::free;
    slot_kind kind = slot_kind::request;
    bool measured = false;
    bool cancelling = false;
};
static_assert(std::is_standard_layout_v<slot>);

struct client {
    int fd = -1;
    uint32_t global = 0;
    uint16_t next_mid = 0;
    uint16_t token_mask = 0;
    uint32_t first_device = 0;  // into worker::device_seq_
    uint32_t device_count = 0;
    uint32_t next_device = 0;
    uint32_t obs_cursor = 0;
    uint32_t obs_pending = 0;
    uint64_t messages = 0;  // MIDs consumed
    uint64_t first_message_ns = 0;
    uint64_t wrapped_ns = 0;  // when `messages` first passed 65536
    // Recently ACKed MIDs of CON responses: a retransmitted response is ACKed again,
    // not answered with RST (RFC 7252 §4.5).
    std::array<uint16_t, 8> acked{};
    uint8_t acked_pos = 0;
    uint8_t acked_count = 0;
};

class worker {
public:
    worker(const load_options& o, uint32_t tid, std::barrier<start_gate>& gate,
           const std::atomic<uint64_t>& start_ns)
        : o_(o), tid_(tid), gate_(gate), gate_start_ns_(start_ns),
          rng_(std::random_device{}() ^ (uint64_t{tid} << 32) ^ mono_ns()),
          wheel_(ms_of(mono_ns())) {}

    ~worker() {
        for (auto& c : clients_)
            if (c.fd >= 0) ::close(c.fd);
        if (ep_ >= 0) ::close(ep_);
    }

    bool open(std::string& error);
    void run();
    load_result result;

private:
    // --- set-up ---
    uint32_t slot_index(uint32_t client, uint32_t idx) const { return client * stride_ + idx; }

    // --- sending ---
    uint8_t* stage(int fd);
    void commit(size_t len);
    void flush();
    void send_request(slot& s, uint64_t now);
    void send_observe(slot& s, uint64_t now, uint32_t observe_value);
    size_t encode(slot& s, uint8_t* buf, size_t cap, bool observe, uint32_t observe_value);
    uint16_t take_mid(client& c, uint64_t now);
    void new_token(slot& s, const client& c, uint32_t idx);
    void arm_first(slot& s, uint64_t now);

    // --- receiving ---
    void receive(client& c);
    void handle(client& c, const uint8_t* d, size_t n, uint64_t now);
    slot* by_token(client& c, const coap::message& m);
    slot* by_mid(client& c, uint16_t mid);
    void complete(slot& s, uint8_t code, uint64_t now, bool separate);
    void observe_answer(client& c, slot& s, const coap::message& m);
    void release(slot& s);
    void on_timer(timer_node& n);
    bool recently_acked(client& c, uint16_t mid) const;
    void remember_ack(client& c, uint16_t mid);

    // --- phases ---
    void run_setup(uint64_t now);
    void issue(uint64_t now);
    void start_teardown(uint64_t now);
    uint64_t intended(uint64_t k) const;
    uint64_t first_due_at_or_after(uint64_t t) const;
    void finish_window(uint64_t now);

    const load_options& o_;
    const uint32_t tid_;
    std::barrier<start_gate>& gate_;
    const std::atomic<uint64_t>& gate_start_ns_;
    rng rng_;
    timer_wheel wheel_;
    int ep_ = -1;

    std::vector<client> clients_;
    std::vector<slot> slots_;
    std::vector<uint64_t> device_seq_;
    uint32_t stride_ = 0;
    uint32_t obs_per_client_ = 0;

    // Free request slots, FIFO: popping walks the sockets round-robin.
    std::vector<uint32_t> ring_;
    uint64_t ring_head_ = 0;
    uint64_t ring_tail_ = 0;
    uint64_t in_flight_ = 0;
    uint64_t obs_pending_ = 0;

    // Staged datagrams, flushed with one sendmmsg per run of the same socket.
    size_t slot_bytes_ = 0;
    std::vector<uint8_t> out_arena_;
    struct staged {
        int fd;
        uint32_t len;
    };
    std::vector<staged> out_;
    std::vector<mmsghdr> out_hdr_;
    std::vector<iovec> out_iov_;

    std::vector<uint8_t> in_arena_;
    std::vector<mmsghdr> in_hdr_;
    std::vector<iovec> in_iov_;
    std::vector<char> scratch_;

    phase phase_ = phase::setup;
    uint64_t start_ns_ = 0;
    uint64_t warmup_end_ns_ = 0;
    uint64_t measure_end_ns_ = UINT64_MAX;
    uint64_t quota_ = UINT64_MAX;  // --requests share of this thread
    uint64_t measured_issued_ = 0;
    uint64_t next_k_ = 0;  // pacing sequence number
    uint64_t finish_ns_ = 0;
    uint64_t last_response_ns_ = 0;
    uint64_t teardown_end_ns_ = 0;
    double ns_per_request_ = 0;  // --rate: spacing of the whole process
};

bool worker::open(std::string& error) {
    const uint32_t total_clients = o_.clients;
    const uint32_t threads = o_.threads;
    uint32_t mine = 0;
    for (uint32_t g = tid_; g < total_clients; g += threads) ++mine;

    obs_per_client_ = o_.observe ? static_cast<uint32_t>((o_.devices + total_clients - 1) / total_clients) : 0;
    stride_ = o_.concurrency + obs_per_client_;
    clients_.resize(mine);
    slots_.resize(static_cast<size_t>(mine) * stride_);
    ring_.resize(static_cast<size_t>(mine) * o_.concurrency);

    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
        error = std::string("epoll_create1: ") + std::strerror(errno);
        return false;
    }
    uint32_t device_total = 0;
    for (uint32_t l = 0; l < mine; ++l) {
        client& c = clients_[l];
        c.global = tid_ + l * threads;
        c.next_mid = static_cast<uint16_t>(rng_.next());
        c.token_mask = static_cast<uint16_t>(rng_.next());
        c.first_device = device_total;
        c.device_count = static_cast<uint32_t>((o_.devices - c.global + total_clients - 1) / total_clients);
        device_total += c.device_count;

        c.fd = ::socket(o_.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) {
            error = std::string("socket: ") + std::strerror(errno) +
                    (errno == EMFILE ? " (raise `ulimit -n` or use fewer --clients)" : "");
            return false;
        }
        const int buf = 1 << 20;  // bursts of K responses per socket must not drop here
        ::setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
        const sockaddr_storage& to = o_.targets.empty() ? o_.addr : o_.targets[c.global % o_.targets.size()];
        if (::connect(c.fd, reinterpret_cast<const sockaddr*>(&to), o_.addr_len) != 0) {
            error = std::string("connect to ") + format_address(to) + ": " + std::strerror(errno);
            return false;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = l;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
            error = std::string("epoll_ctl: ") + std::strerror(errno);
            return false;
        }
        for (uint32_t i = 0; i < stride_; ++i) {
            slot& s = slots_[slot_index(l, i)];
            s.client = l;
            s.kind = i < o_.concurrency ? slot_kind::request : slot_kind::observe;
        }
    }
    // Free slots interleave across sockets so consecutive pops hit different sockets.
    {
        uint64_t n = 0;
        for (uint32_t i = 0; i < o_.concurrency; ++i)
            for (uint32_t l = 0; l < mine; ++l) ring_[n++] = slot_index(l, i);
        ring_tail_ = n;
    }
    device_seq_.assign(device_total, 0);

    slot_bytes_ = std::max<size_t>(o_.max_message, 64);
    out_arena_.resize(slot_bytes_ * send_batch);
    out_.reserve(send_batch);
    out_hdr_.resize(send_batch);
    out_iov_.resize(send_batch);
    in_arena_.resize(recv_buffer * recv_batch);
    in_hdr_.resize(recv_batch);
    in_iov_.resize(recv_batch);
    for (unsigned i = 0; i < recv_batch; ++i) {
        in_iov_[i] = {in_arena_.data() + i * recv_buffer, recv_buffer};
        in_hdr_[i].msg_hdr = {};
        in_hdr_[i].msg_hdr.msg_iov = &in_iov_[i];
        in_hdr_[i].msg_hdr.msg_iovlen = 1;
    }
    scratch_.resize(o_.max_message + 64);

    const uint64_t total = o_.requests;
    if (total) quota_ = total / threads + (tid_ < total % threads ? 1 : 0);
    if (o_.rate > 0) ns_per_request_ = 1e9 / o_.rate;
    return true;
}

// ---------------------------------------------------------------- sending

uint8_t* worker::stage(int fd) {
    if (out_.size() == send_batch) flush();
    out_.push_back({fd, 0});
    return out_arena_.data() + (out_.size() - 1) * slot_bytes_;
}

void worker::commit(size_t len) { out_.back().len = static_cast<uint32_t>(len); }

void worker::flush() {
    size_t i = 0;
    while (i < out_.size()) {
        const int fd = out_[i].fd;
        size_t j = i;
        while (j < out_.size() && out_[j].fd == fd) {
            out_iov_[j - i] = {out_arena_.data() + j * slot_bytes_, out_[j].len};
            out_hdr_[j - i].msg_hdr = {};
            out_hdr_[j - i].msg_hdr.msg_iov = &out_iov_[j - i];
            out_hdr_[j - i].msg_hdr.msg_iovlen = 1;
            ++j;
        }
        size_t done = 0;
        const size_t count = j - i;
        bool retried = false;
        while (done < count) {
            const int rc = ::sendmmsg(fd, out_hdr_.data() + done, static_cast<unsigned>(count - done), 0);
            if (rc > 0) {
                done += static_cast<size_t>(rc);
                continue;
            }
            if (rc < 0 && errno == EINTR) continue;
            if (rc < 0 && errno == ECONNREFUSED) {
                // A queued ICMP error from an earlier datagram; this one was not sent yet.
                ++result.icmp_errors;
                if (!retried) {
                    retried = true;
                    continue;
                }
            }
            // EAGAIN/ENOBUFS or a repeat refusal: drop this datagram; its request times out.
            ++result.send_errors;
            ++done;
        }
        i = j;
    }
    out_.clear();
}

uint16_t worker::take_mid(client& c, uint64_t now) {
    if (c.messages == 0) c.first_message_ns = now;
    if (++c.messages == 65537) c.wrapped_ns = now;
    return c.next_mid++;
}

void worker::new_token(slot& s, const client& c, uint32_t idx) {
    // Random 4..8 bytes; the first two carry the slot number (masked per socket), so a
    // response finds its request without a hash table.
    s.token_len = static_cast<uint8_t>(4 + rng_.below(5));
    const uint64_t r = rng_.next();
    std::memcpy(s.token, &r, 8);
    const uint16_t tag = static_cast<uint16_t>(idx ^ c.token_mask);
    s.token[0] = static_cast<uint8_t>(tag >> 8);
    s.token[1] = static_cast<uint8_t>(tag);
}

size_t worker::encode(slot& s, uint8_t* buf, size_t cap, bool observe, uint32_t observe_value) {
    const render_context ctx{s.device, s.seq, s.rand};
    const uint8_t type = (observe || o_.confirmable) ? coap::type_con : coap::type_non;
    const uint8_t code = observe ? coap::code_get : o_.method;
    coap::writer w(buf, cap);
    w.header(type, code, s.mid, s.token, s.token_len);
    if (observe) w.option_uint(coap::opt_observe, observe_value);
    const auto& path = observe ? o_.observe_path : o_.path;
    const auto& query = observe ? o_.observe_query : o_.query;
    char* sc = scratch_.data();
    const size_t sc_cap = scratch_.size();
    for (const auto& seg : path) {
        const size_t n = seg.render(sc, sc_cap, ctx, &o_.token_pattern);
        if (n == SIZE_MAX) return 0;
        w.option(coap::opt_uri_path, sc, n);
    }
    if (!observe && o_.content_format >= 0)
        w.option_uint(coap::opt_content_format, static_cast<uint32_t>(o_.content_format));
    for (const auto& seg : query) {
        const size_t n = seg.render(sc, sc_cap, ctx, &o_.token_pattern);
        if (n == SIZE_MAX) return 0;
        w.option(coap::opt_uri_query, sc, n);
    }
    if (!observe && o_.has_payload) {
        size_t room = 0;
        uint8_t* p = w.begin_payload(room);
        if (!p) return 0;
        const size_t n = o_.payload_protobuf.empty()
                             ? o_.payload.render(reinterpret_cast<char*>(p), room, ctx, &o_.token_pattern)
                             : o_.payload_protobuf.render(p, room, ctx, &o_.token_pattern);
        if (n == SIZE_MAX) return 0;
        w.end_payload(n);
    }
    return w.ok() ? w.size() : 0;
}

void worker::arm_first(slot& s, uint64_t now) {
    const bool con = s.kind == slot_kind::observe || o_.confirmable;
    if (o_.retransmit && con) {
        // Initial timeout is random in [ACK_TIMEOUT, ACK_TIMEOUT * ACK_RANDOM_FACTOR].
        s.rto_ms = ack_timeout_ms +
                   rng_.below(static_cast<uint32_t>(ack_timeout_ms * (ack_random_factor - 1)) + 1);
        wheel_.arm(s.timer, ms_of(now) + s.rto_ms);
    } else {
        wheel_.arm(s.timer, ms_of(now) + o_.timeout_ms);
    }
}

void worker::send_request(slot& s, uint64_t now) {
    client& c = clients_[s.client];
    // Each socket serves its own devices round-robin.
    const uint32_t j = c.next_device;
    c.next_device = (j + 1 == c.device_count) ? 0 : j + 1;
    s.device = c.global + j * o_.clients;
    s.seq = ++device_seq_[c.first_device + j];
    s.rand = rng_.below(1000);
    s.mid = take_mid(c, now);
    new_token(s, c, static_cast<uint32_t>(&s - &slots_[slot_index(s.client, 0)]));
    s.sent_ns = now;
    s.retries = 0;
    s.state = slot_state::wait;
    uint8_t* buf = stage(c.fd);
    const size_t n = encode(s, buf, slot_bytes_, false, 0);
    commit(n);
    if (n == 0) ++result.send_errors;  // cannot happen: max_message bounds every render
    arm_first(s, now);
    ++in_flight_;
}

void worker::send_observe(slot& s, uint64_t now, uint32_t observe_value) {
    client& c = clients_[s.client];
    s.mid = take_mid(c, now);
    s.sent_ns = now;
    s.intended_ns = now;
    s.retries = 0;
    s.state = slot_state::wait;
    uint8_t* buf = stage(c.fd);
    const size_t n = encode(s, buf, slot_bytes_, true, observe_value);
    commit(n);
    arm_first(s, now);
    ++obs_pending_;
    ++c.obs_pending;
}

// ---------------------------------------------------------------- receiving

void worker::receive(client& c) {
    for (unsigned i = 0; i < recv_batch; ++i) in_hdr_[i].msg_hdr.msg_flags = 0;
    const int n = ::recvmmsg(c.fd, in_hdr_.data(), recv_batch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
        if (errno == ECONNREFUSED) ++result.icmp_errors;
        return;
    }
    const uint64_t now = mono_ns();
    for (int i = 0; i < n; ++i) {
        if (in_hdr_[i].msg_hdr.msg_flags & MSG_TRUNC) {
            ++result.malformed;
            continue;
        }
        handle(c, static_cast<const uint8_t*>(in_iov_[i].iov_base), in_hdr_[i].msg_len, now);
    }
}

slot* worker::by_token(client& c, const coap::message& m) {
    if (m.token_len < 2) return nullptr;
    const uint32_t idx = static_cast<uint16_t>((m.token[0] << 8 | m.token[1]) ^ c.token_mask);
    if (idx >= stride_) return nullptr;
    slot& s = slots_[slot_index(static_cast<uint32_t>(&c - clients_.data()), idx)];
    if (s.token_len != m.token_len || std::memcmp(s.token, m.token, m.token_len) != 0) return nullptr;
    if (s.state == slot_state::free) return nullptr;
    return &s;
}

slot* worker::by_mid(client& c, uint16_t mid) {
    // Only empty ACKs and RSTs get here, which are rare; a scan keeps slots small.
    const uint32_t l = static_cast<uint32_t>(&c - clients_.data());
    for (uint32_t i = 0; i < stride_; ++i) {
        slot& s = slots_[slot_index(l, i)];
        if (s.state == slot_state::wait && s.mid == mid) return &s;
    }
    return nullptr;
}

bool worker::recently_acked(client& c, uint16_t mid) const {
    for (uint8_t i = 0; i < c.acked_count; ++i)
        if (c.acked[i] == mid) return true;
    return false;
}

void worker::remember_ack(client& c, uint16_t mid) {
    c.acked[c.acked_pos] = mid;
    c.acked_pos = static_cast<uint8_t>((c.acked_pos + 1) % c.acked.size());
    if (c.acked_count < c.acked.size()) ++c.acked_count;
}

void worker::handle(client& c, const uint8_t* d, size_t n, uint64_t now) {
    coap::message m;
    if (!coap::parse(d, n, m)) {
        ++result.malformed;
        return;
    }
    auto reply_empty = [&](uint8_t type) {
        uint8_t* b = stage(c.fd);
        commit(coap::write_empty(b, type, m.mid));
    };

    if (m.type == coap::type_ack) {
        if (m.code == coap::code_empty) {
            slot* s = by_mid(c, m.mid);
            if (!s) {
                ++result.stray;
                return;
            }
            // The server will answer separately (RFC 7252 §5.2.2): stop retransmitting
            // and give the response the full --timeout from now.
            ++result.empty_acks;
            s->state = slot_state::acked;
            if (o_.retransmit) wheel_.arm(s->timer, ms_of(now) + o_.timeout_ms);
            return;
        }
        slot* s = by_token(c, m);
        if (!s || s->state != slot_state::wait || s->mid != m.mid || !coap::is_response(m.code)) {
            ++result.stray;
            return;
        }
        if (s->kind == slot_kind::observe) observe_answer(c, *s, m);
        else complete(*s, m.code, now, false);
        return;
    }

    if (m.type == coap::type_rst) {
        slot* s = by_mid(c, m.mid);
        if (!s) {
            ++result.stray;
            return;
        }
        wheel_.cancel(s->timer);
        if (s->kind == slot_kind::observe) {
            if (s->cancelling) ++result.observe_cancelled;
            else ++result.observe_failed;
            s->state = slot_state::free;
            s->cancelling = false;
            --obs_pending_;
            --c.obs_pending;
            return;
        }
        if (s->measured) ++result.rst;
        release(*s);
        return;
    }

    // CON or NON from the server.
    const bool con = m.type == coap::type_con;
    if (!coap::is_response(m.code)) {
        // An empty CON is a CoAP ping (answered with RST, §4.3); requests to a client
        // are refused the same way.
        if (con) reply_empty(coap::type_rst);
        if (m.code != coap::code_empty) ++result.stray;
        return;
    }
    if (con && recently_acked(c, m.mid)) {
        reply_empty(coap::type_ack);  // our ACK was lost: the server retransmitted
        ++result.stray;
        return;
    }
    slot* s = by_token(c, m);
    if (!s) {
        // Unknown token: reject CON so the server stops retransmitting or observing.
        if (con) reply_empty(coap::type_rst);
        ++result.stray;
        return;
    }
    if (con) {
        reply_empty(coap::type_ack);
        remember_ack(c, m.mid);
    }
    if (s->kind == slot_kind::request) {
        complete(*s, m.code, now, true);
        return;
    }
    if (s->state == slot_state::active) {
        if (m.has_observe && coap::code_class(m.code) == 2) {
            ++result.notifications;
        } else {
            // A final response without Observe (or an error) ends the observation.
            ++result.observe_ended;
            s->state = slot_state::free;
        }
        return;
    }
    if (s->state == slot_state::wait || s->state == slot_state::acked) {
        if (s->cancelling && m.has_observe) {
            ++result.notifications;  // one more before the deregistration is answered
            return;
        }
        observe_answer(c, *s, m);
        return;
    }
    ++result.stray;
}

void worker::complete(slot& s, uint8_t code, uint64_t now, bool separate) {
    wheel_.cancel(s.timer);
    ++result.responses_total;
    if (coap::code_class(code) == 2) ++result.ok_total;
    if (separate) ++result.separate;
    if (s.measured) {
        ++result.responses;
        ++result.codes[code];
        if (coap::code_class(code) == 2) ++result.ok;
        result.latency.record(now - s.intended_ns);
        last_response_ns_ = now;
    }
    release(s);
}

void worker::observe_answer(client& c, slot& s, const coap::message& m) {
    wheel_.cancel(s.timer);
    --obs_pending_;
    --c.obs_pending;
    if (s.cancelling) {
        s.cancelling = false;
        s.state = slot_state::free;
        ++result.observe_cancelled;
        return;
    }
    if (coap::code_class(m.code) == 2 && m.has_observe) {
        s.state = slot_state::active;
        ++result.observe_registered;
    } else if (coap::code_class(m.code) == 2) {
        s.state = slot_state::free;
        ++result.observe_rejected;
    } else {
        s.state = slot_state::free;
        ++result.observe_failed;
    }
}

void worker::release(slot& s) {
    s.state = slot_state::free;
    --in_flight_;
    ring_[ring_tail_++ % ring_.size()] = static_cast<uint32_t>(&s - slots_.data());
}

void worker::on_timer(timer_node& n) {
    slot& s = reinterpret_cast<slot&>(n);
    const uint64_t now = mono_ns();
    const bool con = s.kind == slot_kind::observe || o_.confirmable;
    if (o_.retransmit && con && s.state == slot_state::wait && s.retries < max_retransmit) {
        ++s.retries;
        s.rto_ms *= 2;
        ++result.retransmissions;
        client& c = clients_[s.client];
        uint8_t* buf = stage(c.fd);
        commit(encode(s, buf, slot_bytes_, s.kind == slot_kind::observe, s.cancelling ? 1 : 0));
        wheel_.arm(s.timer, ms_of(now) + s.rto_ms);
        return;
    }
    if (s.kind == slot_kind::observe) {
        if (!s.cancelling) ++result.observe_failed;  // an unanswered deregistration just ends
        s.state = slot_state::free;
        s.cancelling = false;
        --obs_pending_;
        --clients_[s.client].obs_pending;
        return;
    }
    if (s.measured) ++result.timeouts;
    release(s);
}

// ---------------------------------------------------------------- phases

void worker::run_setup(uint64_t now) {
    for (uint32_t l = 0; l < clients_.size(); ++l) {
        client& c = clients_[l];
        while (c.obs_pending < o_.concurrency && c.obs_cursor < c.device_count) {
            const uint32_t j = c.obs_cursor++;
            slot& s = slots_[slot_index(l, o_.concurrency + j)];
            s.device = c.global + j * o_.clients;
            s.seq = 0;
            s.rand = 0;
            s.cancelling = false;
            new_token(s, c, o_.concurrency + j);
            send_observe(s, now, 0);
        }
    }
}

void worker::start_teardown(uint64_t now) {
    phase_ = phase::teardown;
    teardown_end_ns_ = now + std::min<uint64_t>(teardown_max_ns, uint64_t{o_.timeout_ms} * 1'000'000u);
    for (auto& s : slots_) {
        if (s.kind != slot_kind::observe || s.state != slot_state::active) continue;
        // RFC 7641 §3.6: a GET with Observe=1 and the same token deregisters.
        s.cancelling = true;
        send_observe(s, now, 1);
    }
}

uint64_t worker::intended(uint64_t k) const {
    // Thread t takes the t-th of every T evenly spaced slots of the whole schedule.
    const double index = static_cast<double>(k) * o_.threads + tid_;
    return start_ns_ + static_cast<uint64_t>(index * ns_per_request_);
}

void worker::issue(uint64_t now) {
    const bool paced = ns_per_request_ > 0;
    while (ring_head_ != ring_tail_) {
        const uint64_t due = paced ? intended(next_k_) : now;
        if (due > now) return;
        if (due >= measure_end_ns_ || stop_requested.load(std::memory_order_relaxed)) {
            finish_window(now);
            return;
        }
        const bool measured = due >= warmup_end_ns_;
        if (measured && measured_issued_ >= quota_) {
            finish_window(now);
            return;
        }
        slot& s = slots_[ring_[ring_head_++ % ring_.size()]];
        ++next_k_;
        s.intended_ns = due;
        s.measured = measured;
        if (measured) {
            ++measured_issued_;
            ++result.sent;
        }
        send_request(s, now);
    }
}

uint64_t worker::first_due_at_or_after(uint64_t t) const {
    // Smallest k with intended(k) >= t.
    if (t <= start_ns_) return 0;
    const double x = (static_cast<double>(t - start_ns_) / ns_per_request_ - tid_) / o_.threads;
    return x <= 0 ? 0 : static_cast<uint64_t>(std::ceil(x));
}

void worker::finish_window(uint64_t now) {
    phase_ = phase::drain;
    finish_ns_ = std::min(now, measure_end_ns_);
    if (ns_per_request_ > 0 && !o_.requests) {
        // Requests that were due inside the window but found every socket busy.
        const uint64_t from = std::max(next_k_, first_due_at_or_after(warmup_end_ns_));
        const uint64_t to = first_due_at_or_after(finish_ns_);
        if (to > from) result.unsent += to - from;
    }
}

void worker::run() {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // pacing wants µs wake-ups, not 50 µs
    std::vector<epoll_event> events(256);
    const bool observing = o_.observe && obs_per_client_ > 0;
    bool gate_passed = false;

    auto pass_gate = [&]() {
        gate_.arrive_and_wait();
        gate_passed = true;
        start_ns_ = gate_start_ns_.load(std::memory_order_acquire);
        warmup_end_ns_ = start_ns_ + static_cast<uint64_t>(o_.warmup * 1e9);
        if (!o_.requests) measure_end_ns_ = warmup_end_ns_ + static_cast<uint64_t>(o_.duration * 1e9);
        result.window_start_ns = warmup_end_ns_;
        result.warmup_ns = warmup_end_ns_ - start_ns_;
        phase_ = phase::load;
    };

    if (!observing) pass_gate();
    else run_setup(mono_ns());

    while (phase_ != phase::done) {
        uint64_t now = mono_ns();
        wheel_.advance(ms_of(now), [this](timer_node& n) { on_timer(n); });

        if (phase_ == phase::setup) {
            const bool all_sent = std::all_of(clients_.begin(), clients_.end(), [](const client& c) {
                return c.obs_cursor == c.device_count;
            });
            if (stop_requested.load() || (all_sent && obs_pending_ == 0)) {
                flush();
                pass_gate();
                now = mono_ns();
            } else {
                run_setup(now);
            }
        }
        if (phase_ == phase::load && now >= start_ns_) {
            issue(now);
            // The window closes on time even while every socket waits for an answer.
            if (phase_ == phase::load &&
                (now >= measure_end_ns_ || stop_requested.load(std::memory_order_relaxed)))
                finish_window(now);
        }
        if (phase_ == phase::drain && in_flight_ == 0) {
            if (observing) start_teardown(now);
            else phase_ = phase::done;
        }
        if (phase_ == phase::teardown && (obs_pending_ == 0 || now >= teardown_end_ns_))
            phase_ = phase::done;
        flush();
        if (phase_ == phase::done) break;

        // Sleep until a response, the next due send or the next timer tick.
        uint64_t wake = now + max_wait_ns;
        if (phase_ == phase::load) {
            if (now < start_ns_) wake = std::min(wake, start_ns_);
            else if (ring_head_ != ring_tail_)
                wake = std::min(wake, ns_per_request_ > 0 ? intended(next_k_) + o_.pace_slack_ns : now);
            if (measure_end_ns_ != UINT64_MAX) wake = std::min(wake, std::max(measure_end_ns_, now));
        }
        if (wheel_.armed_count()) wake = std::min(wake, wheel_.next_tick_ms() * 1'000'000u);
        if (phase_ == phase::teardown) wake = std::min(wake, teardown_end_ns_);
        // A timed sleep overshoots by tens of µs (ms on a loaded VM), and with --rate that
        // lag would count as server latency: spin through the last stretch before a send.
        uint64_t wait = (wake > now && !o_.busy_poll) ? wake - now : 0;
        if (wait < spin_below_ns && o_.pace_slack_ns == 0) wait = 0;
        timespec ts{static_cast<time_t>(wait / 1'000'000'000u), static_cast<long>(wait % 1'000'000'000u)};
        const int n = epoll_pwait2(ep_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; ++i) receive(clients_[events[i].data.u32]);
        if (stop_requested.load() && phase_ == phase::load) finish_window(mono_ns());
    }
    flush();
    if (!gate_passed) pass_gate();  // never strand the other threads at the barrier

    if (!finish_ns_) finish_ns_ = mono_ns();
    result.window_end_ns = std::max(finish_ns_, last_response_ns_);
    for (const auto& c : clients_)
        if (c.wrapped_ns && c.wrapped_ns - c.first_message_ns < exchange_lifetime_ns)
            ++result.mid_reuse_clients;
}

}  // namespace

int run_load(const load_options& opts, load_result& result, std::string& error) {
    std::atomic<uint64_t> start_ns{0};
    std::barrier<start_gate> gate(static_cast<std::ptrdiff_t>(opts.threads), start_gate{&start_ns});
    std::vector<std::unique_ptr<worker>> workers;
    for (uint32_t t = 0; t < opts.threads; ++t) {
        workers.push_back(std::make_unique<worker>(opts, t, gate, start_ns));
        if (!workers.back()->open(error)) return 1;
    }
    std::vector<std::thread> threads;
    for (uint32_t t = 1; t < opts.threads; ++t) threads.emplace_back([&, t] { workers[t]->run(); });
    workers[0]->run();
    for (auto& th : threads) th.join();
    for (const auto& w : workers) result.merge(w->result);
    return 0;
}

}  // namespace tern::bench
