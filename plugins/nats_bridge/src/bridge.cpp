#include "bridge.hpp"

#include <charconv>
#include <future>

#include "tern/sdk/status.hpp"

namespace tern::nats_bridge {

namespace {

using namespace std::chrono_literals;
using nats_link::status;

struct answer {
    status st = status::error;
    std::string value;
};

// Runs start(cb) and waits for cb(status) at most `wait` (the link always calls back, but a
// stuck worker must not stall the setup for ever).
template <class F>
status wait_status(F&& start, std::chrono::milliseconds wait) {
    auto pr = std::make_shared<std::promise<status>>();
    auto f = pr->get_future();
    start([pr](status s) { pr->set_value(s); });
    return f.wait_for(wait) == std::future_status::ready ? f.get() : status::timeout;
}

template <class F>
answer wait_value(F&& start, std::chrono::milliseconds wait) {
    auto pr = std::make_shared<std::promise<answer>>();
    auto f = pr->get_future();
    start([pr](status s, std::string_view v) { pr->set_value(answer{s, std::string(v)}); });
    return f.wait_for(wait) == std::future_status::ready ? f.get() : answer{status::timeout, {}};
}

// The number after "key": in a JetStream API answer, or 0.
uint64_t json_number(std::string_view json, std::string_view key) {
    const std::string k = "\"" + std::string(key) + "\":";
    const auto at = json.find(k);
    if (at == std::string_view::npos) return 0;
    uint64_t v = 0;
    std::from_chars(json.data() + at + k.size(), json.data() + json.size(), v);
    return v;
}

bool api_error(std::string_view json) { return json.find("\"error\"") != std::string_view::npos; }

}  // namespace

bridge::bridge(const settings& s, const core_caps& core, bridge_metrics& metrics, sdk::logger log,
               std::function<void(const std::string&)> fatal)
    : s_(s),
      names_{s.subject_prefix},
      core_(core),
      metrics_(metrics),
      log_(log),
      fatal_(std::move(fatal)),
      downlinks_(core_, metrics_, log_, names_),
      requests_(std::make_shared<requests>(core_, metrics_, log_, downlinks_)),
      uplinks_(core_, metrics_, log_, worker_, state_) {}

bridge::~bridge() { stop(); }

void bridge::start() {
    std::string error;
    if (!state_.open(s_.state_file, error)) throw sdk::error(TERN_IO, "state_file: " + error);
    const auto applied = state_.load(names_.stream(), error);
    if (!error.empty()) throw sdk::error(TERN_IO, "state_file: " + error);
    uplinks_.configure({s_.uplink_partitions, s_.pipeline_window, std::chrono::milliseconds(s_.busy_retry_delay_ms),
                        names_.stream()},
                       applied);
    downlinks_.configure(s_.route_cache_size, s_.max_subscribed_devices);
    requests_->configure(s_.max_requests_in_flight);
    consuming_.assign(s_.uplink_partitions, false);
    if (const tern_status st = downlinks_.open_events(); st != TERN_OK)
        throw sdk::error(st, "the core refused the bridge's tern.core.events/1 subscription");
    worker_.start();

    nats_link::link_settings ls;
    ls.servers = s_.servers;
    ls.name = "tern-nats-bridge";
    ls.request_timeout_ms = s_.request_timeout_ms;
    ls.max_requests_in_flight = 64;  // the setup's JetStream API calls only
    sdk::logger lg = log_;
    ls.log = [lg](std::string_view line) { lg.info(line); };
    link_ = nats_link::link::open(ls, [this](nats_link::link_state st) { on_link_state(st); }, error);
    if (!link_) {
        stop();
        throw sdk::error(TERN_CONFIG, "servers: " + error);
    }
    raw_link_.store(link_.get());
    downlinks_.attach(link_.get());
    requests_->attach(link_.get());
    request_setup();

    std::unique_lock lk(result_mu_);
    result_cv_.wait_for(lk, std::chrono::milliseconds(s_.startup_wait_ms), [this] { return setup_finished_; });
    if (!fatal_reason_.empty()) {
        const std::string why = fatal_reason_;
        lk.unlock();
        stop();
        throw sdk::error(TERN_CONFIG, why);
    }
    start_returned_ = true;
    if (!setup_finished_)
        log_.warn("NATS is not reachable yet (", nats_link::redacted(s_.servers.front()), " ...); the bridge sets up once it connects");
}

void bridge::stop() {
    if (stopping_.exchange(true)) return;
    downlinks_.close_events();
    // Calls still with the core (a client RPC waits for its operator) keep the request part
    // alive by themselves and answer nothing once the link is gone.
    requests_->stop(1s);
    uplinks_.quiesce(5s);
    worker_.stop();
    uplinks_.drain();
    raw_link_.store(nullptr);
    downlinks_.attach(nullptr);
    requests_->attach(nullptr);
    link_.reset();
    state_.close();
    metrics_.connected.set(0);
}

void bridge::on_link_state(nats_link::link_state st) {
    switch (st) {
        case nats_link::link_state::connected:
        case nats_link::link_state::reconnected:
            metrics_.connected.set(1);
            request_setup();
            return;
        case nats_link::link_state::disconnected:
            // Deliveries in flight may be lost with the connection; the consumers are reset
            // on the reconnect, and until then nothing new enters the pipelines.
            metrics_.connected.set(0);
            ready_.store(false);
            uplinks_.set_resetting();
            return;
        case nats_link::link_state::closed:
            metrics_.connected.set(0);
            return;
    }
}

void bridge::request_setup() {
    setup_needed_.store(true);
    worker_.post([this] { run_setup(); });
}

void bridge::run_setup() {
    while (setup_needed_.load()) {
        nats_link::link* l = raw_link_.load();
        if (l == nullptr || stopping_.load()) return;  // start() asks again once the link is there
        setup_needed_.store(false);
        for (;;) {
            if (stopping_.load() || !l->connected()) break;  // the reconnect asks again
            std::string why;
            const outcome o = setup_once(why);
            if (o == outcome::done) {
                ready_.store(true);
                log_.info("ready: ", s_.uplink_partitions, " uplink partitions of stream ", names_.stream(),
                          ", requests on ", names_.prefix, ".core.v1.>");
                std::lock_guard lk(result_mu_);
                setup_finished_ = true;
                result_cv_.notify_all();
                break;
            }
            if (o == outcome::fatal) {
                log_.error(why);
                bool tell_kernel = false;
                {
                    std::lock_guard lk(result_mu_);
                    setup_finished_ = true;
                    fatal_reason_ = why;
                    tell_kernel = start_returned_;
                    result_cv_.notify_all();
                }
                if (tell_kernel && fatal_) fatal_(why);
                return;
            }
            log_.warn("setup: ", why, "; trying again in 1 s");
            if (!worker_.pause(1s)) return;
        }
    }
}

bridge::outcome bridge::setup_once(std::string& why) {
    nats_link::link& l = *raw_link_.load();
    uplinks_.set_resetting();
    if (auto o = check_partitions(l, why); o != outcome::done) return o;
    if (auto o = check_stream(l, why); o != outcome::done) return o;
    for (uint32_t p = 0; p < s_.uplink_partitions; ++p) {
        if (stopping_.load()) {
            why = "stopping";
            return outcome::retry;
        }
        if (auto o = reset_consumer(l, p, why); o != outcome::done) return o;
    }
    if (auto o = subscribe_all(l, why); o != outcome::done) return o;
    // One round trip: the server handles a connection's protocol in order, so once it answers,
    // the subscriptions above are in place (transport nodes answer hello with requests).
    const answer info = wait_value([&](auto cb) { l.request("$JS.API.INFO", {}, 0, cb); },
                                   std::chrono::milliseconds(2 * s_.request_timeout_ms + 1000));
    if (info.st != status::ok) {
        why = std::string("JetStream account information: ") + nats_link::to_string(info.st);
        return outcome::retry;
    }
    if (l.publish(names_.hello(), {}) != status::ok) {
        why = "cannot publish " + names_.hello();
        return outcome::retry;
    }
    return outcome::done;
}

bridge::outcome bridge::check_partitions(nats_link::link& l, std::string& why) {
    const auto wait = std::chrono::milliseconds(2 * s_.request_timeout_ms + 1000);
    const std::string bucket = names_.cluster_bucket(), want = std::to_string(s_.uplink_partitions);
    const answer a = wait_value([&](auto cb) { l.kv_get(bucket, "uplink_partitions", cb); }, wait);
    if (a.st == status::ok) {
        if (a.value == want) return outcome::done;
        why = "the cluster says uplink_partitions = " + a.value + " (KV bucket " + bucket +
              ", key uplink_partitions), this bridge is configured with " + want +
              ": set uplink_partitions = " + a.value +
              " for this plugin, or, to change the cluster's count, stop every node, let the stream " +
              names_.stream() + " drain, and delete the key (nats kv del " + bucket + " uplink_partitions)";
        return outcome::fatal;
    }
    if (a.st != status::not_found) {
        why = std::string("reading uplink_partitions from KV bucket ") + bucket + ": " + nats_link::to_string(a.st);
        return outcome::retry;
    }
    const status st = wait_status([&](auto cb) { l.kv_put(bucket, "uplink_partitions", want, cb); }, wait);
    if (st != status::ok) {
        why = std::string("writing uplink_partitions to KV bucket ") + bucket + ": " + nats_link::to_string(st);
        return outcome::retry;
    }
    log_.info("the cluster's uplink partition count is now ", want, " (KV bucket ", bucket, ")");
    return outcome::done;
}

bridge::outcome bridge::check_stream(nats_link::link& l, std::string& why) {
    const auto wait = std::chrono::milliseconds(2 * s_.request_timeout_ms + 1000);
    nats_link::stream_settings ss;
    ss.name = names_.stream();
    ss.subjects = {names_.uplinks()};
    ss.max_bytes = s_.stream_max_bytes;
    ss.duplicate_window_ms = 120000;
    ss.work_queue = true;
    ss.discard_new = true;
    if (const status st = wait_status([&](auto cb) { l.ensure_stream(ss, cb); }, wait); st != status::ok) {
        why = "stream " + ss.name + ": " + nats_link::to_string(st);
        return outcome::retry;
    }
    // A stream whose sequences end below the marks was created anew (its store was lost):
    // the marks belong to the old one and would skip the new stream's messages.
    const answer a = wait_value(
        [&](auto cb) { l.request("$JS.API.STREAM.INFO." + ss.name, {}, 0, cb); }, wait);
    if (a.st != status::ok || api_error(a.value)) {
        why = "stream " + ss.name + " information: " + (a.st != status::ok ? nats_link::to_string(a.st) : a.value);
        return outcome::retry;
    }
    const uint64_t last = json_number(a.value, "last_seq");
    uint64_t highest = 0;
    for (uint32_t p = 0; p < s_.uplink_partitions; ++p) highest = std::max(highest, uplinks_.applied(p));
    if (last < highest) {
        log_.warn("stream ", ss.name, " ends at sequence ", last, " but uplinks up to ", highest,
                  " were applied: the stream was created anew; the applied marks are reset");
        std::string error;
        if (!state_.reset(ss.name, error)) log_.error("state file: ", error);
        uplinks_.forget_applied();
    }
    return outcome::done;
}

nats_link::consumer_settings bridge::consumer(uint32_t p) const {
    nats_link::consumer_settings c;
    c.stream = names_.stream();
    c.durable = names_.durable(p);
    c.filter = names_.partition_filter(p);
    c.batch = s_.consumer_batch;
    c.ack_wait_ms = s_.consumer_ack_wait_ms;
    c.max_ack_pending = s_.max_ack_pending;
    return c;
}

// A fresh consumer delivers the stream's messages of the partition from the oldest one left
// (a work queue keeps exactly the unacknowledged ones), in order. The old one's deliveries
// still pending would otherwise come back only after the ack wait, behind newer ones.
bridge::outcome bridge::reset_consumer(nats_link::link& l, uint32_t p, std::string& why) {
    const auto wait = std::chrono::milliseconds(2 * s_.request_timeout_ms + 1000);
    const nats_link::consumer_settings c = consumer(p);
    const answer del = wait_value(
        [&](auto cb) { l.request("$JS.API.CONSUMER.DELETE." + c.stream + "." + c.durable, {}, 0, cb); }, wait);
    // err_code 10014: consumer not found, as wanted.
    if (del.st != status::ok || (api_error(del.value) && del.value.find("10014") == std::string::npos)) {
        why = "deleting consumer " + c.durable + ": " + (del.st != status::ok ? nats_link::to_string(del.st) : del.value);
        return outcome::retry;
    }
    // What arrives from now on comes from the fresh consumer (or is a late delivery of the old
    // one, which the pipeline places or recognises by its sequence).
    uplinks_.consumer_reset(p);
    if (!consuming_[p]) {
        auto handler = [this, p](nats_link::delivery&& d) { uplinks_.on_delivery(p, std::move(d)); };
        const status st = wait_status([&](auto cb) { l.consume(c, handler, cb); }, wait);
        if (st != status::ok) {
            why = "consumer " + c.durable + ": " + nats_link::to_string(st);
            return outcome::retry;
        }
        consuming_[p] = true;
        return outcome::done;
    }
    // The pull subscription fetches by name: the consumer made again under it is fetched from.
    const std::string config = "{\"stream_name\":\"" + c.stream + "\",\"config\":{\"durable_name\":\"" + c.durable +
                               "\",\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\",\"ack_wait\":" +
                               std::to_string(uint64_t(c.ack_wait_ms) * 1000000) +
                               ",\"max_deliver\":-1,\"filter_subject\":\"" + c.filter +
                               "\",\"replay_policy\":\"instant\",\"max_ack_pending\":" +
                               std::to_string(c.max_ack_pending) + "}}";
    const answer add = wait_value(
        [&](auto cb) { l.request("$JS.API.CONSUMER.DURABLE.CREATE." + c.stream + "." + c.durable, config, 0, cb); },
        wait);
    if (add.st != status::ok || api_error(add.value)) {
        why = "creating consumer " + c.durable + ": " + (add.st != status::ok ? nats_link::to_string(add.st) : add.value);
        return outcome::retry;
    }
    return outcome::done;
}

bridge::outcome bridge::subscribe_all(nats_link::link& l, std::string& why) {
    for (size_t i = 0; i <= request_op_count; ++i) {
        if (subscribed_[i]) continue;
        std::string subject;
        status st;
        if (i < request_op_count) {
            const auto op = static_cast<request_op>(i);
            subject = names_.request(op);
            st = l.subscribe(subject, names_.queue_group(), [this, op, i](const nats_link::message& m) {
                requests_->handle(op, m, decoders_[i]);
            });
        } else {
            subject = names_.device_node_watch();
            st = l.subscribe(subject, {}, [this](const nats_link::message& m) { downlinks_.on_route(m); });
        }
        if (st != status::ok) {
            why = "subscribing " + subject + ": " + nats_link::to_string(st);
            return outcome::retry;
        }
        subscribed_[i] = true;
    }
    return outcome::done;
}

}  // namespace tern::nats_bridge
