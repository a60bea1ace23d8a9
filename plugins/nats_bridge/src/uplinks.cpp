#include "uplinks.hpp"

#include <algorithm>
#include <thread>

#include "tern/sdk/status.hpp"
#include "tern/sdk/views.hpp"

namespace tern::nats_bridge {

namespace {

// Failures of the backend, not refusals of the message: nothing was stored, and the same
// message will be stored once the core can (the contract names TERN_BUSY; a failed commit or
// a stopping core say the same).
bool transient(tern_status s) {
    return s == TERN_BUSY || s == TERN_IO || s == TERN_UNAVAILABLE || s == TERN_TIMEOUT;
}

// Applied sequences remembered per partition above the floor (a few times max_ack_pending).
constexpr size_t recent_cap = 8192;

tern_bytes bytes_of(std::string_view s) {
    return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

uplinks::uplinks(const core_caps& core, bridge_metrics& metrics, sdk::logger log, worker& w, state_file& state)
    : core_(core), metrics_(metrics), log_(log), worker_(w), state_(state) {}

uplinks::~uplinks() = default;

void uplinks::configure(const config& c, const std::map<uint32_t, uint64_t>& applied) {
    cfg_ = c;
    parts_.clear();
    for (uint32_t i = 0; i < c.partitions; ++i) {
        auto p = std::make_unique<partition>();
        p->index = i;
        if (auto it = applied.find(i); it != applied.end()) p->done_upto = p->floor = it->second;
        parts_.push_back(std::move(p));
    }
}

void uplinks::set_resetting() {
    for (auto& p : parts_) p->resetting.store(true);
}

void uplinks::consumer_reset(uint32_t p) {
    if (p < parts_.size()) parts_[p]->resetting.store(false);
}

void uplinks::forget_applied() {
    for (auto& p : parts_) {
        std::lock_guard lk(p->mu);
        p->done_upto = p->floor = 0;
        p->recent.clear();
    }
}

uint64_t uplinks::applied(uint32_t p) const {
    if (p >= parts_.size()) return 0;
    std::lock_guard lk(parts_[p]->mu);
    return parts_[p]->done_upto;
}

void uplinks::on_delivery(uint32_t index, nats_link::delivery&& d) {
    if (index >= parts_.size() || stopping_.load()) return;
    partition& p = *parts_[index];
    if (p.resetting.load()) return;  // dropped: delivered again by the fresh consumer
    const uint64_t seq = d.stream_seq();
    if (seq == 0) {
        log_.warn("an uplink of partition ", index, " came without JetStream metadata; left to be delivered again");
        return;
    }
    std::unique_lock lk(p.mu);
    if (seq <= p.floor || p.recent.count(seq) != 0) {
        lk.unlock();
        metrics_.redeliveries_skipped.inc();
        d.ack();
        return;
    }
    auto it = std::lower_bound(p.q.begin(), p.q.end(), seq,
                               [](const std::unique_ptr<entry>& e, uint64_t s) { return e->seq < s; });
    if (it != p.q.end() && (*it)->seq == seq) {
        // Delivered again while held (ack wait passed, or the consumer was reset): keep one.
        if ((*it)->st != state::submitted) (*it)->d = std::move(d);
        return;
    }
    auto e = std::make_unique<entry>();
    e->owner = this;
    e->part = &p;
    e->seq = seq;
    e->op = uplink_op_of(d.subject());
    e->d = std::move(d);
    const auto pos = static_cast<size_t>(it - p.q.begin());
    p.q.insert(it, std::move(e));
    if (pos < p.cursor) {
        // Out of order: entries after it were already handed to the core. Apply from here again.
        ++p.cursor;
        p.rewind = true;
        log_.info("partition ", index, ": stream sequence ", seq, " arrived after later ones; applying again from it");
    } else if (seq < p.done_upto) {
        // Later ones were applied and acknowledged already: too late to keep the order, but
        // it is applied (a lost delivery must not be a lost message).
        log_.warn("partition ", index, ": stream sequence ", seq, " arrived after ", p.done_upto,
                  " was applied; applied out of order");
    }
    ++held_;
    metrics_.uplinks_held.add(1);
    lk.unlock();
    pump(p);
}

void uplinks::pump(partition& p) {
    std::unique_lock lk(p.mu);
    if (p.pumping) {
        p.again = true;
        return;
    }
    p.pumping = true;
    for (;;) {
        p.again = false;
        if (p.rewind && p.inflight == 0 && !p.hold) {
            for (auto& e : p.q)
                if (e->st != state::refused) e->st = state::queued;
            p.cursor = 0;
            p.rewind = false;
        }
        entry* next = nullptr;
        if (!p.rewind && p.inflight < cfg_.window && !stopping_.load()) {
            while (p.cursor < p.q.size() && p.q[p.cursor]->st != state::queued) ++p.cursor;
            if (p.cursor < p.q.size()) {
                next = p.q[p.cursor++].get();
                next->st = state::submitted;
                ++p.inflight;
            }
        }
        if (next != nullptr) {
            lk.unlock();
            submit(*next);
            lk.lock();
            continue;
        }
        if (!p.again) break;
    }
    p.pumping = false;
}

void uplinks::submit(entry& e) {
    partition& p = *e.part;
    const tern_bytes in = bytes_of(e.d.data());
    core_wire::result r;
    switch (e.op) {
        case uplink_op::telemetry: {
            core_wire::post_telemetry_request m;
            if (!(r = p.dec.decode(in, m))) break;
            e.device_id = m.device_id;
            core_.telemetry->post_telemetry(m.device_id, m.records, m.count, &on_done, &e);
            return;
        }
        case uplink_op::attributes: {
            core_wire::post_attributes_request m;
            if (!(r = p.dec.decode(in, m))) break;
            e.device_id = m.device_id;
            core_.attributes->post_attributes(m.device_id, m.scope, m.values, m.count, &on_done, &e);
            return;
        }
        case uplink_op::rpc_reply: {
            core_wire::rpc_reply_request m;
            if (!(r = p.dec.decode(in, m))) break;
            e.device_id = m.device_id;
            core_.rpc->rpc_reply(m.device_id, m.rpc_id, m.result, &on_done, &e);
            return;
        }
        case uplink_op::rpc_status: {
            // No completion in the ABI: handed over is applied; the core's FIFO writer commits
            // it before anything submitted after it.
            core_wire::rpc_status_request m;
            if (!(r = p.dec.decode(in, m))) break;
            e.device_id = m.device_id;
            core_.rpc->rpc_status(m.device_id, m.rpc_id, m.status, m.error);
            complete(e, TERN_OK, {});
            return;
        }
        case uplink_op::unknown:
            complete(e, TERN_INVALID_ARGUMENT, "no uplink has this subject");
            return;
    }
    complete(e, TERN_INVALID_ARGUMENT, std::string("undecodable message: ") + core_wire::to_string(r.error) + " (" +
                                           r.detail + ")");
}

void uplinks::on_done(void* ctx, tern_status status, tern_str message) noexcept {
    auto* e = static_cast<entry*>(ctx);
    e->owner->complete(*e, status, sdk::to_sv(message));
}

void uplinks::complete(entry& e, tern_status status, std::string_view message) {
    partition& p = *e.part;
    const size_t op = static_cast<size_t>(e.op);
    const uint64_t device = e.device_id, seq = e.seq;
    std::vector<commit_item> out;
    bool schedule = false, warn = false;
    uint32_t streak = 0;
    {
        std::lock_guard lk(p.mu);
        --p.inflight;
        if (transient(status)) {
            e.st = state::retry;
            p.rewind = true;
            p.hold = true;
            ++p.busy_streak;
            warn = p.busy_streak == 1 || p.busy_streak % 100 == 0;
            streak = p.busy_streak;
        } else {
            e.st = status == TERN_OK ? state::ok : state::refused;
        }
        settle(p, out);
        if (p.rewind && p.hold && p.inflight == 0 && !p.retry_posted) {
            p.retry_posted = true;
            schedule = true;
        }
    }
    if (status != TERN_OK && !transient(status)) {
        metrics_.refused[op].inc();
        log_.warn("uplink ", uplink_op_names[op], " of device ", device, " (partition ", p.index, ", stream sequence ",
                  seq, ") refused by the core: ", sdk::status_name(status), " ", message,
                  "; acknowledged, not retried");
    }
    if (warn) {
        // A partition that stays stuck (the core keeps refusing: its key limit, a full disk)
        // says so now and then; it keeps the message and everything after it meanwhile.
        log_.warn("partition ", p.index, ": the core answered ", sdk::status_name(status), " ", message,
                  " for uplink ", uplink_op_names[op], " of device ", device, " (stream sequence ", seq, ", ", streak,
                  streak == 1 ? " time" : " times", "); applying it and what follows again every ",
                  cfg_.busy_delay.count(), " ms until the core takes it");
    }
    if (schedule) {
        worker_.post_after(cfg_.busy_delay, [this, &p] {
            {
                std::lock_guard lk(p.mu);
                p.hold = false;
                p.retry_posted = false;
            }
            metrics_.busy_retries.inc();
            pump(p);
        });
    }
    if (!out.empty()) hand_to_worker(std::move(out));
    pump(p);
}

void uplinks::settle(partition& p, std::vector<commit_item>& out) {
    while (!p.q.empty()) {
        entry& f = *p.q.front();
        if (f.st != state::ok && f.st != state::refused) break;
        if (f.st == state::ok) metrics_.applied[static_cast<size_t>(f.op)].inc();
        p.busy_streak = 0;
        p.done_upto = std::max(p.done_upto, f.seq);
        p.recent.insert(f.seq);
        if (p.recent.size() > recent_cap) {
            p.floor = std::max(p.floor, *p.recent.begin());
            p.recent.erase(p.recent.begin());
        }
        out.push_back(commit_item{p.index, f.seq, std::move(f.d)});
        p.q.pop_front();
        if (p.cursor > 0) --p.cursor;
        --held_;
        metrics_.uplinks_held.add(-1);
    }
}

void uplinks::hand_to_worker(std::vector<commit_item>&& items) {
    bool post = false;
    {
        std::lock_guard lk(commit_mu_);
        for (auto& i : items) commits_.push_back(std::move(i));
        if (!flush_posted_) flush_posted_ = post = true;
    }
    if (post && !worker_.post([this] { flush(); })) {
        std::lock_guard lk(commit_mu_);
        flush_posted_ = false;  // stop() flushes what is left
    }
}

// [worker] The marks first, then the acknowledgements, in the order the entries finished.
void uplinks::flush() {
    std::lock_guard fl(flush_mu_);
    std::vector<commit_item> items;
    {
        std::lock_guard lk(commit_mu_);
        items.swap(commits_);
        flush_posted_ = false;
    }
    if (items.empty()) return;
    std::map<uint32_t, uint64_t> marks;
    for (const auto& i : items) marks[i.partition] = std::max(marks[i.partition], i.seq);
    std::string error;
    if (!state_.store(cfg_.stream, marks, error)) {
        // The core holds the data: without the mark a restart only applies these again.
        metrics_.state_errors.inc();
        log_.error("state file: ", error, "; acknowledging ", items.size(), " applied uplinks anyway");
    }
    for (auto& i : items) i.d.ack();
}

bool uplinks::quiesce(std::chrono::milliseconds wait) {
    stopping_.store(true);
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
        uint32_t inflight = 0;
        for (auto& p : parts_) {
            std::lock_guard lk(p->mu);
            inflight += p->inflight;
        }
        if (inflight == 0) return true;
        if (std::chrono::steady_clock::now() > until) {
            log_.error(inflight, " uplinks still wait for the core after ", wait.count(),
                       " ms; they are kept, and JetStream delivers them again");
            quiesced_ = false;
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

void uplinks::drain() {
    flush();
    if (!quiesced_) return;  // a late completion must still find its entry
    for (auto& p : parts_) {
        std::lock_guard lk(p->mu);
        metrics_.uplinks_held.add(-static_cast<int64_t>(p->q.size()));
        held_ -= static_cast<int64_t>(p->q.size());
        p->q.clear();
        p->cursor = 0;
    }
}

}  // namespace tern::nats_bridge
