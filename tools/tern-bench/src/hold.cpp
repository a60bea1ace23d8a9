#include "hold.hpp"

#include "clock.hpp"
#include "coap_wire.hpp"
#include "load.hpp"  // stop_requested
#include "pktinfo_sockets.hpp"
#include "source_map.hpp"
#include "timer_wheel.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <type_traits>
#include <vector>

namespace tern::bench {

namespace {

// RFC 7252 §4.8 transmission parameters.
constexpr uint32_t ack_timeout_ms = 2000;
constexpr uint32_t ack_random_ms = 1000;  // ACK_TIMEOUT x (ACK_RANDOM_FACTOR 1.5 - 1)
constexpr unsigned max_retransmit = 4;
// After an empty ACK, how long the separate response may take before the registration fails.
constexpr uint32_t separate_wait_ms = 30'000;
constexpr uint32_t relost_delay_ms = 1000;    // a lost relation is registered again after this
constexpr uint32_t default_max_age_s = 60;    // RFC 7252 §5.10.5, when a 5.03 carries none
constexpr uint32_t max_age_cap_s = 86'400;
constexpr uint64_t max_wait_ns = 50'000'000;  // keep noticing stop_requested
constexpr uint64_t burst_ns = 20'000'000;     // pacing credit a late wake-up may use at once
constexpr uint64_t pace_slack_ns = 1'000'000; // registrations go out at most this late, in bursts
constexpr size_t recv_size = 2048;
constexpr uint8_t token_len = 4;

enum outcome : uint8_t { none, registered, refused, failed };
enum activity : uint8_t { idle, queued, inflight, acked };
enum kind : uint8_t { first_attempt, again, refresh, busy };

// 6 bytes per relation: the only per-relation state besides the delay heap's reserve.
struct relation {
    uint16_t mid = 0;             // MID of the registration in flight
    uint16_t aux = 0;             // in flight: its window slot; else the last CON notification's MID
    uint8_t outcome : 2 = none;
    uint8_t activity : 2 = idle;
    uint8_t established : 1 = 0;  // has had a first 2.xx+Observe response: later ones are notifications
    uint8_t first_done : 1 = 0;   // its first registration has ended (ready counts these)
    uint8_t has_last : 1 = 0;     // aux holds a notification MID
    uint8_t unused = 0;
};
static_assert(sizeof(relation) == 6);

struct flight {
    timer_node timer;  // first member: a fired node converts back to its slot
    uint32_t rel = 0;
    uint32_t rto_ms = 0;
    uint8_t retries = 0;
};
static_assert(std::is_standard_layout_v<flight>);

// A registration to send again later: ms since start, the relation, and whether it waits
// out a 5.03's Max-Age (busy) or a lost relation's second.
struct delayed {
    uint32_t due_ms;
    uint32_t rel;  // bit 31: busy
    bool operator>(const delayed& o) const { return due_ms > o.due_ms; }
};

uint64_t ms_of(uint64_t ns) { return ns / 1'000'000u; }

uint64_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmRSS: %llu kB", &kb) == 1) break;
    std::fclose(f);
    return kb * 1024;
}

bool ensure_fd_limit(uint64_t need, std::string& error) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need) return true;
    rlimit want = rl;
    want.rlim_cur = std::max<rlim_t>(rl.rlim_cur, std::min<rlim_t>(rl.rlim_max, need));
    if (rl.rlim_max < need) want.rlim_cur = want.rlim_max = need;  // only root may raise the hard limit
    if (setrlimit(RLIMIT_NOFILE, &want) == 0) return true;
    error = "needs " + std::to_string(need) + " file descriptors and RLIMIT_NOFILE is " + std::to_string(rl.rlim_cur) +
            " (hard " + std::to_string(rl.rlim_max) + "): run `ulimit -n " + std::to_string(need) +
            "` first or use fewer --sockets";
    return false;
}

class holder {
public:
    holder(const hold_options& o, hold_result& r)
        : o_(o), r_(r), map_(o.source_base, o.sockets), paths_(static_cast<uint32_t>(o.observe.size())),
          rng_(std::random_device{}() ^ mono_ns()), wheel_(ms_of(mono_ns())) {}
    ~holder() {
        if (log_fd_ >= 0) ::close(log_fd_);
    }

    bool open(std::string& error);
    void run();

private:
    uint64_t device_of_rel(uint32_t rel) const { return rel / paths_; }
    uint32_t source_of(uint64_t d) const { return map_.address_of(o_.first + d); }

    // --- sending
    bool can_send(uint64_t now) const { return !free_.empty() && next_send_ns_ <= now; }
    void send_registration(uint32_t rel, kind k, uint64_t now);
    void stage_registration(uint32_t rel);
    void stage_empty(uint64_t d, uint8_t type, uint16_t mid);
    void pump(uint64_t now);
    uint64_t refresh_at_ns() const;  // when the next refresh is due; UINT64_MAX: never
    uint64_t next_work_ns(uint64_t now) const;

    // --- outcomes
    void set_outcome(relation& rel, outcome to);
    void finish_flight(relation& rel);
    void answered(uint32_t rel, const coap::message& m, uint64_t now);
    void fail_and_retry(uint32_t rel, uint64_t now);
    void delay(uint32_t rel, uint64_t due_ns, bool busy);
    void on_timer(timer_node& n);

    // --- receiving
    void on_datagram(uint32_t socket, const pktinfo_sockets::datagram& d);
    void handle(uint64_t d, const coap::message& m);
    bool relation_of(uint64_t d, const coap::message& m, uint32_t& rel) const;
    int32_t inflight_by_mid(uint64_t d, uint16_t mid) const;
    void log_notification(uint64_t d, uint32_t path, uint8_t code, size_t payload);
    void write_ready(uint64_t now);

    const hold_options& o_;
    hold_result& r_;
    source_map map_;
    const uint32_t paths_;
    rng rng_;
    timer_wheel wheel_;
    pktinfo_sockets sockets_;
    uint16_t salt_ = 0;
    int log_fd_ = -1;
    bool log_failed_ = false;

    std::vector<relation> rels_;
    std::vector<uint16_t> next_mid_;  // per device: its own MID sequence (one endpoint each)
    std::vector<flight> flights_;     // the window
    std::vector<uint16_t> free_;      // free window slots
    std::vector<delayed> delayed_;    // min-heap on due_ms, capacity reserved for every relation
    std::vector<char> scratch_;
    uint64_t outcome_count_[4] = {};
    uint64_t first_done_ = 0;

    uint64_t start_ns_ = 0;
    uint64_t next_send_ns_ = 0;
    double ns_per_send_ = 0;
    uint32_t cursor_ = 0;           // next relation's first registration
    uint64_t refresh_step_ = 0;     // refreshes scheduled so far (relation = step mod relations)
    uint64_t ready_ns_ = 0;
    uint64_t end_ns_ = UINT64_MAX;
};

bool holder::open(std::string& error) {
    if (!ensure_fd_limit(uint64_t{o_.sockets} + 32, error)) return false;
    socket_buffers b;
    b.receive = 2 << 20;
    b.send = 1 << 20;
    b.force = geteuid() == 0;
    if (!sockets_.open(o_.sockets, b, o_.addr, o_.addr_len, o_.max_message, recv_size, error)) return false;
    // The kernel reports twice what was set: less than that means the cap (rmem_max) won.
    if (sockets_.granted_receive() < 2 * b.receive || sockets_.granted_send() < 2 * b.send)
        std::fprintf(stderr,
                     "tern-bench hold: socket buffers are %d (receive) and %d (send) bytes, not %d and %d: a burst of "
                     "notifications may be dropped. Run as root or `sysctl -w net.core.rmem_max=%d "
                     "net.core.wmem_max=%d`\n",
                     sockets_.granted_receive(), sockets_.granted_send(), 2 * b.receive, 2 * b.send, b.receive,
                     b.send);
    if (!o_.notify_log.empty()) {
        log_fd_ = ::open(o_.notify_log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
        if (log_fd_ < 0) {
            error = "cannot open --notify-log '" + o_.notify_log + "': " + std::strerror(errno);
            return false;
        }
    }
    const uint64_t relations = o_.devices * paths_;
    r_.devices = o_.devices;
    r_.relations = relations;
    rels_.assign(relations, relation{});
    next_mid_.resize(o_.devices);
    for (auto& m : next_mid_) m = static_cast<uint16_t>(rng_.next());
    flights_.resize(o_.window);
    free_.reserve(o_.window);
    for (uint32_t i = o_.window; i-- > 0;) free_.push_back(static_cast<uint16_t>(i));
    delayed_.reserve(relations);
    scratch_.resize(o_.max_message + 64);
    salt_ = static_cast<uint16_t>(rng_.next());
    outcome_count_[none] = relations;
    ns_per_send_ = 1e9 / o_.rate;
    return true;
}

// ---------------------------------------------------------------- sending

void holder::stage_registration(uint32_t rel) {
    const uint64_t d = device_of_rel(rel);
    const uint32_t p = rel % paths_;
    const relation& rs = rels_[rel];
    const uint64_t i = o_.first + d;
    const uint8_t token[token_len] = {static_cast<uint8_t>(salt_ >> 8), static_cast<uint8_t>(salt_),
                                      static_cast<uint8_t>(p), static_cast<uint8_t>(i)};
    uint8_t* buf = sockets_.stage(map_.socket_of(i), source_of(d));
    coap::writer w(buf, o_.max_message);
    w.header(coap::type_con, coap::code_get, rs.mid, token, token_len);
    w.option_uint(coap::opt_observe, 0);
    const render_context ctx{i, 0, 0};
    const hold_path& hp = o_.observe[p];
    for (const auto* list : {&hp.path, &hp.query}) {
        const uint16_t number = list == &hp.path ? coap::opt_uri_path : coap::opt_uri_query;
        for (const text_template& seg : *list) {
            const size_t n = seg.render(scratch_.data(), scratch_.size(), ctx, &o_.token_pattern);
            if (n == SIZE_MAX) return;  // cannot happen: max_message bounds every render
            w.option(number, scratch_.data(), n);
        }
    }
    if (w.ok()) sockets_.commit(w.size());
}

void holder::stage_empty(uint64_t d, uint8_t type, uint16_t mid) {
    uint8_t* buf = sockets_.stage(map_.socket_of(o_.first + d), source_of(d));
    sockets_.commit(coap::write_empty(buf, type, mid));
}

void holder::send_registration(uint32_t rel, kind k, uint64_t now) {
    relation& rs = rels_[rel];
    const uint16_t slot = free_.back();
    free_.pop_back();
    flight& f = flights_[slot];
    f.rel = rel;
    f.retries = 0;
    f.rto_ms = ack_timeout_ms + rng_.below(ack_random_ms + 1);
    wheel_.arm(f.timer, ms_of(now) + f.rto_ms);
    rs.mid = next_mid_[device_of_rel(rel)]++;
    rs.aux = slot;
    rs.has_last = 0;
    rs.activity = inflight;
    stage_registration(rel);
    ++r_.registrations_sent;
    if (k == again) ++r_.reregistrations;
    else if (k == refresh) ++r_.refreshes;
    else if (k == busy) ++r_.busy_retries;
    // Pacing: one registration every 1/R s; a late wake-up may catch up only burst_ns.
    const double floor = static_cast<double>(now) - static_cast<double>(burst_ns);
    const double next = std::max(static_cast<double>(next_send_ns_), floor) + ns_per_send_;
    next_send_ns_ = static_cast<uint64_t>(next);
}

uint64_t holder::refresh_at_ns() const {
    if (o_.refresh <= 0) return UINT64_MAX;
    // Relation r is refreshed at start + S x (k + 1 + r / relations), k = 0, 1, ...: step
    // k x relations + r, so the relations are spread evenly over every S seconds.
    const double steps = static_cast<double>(refresh_step_) / static_cast<double>(rels_.size());
    return start_ns_ + static_cast<uint64_t>(o_.refresh * 1e9 * (steps + 1.0));
}

void holder::pump(uint64_t now) {
    while (can_send(now) && !stop_requested.load(std::memory_order_relaxed)) {
        if (!delayed_.empty() && uint64_t{delayed_.front().due_ms} * 1'000'000u + start_ns_ <= now) {
            std::pop_heap(delayed_.begin(), delayed_.end(), std::greater<>());
            const delayed e = delayed_.back();
            delayed_.pop_back();
            const uint32_t rel = e.rel & 0x7FFFFFFFu;
            if (rels_[rel].activity == queued) send_registration(rel, (e.rel >> 31) ? busy : again, now);
            continue;
        }
        if (cursor_ < rels_.size()) {
            send_registration(cursor_++, first_attempt, now);
            continue;
        }
        if (refresh_at_ns() <= now) {
            const auto rel = static_cast<uint32_t>(refresh_step_++ % rels_.size());
            // Not before its first registration, nor while one is in flight or waiting.
            if (rel < cursor_ && rels_[rel].activity == idle) send_registration(rel, refresh, now);
            continue;
        }
        return;
    }
}

// When pump() may next have something to send; UINT64_MAX: only an answer or a timer can.
uint64_t holder::next_work_ns(uint64_t now) const {
    if (free_.empty()) return UINT64_MAX;
    uint64_t due = UINT64_MAX;
    if (cursor_ < rels_.size()) due = now;
    if (!delayed_.empty()) due = std::min(due, uint64_t{delayed_.front().due_ms} * 1'000'000u + start_ns_);
    due = std::min(due, refresh_at_ns());
    // Wake a little after the pacing allows, and send what fell due meanwhile in one burst.
    return due == UINT64_MAX ? due : std::max(due, next_send_ns_ + pace_slack_ns);
}

// ---------------------------------------------------------------- outcomes

void holder::set_outcome(relation& rel, outcome to) {
    --outcome_count_[rel.outcome];
    ++outcome_count_[to];
    rel.outcome = to;
    if (!rel.first_done) {
        rel.first_done = 1;
        ++first_done_;
    }
}

// The registration in flight is over: its window slot and timer go back.
void holder::finish_flight(relation& rel) {
    flight& f = flights_[rel.aux];
    wheel_.cancel(f.timer);
    free_.push_back(rel.aux);
    rel.aux = 0;
    rel.activity = idle;
}

void holder::delay(uint32_t rel, uint64_t due_ns, bool busy_wait) {
    if (rels_[rel].activity == queued) return;  // already waiting: one entry per relation
    rels_[rel].activity = queued;
    const uint64_t ms = (due_ns - std::min(due_ns, start_ns_)) / 1'000'000u;
    delayed_.push_back({static_cast<uint32_t>(std::min<uint64_t>(ms, UINT32_MAX)), rel | (busy_wait ? 1u << 31 : 0u)});
    std::push_heap(delayed_.begin(), delayed_.end(), std::greater<>());
}

void holder::fail_and_retry(uint32_t rel, uint64_t now) {
    relation& rs = rels_[rel];
    if (rs.activity == inflight || rs.activity == acked) finish_flight(rs);
    set_outcome(rs, failed);
    delay(rel, now + uint64_t{relost_delay_ms} * 1'000'000u, false);
}

// The answer to the registration in flight (piggy-backed, or separate after an empty ACK).
void holder::answered(uint32_t rel, const coap::message& m, uint64_t now) {
    relation& rs = rels_[rel];
    finish_flight(rs);
    const unsigned cls = coap::code_class(m.code);
    if (m.code == ((5u << 5) | 3u) || m.code == ((4u << 5) | 29u)) {
        // Busy or rate-limited: come back when its Max-Age has passed, as a device would.
        const uint32_t age = std::min(m.has_max_age ? m.max_age : default_max_age_s, max_age_cap_s);
        delay(rel, now + uint64_t{age} * 1'000'000'000u, true);
        return;
    }
    if (cls == 2 && m.has_observe) {
        set_outcome(rs, registered);
        rs.established = 1;
    } else {
        set_outcome(rs, refused);
    }
}

void holder::on_timer(timer_node& n) {
    flight& f = reinterpret_cast<flight&>(n);
    relation& rs = rels_[f.rel];
    const uint64_t now = mono_ns();
    if (rs.activity == inflight && f.retries < max_retransmit) {
        ++f.retries;
        f.rto_ms *= 2;
        ++r_.retransmissions;
        stage_registration(f.rel);
        wheel_.arm(f.timer, ms_of(now) + f.rto_ms);
        return;
    }
    // The wheel has already unlinked the node: finish_flight's cancel is a no-op.
    fail_and_retry(f.rel, now);
}

// ---------------------------------------------------------------- receiving

void holder::on_datagram(uint32_t socket, const pktinfo_sockets::datagram& d) {
    const auto* target = reinterpret_cast<const sockaddr_in*>(&o_.addr);
    uint64_t device = 0;
    if (d.from.sin_addr.s_addr != target->sin_addr.s_addr || d.from.sin_port != target->sin_port ||
        !map_.device_of(d.local, socket, device) || device < o_.first || device - o_.first >= o_.devices) {
        ++r_.stray;
        return;
    }
    coap::message m;
    if (d.truncated || !coap::parse(d.data, d.len, m)) {
        ++r_.malformed;
        return;
    }
    handle(device - o_.first, m);
}

bool holder::relation_of(uint64_t d, const coap::message& m, uint32_t& rel) const {
    if (m.token_len != token_len) return false;
    const uint8_t* t = m.token;
    if (t[0] != static_cast<uint8_t>(salt_ >> 8) || t[1] != static_cast<uint8_t>(salt_) || t[2] >= paths_ ||
        t[3] != static_cast<uint8_t>(o_.first + d))
        return false;
    rel = static_cast<uint32_t>(d * paths_ + t[2]);
    return true;
}

int32_t holder::inflight_by_mid(uint64_t d, uint16_t mid) const {
    for (uint32_t p = 0; p < paths_; ++p) {
        const auto rel = static_cast<uint32_t>(d * paths_ + p);
        const relation& rs = rels_[rel];
        if ((rs.activity == inflight || rs.activity == acked) && rs.mid == mid) return static_cast<int32_t>(rel);
    }
    return -1;
}

void holder::handle(uint64_t d, const coap::message& m) {
    const uint64_t now = mono_ns();
    const bool con = m.type == coap::type_con;
    if (m.type == coap::type_ack || m.type == coap::type_rst) {
        const int32_t found = inflight_by_mid(d, m.mid);
        if (found < 0) {
            ++r_.stray;  // late: a duplicate answer to a registration already answered
            return;
        }
        const auto rel = static_cast<uint32_t>(found);
        relation& rs = rels_[rel];
        if (m.type == coap::type_rst) {
            fail_and_retry(rel, now);
        } else if (m.code == coap::code_empty) {
            // A separate response will follow (RFC 7252 §5.2.2): stop retransmitting.
            if (rs.activity == inflight) {
                rs.activity = acked;
                wheel_.arm(flights_[rs.aux].timer, ms_of(now) + separate_wait_ms);
            }
        } else {
            uint32_t by_token = 0;
            if (!relation_of(d, m, by_token) || by_token != rel || !coap::is_response(m.code)) {
                ++r_.stray;
                return;
            }
            answered(rel, m, now);
        }
        return;
    }
    // CON or NON from the server.
    if (!coap::is_response(m.code)) {
        // An empty CON is a ping (RFC 7252 §4.3): a live device answers RST. Requests to a
        // device are refused the same way.
        if (con) stage_empty(d, coap::type_rst, m.mid);
        if (con && m.code == coap::code_empty) ++r_.pings_answered;
        else ++r_.stray;
        return;
    }
    uint32_t rel = 0;
    if (!relation_of(d, m, rel)) {
        if (con) stage_empty(d, coap::type_rst, m.mid);  // not ours: stop the server sending it
        ++r_.stray;
        return;
    }
    relation& rs = rels_[rel];
    const bool in_flight = rs.activity == inflight || rs.activity == acked;
    if (!in_flight && rs.outcome != registered) {
        if (con) stage_empty(d, coap::type_rst, m.mid);  // a relation this device does not hold
        ++r_.stray;
        return;
    }
    if (con && !in_flight && rs.has_last && rs.aux == m.mid) {
        stage_empty(d, coap::type_ack, m.mid);  // our ACK was lost: the server sent it again
        ++r_.acks_sent;
        ++r_.stray;
        return;
    }
    if (con) {
        stage_empty(d, coap::type_ack, m.mid);
        ++r_.acks_sent;
    }
    const bool notification = rs.established;
    const bool keeps = coap::code_class(m.code) == 2 && m.has_observe;
    if (notification) log_notification(d, rel % paths_, m.code, m.payload_len);
    if (in_flight) {
        answered(rel, m, now);
    } else if (!keeps) {
        // The server ended the relation (an error, or a response without Observe).
        ++r_.lost;
        set_outcome(rs, failed);
        delay(rel, now + uint64_t{relost_delay_ms} * 1'000'000u, false);
    }
    relation& after = rels_[rel];
    if (con && after.activity == idle) {
        after.has_last = 1;
        after.aux = m.mid;
    }
}

void holder::log_notification(uint64_t d, uint32_t path, uint8_t code, size_t payload) {
    ++r_.notifications;
    if (log_fd_ < 0) return;
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[96];
    const int n = std::snprintf(line, sizeof line, "%lld%09ld %llu %u %u.%02u %zu\n", static_cast<long long>(ts.tv_sec),
                                ts.tv_nsec, static_cast<unsigned long long>(o_.first + d), path,
                                coap::code_class(code), coap::code_detail(code), payload);
    // One write per line on an O_APPEND descriptor: a reader never sees half a line.
    if (n > 0 && ::write(log_fd_, line, static_cast<size_t>(n)) != n && !log_failed_) {
        log_failed_ = true;
        std::fprintf(stderr, "tern-bench hold: writing --notify-log '%s' failed: %s\n", o_.notify_log.c_str(),
                     std::strerror(errno));
    }
}

void holder::write_ready(uint64_t now) {
    ready_ns_ = now;
    r_.ready_s = static_cast<double>(now - start_ns_) / 1e9;
    r_.registered = outcome_count_[registered];
    r_.refused = outcome_count_[refused];
    r_.failed = outcome_count_[failed];
    r_.pending = outcome_count_[none];
    if (o_.duration > 0) end_ns_ = now + static_cast<uint64_t>(o_.duration * 1e9);
    if (o_.ready_file.empty()) return;
    const std::string tmp = o_.ready_file + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "w");
    if (!f) {
        std::fprintf(stderr, "tern-bench hold: cannot write %s: %s\n", tmp.c_str(), std::strerror(errno));
        return;
    }
    std::fprintf(f, "%s\n", hold_ready_json(r_).c_str());
    const bool ok = std::fclose(f) == 0;
    if (!ok || std::rename(tmp.c_str(), o_.ready_file.c_str()) != 0)
        std::fprintf(stderr, "tern-bench hold: cannot write %s: %s\n", o_.ready_file.c_str(), std::strerror(errno));
}

void holder::run() {
    prctl(PR_SET_TIMERSLACK, 50'000UL, 0, 0, 0);
    std::vector<epoll_event> events(256);
    start_ns_ = mono_ns();
    next_send_ns_ = start_ns_;
    auto on_dgram = [this](uint32_t socket) {
        return [this, socket](const pktinfo_sockets::datagram& d) { on_datagram(socket, d); };
    };
    for (;;) {
        uint64_t now = mono_ns();
        wheel_.advance(ms_of(now), [this](timer_node& n) { on_timer(n); });
        pump(now);
        sockets_.flush();
        if (!ready_ns_ && first_done_ == rels_.size()) write_ready(now);
        if (stop_requested.load(std::memory_order_relaxed) || now >= end_ns_) break;

        uint64_t wake = std::min({now + max_wait_ns, next_work_ns(now), end_ns_});
        if (wheel_.armed_count()) wake = std::min(wake, wheel_.next_tick_ms() * 1'000'000u);
        const uint64_t wait = wake > now ? wake - now : 0;
        timespec ts{static_cast<time_t>(wait / 1'000'000'000u), static_cast<long>(wait % 1'000'000'000u)};
        const int n = epoll_pwait2(sockets_.epoll_fd(), events.data(), static_cast<int>(events.size()), &ts, nullptr);
        if (n < 0 && errno != EINTR) break;
        for (int i = 0; i < n; ++i) sockets_.receive(events[i].data.u32, on_dgram(events[i].data.u32));
        sockets_.flush();
    }
    sockets_.flush();
    const uint64_t end = mono_ns();
    r_.elapsed_s = static_cast<double>(end - start_ns_) / 1e9;
    r_.registered = outcome_count_[registered];
    r_.refused = outcome_count_[refused];
    r_.failed = outcome_count_[failed];
    r_.pending = outcome_count_[none];
    r_.send_errors += sockets_.counts().errors;
    r_.rss_bytes = resident_bytes();
}

}  // namespace

int run_hold(const hold_options& opts, hold_result& result, std::string& error) {
    holder h(opts, result);
    if (!h.open(error)) return 1;
    h.run();
    return 0;
}

}  // namespace tern::bench
