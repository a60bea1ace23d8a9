// ota_cache: OTA packages fetched from a core node in chunks and kept per node (ota_cache.hpp).
#include "ota_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <new>

#include "package_digest.hpp"
#include "tern/sdk/status.hpp"

namespace tern::core_nats {

namespace fs = std::filesystem;

struct ota_cache::fetch {
    std::string name;
    uint64_t device_id = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
    uint64_t package_id = 0;
    uint64_t size = 0;
    std::string checksum, algorithm;
    std::unique_ptr<package_digest> digest;  // null: the size is all that is checked
    std::vector<waiter> waiters;             // under mu_
    // The worker's (one job or request of a fetch exists at a time):
    int fd = -1;
    std::string temp;
    uint64_t offset = 0;
    uint32_t asked = 0;  // length of the chunk request in flight
};

namespace {

constexpr const char* temp_prefix = ".tmp-";

std::string_view sv(tern_str s) { return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.size); }
tern_str ts(const std::string& s) { return tern_str{s.data(), s.size()}; }
tern_bytes bytes_of(std::string_view s) { return tern_bytes{reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

tern_status link_status(nats_link::status st) noexcept {
    switch (st) {
        case nats_link::status::ok: return TERN_OK;
        case nats_link::status::timeout: return TERN_TIMEOUT;
        case nats_link::status::unavailable: return TERN_UNAVAILABLE;
        case nats_link::status::busy:
        case nats_link::status::refused: return TERN_BUSY;
        case nats_link::status::not_found: return TERN_NOT_FOUND;
        case nats_link::status::error: break;
    }
    return TERN_INTERNAL;
}

// "<digits>-<lower hex>" or "<digits>-s<digits>": a name file_name() gives.
bool cache_file_name(std::string_view n) {
    const std::size_t dash = n.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash + 1 >= n.size()) return false;
    for (std::size_t i = 0; i < dash; ++i)
        if (n[i] < '0' || n[i] > '9') return false;
    std::string_view tag = n.substr(dash + 1);
    const bool sized = tag[0] == 's';
    if (sized) tag.remove_prefix(1);
    if (tag.empty()) return false;
    for (const char c : tag) {
        const bool digit = c >= '0' && c <= '9';
        if (!digit && (sized || c < 'a' || c > 'f')) return false;
    }
    return true;
}

bool write_all(int fd, const char* p, std::size_t n, uint64_t offset) {
    while (n > 0) {
        const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
        if (w < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        p += w;
        n -= static_cast<std::size_t>(w);
        offset += static_cast<uint64_t>(w);
    }
    return true;
}

}  // namespace

// ---- owned packages ---------------------------------------------------------------------------

ota_cache::owned_package::owned_package(const tern_ota_package& p)
    : title(sv(p.title)),
      version(sv(p.version)),
      tag(sv(p.tag)),
      checksum(sv(p.checksum)),
      algorithm(sv(p.checksum_algorithm)),
      url(sv(p.url)) {
    meta = p;
    meta.struct_size = sizeof meta;
}

tern_ota_package ota_cache::owned_package::view(const std::string& path) const noexcept {
    tern_ota_package v = meta;
    v.title = ts(title);
    v.version = ts(version);
    v.tag = ts(tag);
    v.checksum = ts(checksum);
    v.checksum_algorithm = ts(algorithm);
    v.url = ts(url);
    v.path = ts(path);
    return v;
}

std::string ota_cache::file_name(const tern_ota_package& p) {
    std::string tag;
    for (const char c : sv(p.checksum)) {
        const char l = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        if (!((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f')) || tag.size() >= 128) {
            tag.clear();  // not hex (or absurdly long): the size names the copy instead
            break;
        }
        tag.push_back(l);
    }
    if (tag.empty()) tag = "s" + std::to_string(p.size);
    return std::to_string(p.package_id) + "-" + tag;
}

// ---- life cycle -------------------------------------------------------------------------------

ota_cache::ota_cache(node& n)
    : ota_cache(n, options{n.config().ota_chunk_bytes, n.config().ota_max_fetches, n.config().ota_max_waiters}) {}

ota_cache::ota_cache(node& n, options o)
    : node_(n),
      opt_{std::clamp<uint32_t>(o.chunk_bytes, 1, core_wire::max_ota_chunk_bytes), o.max_fetches, o.max_waiters},
      dir_(n.config().ota_cache_dir),
      max_bytes_(n.config().ota_cache_max_bytes),
      chunk_subject_(n.subject("core.v1.ota.chunk")) {}

ota_cache::~ota_cache() { stop(); }

void ota_cache::register_metrics(const sdk::host& h) {
    m_.refused_busy = h.counter("core_nats_ota_cache_refused_total",
                                "OTA package requests refused by the cache's bounds (5.03)", "reason=\"busy\"");
    m_.refused_too_large = h.counter("core_nats_ota_cache_refused_total",
                                     "OTA package requests refused by the cache's bounds (5.03)",
                                     "reason=\"too_large\"");
    m_.fetched = h.counter("core_nats_ota_cache_fetches_total", "OTA packages fetched from a core node");
    m_.damaged = h.counter("core_nats_ota_cache_damaged_total",
                           "OTA package fetches whose size or checksum did not match the package");
}

void ota_cache::start() {
    index_directory();
    {
        std::lock_guard lk(mu_);
        if (accepting_) return;
        accepting_ = true;
    }
    worker_ = std::thread([this] { worker_loop(); });
}

void ota_cache::stop() {
    {
        std::lock_guard lk(mu_);
        accepting_ = false;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

void ota_cache::index_directory() {
    std::error_code ec;
    const fs::file_status dir_status = fs::status(dir_, ec);
    if (!fs::exists(dir_status)) return;  // made by the first fetch: a node that serves no OTA has no folder
    if (!fs::is_directory(dir_status))
        throw sdk::error(TERN_CONFIG, sdk::cat("ota_cache_dir '", dir_, "' is not a folder"));
    struct found {
        std::string name;
        uint64_t size;
        fs::file_time_type used;
    };
    std::vector<found> seen;
    for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        std::error_code e2;
        if (name.starts_with(temp_prefix)) {
            fs::remove(it->path(), e2);  // a fetch that never finished
            continue;
        }
        if (!cache_file_name(name) || !it->is_regular_file(e2)) continue;
        const uint64_t size = it->file_size(e2);
        if (e2) continue;
        seen.push_back({name, size, it->last_write_time(e2)});
    }
    if (ec) throw sdk::error(TERN_IO, sdk::cat("ota_cache_dir '", dir_, "' cannot be read: ", ec.message()));
    std::sort(seen.begin(), seen.end(), [](const found& a, const found& b) { return a.used < b.used; });
    std::lock_guard lk(mu_);
    files_.clear();
    stored_ = 0;
    for (const found& f : seen) {
        file_entry& e = files_[f.name];
        e.size = f.size;
        e.last_use = e.id = ++tick_;
        stored_ += f.size;
    }
    make_room(0);  // the bound may have been lowered since the last run
    set_gauge();
    if (!files_.empty())
        node_.log().info("core_nats: ", files_.size(), " cached OTA packages (", stored_, " bytes) in ", dir_);
}

// ---- bounds -----------------------------------------------------------------------------------

bool ota_cache::make_room(uint64_t bytes) {
    while (stored_ + reserved_ + bytes > max_bytes_) {
        auto victim = files_.end();
        for (auto it = files_.begin(); it != files_.end(); ++it)
            if (it->second.pins == 0 && (victim == files_.end() || it->second.last_use < victim->second.last_use))
                victim = it;
        if (victim == files_.end()) return false;  // everything left is being handed out
        ::unlink(path_of(victim->first).c_str());
        stored_ -= victim->second.size;
        files_.erase(victim);
    }
    return true;
}

void ota_cache::set_gauge() noexcept { node_.metrics().ota_cache_bytes.set(static_cast<int64_t>(stored_)); }

uint64_t ota_cache::stored_bytes() noexcept {
    std::lock_guard lk(mu_);
    return stored_;
}

std::size_t ota_cache::files() noexcept {
    std::lock_guard lk(mu_);
    return files_.size();
}

// ---- localize ---------------------------------------------------------------------------------

void ota_cache::localize(uint64_t device_id, const tern_ota_package& package, done_fn done) noexcept {
    tern_ota_package p{};
    std::memcpy(&p, &package, std::min<std::size_t>(package.struct_size, sizeof p));
    p.struct_size = sizeof p;
    tern_status refuse = TERN_OK;
    try {
        const std::string name = file_name(p);
        std::unique_lock lk(mu_);
        if (auto it = files_.find(name); it != files_.end()) {
            file_entry& e = it->second;
            ++e.pins;
            e.last_use = ++tick_;
            const file_entry held = e;
            lk.unlock();
            complete_hit(name, held, device_id, p, done);
            return;
        }
        if (auto it = fetching_.find(name); it != fetching_.end()) {
            if (waiters_ >= opt_.max_waiters) {
                refuse = TERN_BUSY;
            } else {
                it->second->waiters.push_back(waiter{owned_package(p), std::move(done)});
                ++waiters_;
                return;
            }
        } else if (!accepting_) {
            refuse = TERN_UNAVAILABLE;
        } else if (p.size > max_bytes_) {
            refuse = TERN_INTERNAL;
        } else if (fetching_.size() >= opt_.max_fetches || waiters_ >= opt_.max_waiters || !make_room(p.size)) {
            refuse = TERN_BUSY;
        } else {
            auto f = std::make_shared<fetch>();
            f->name = name;
            f->device_id = device_id;
            f->type = p.type;
            f->package_id = p.package_id;
            f->size = p.size;
            f->checksum = sv(p.checksum);
            f->algorithm = sv(p.checksum_algorithm);
            if (!f->checksum.empty()) f->digest = package_digest::make(f->algorithm);
            f->waiters.push_back(waiter{owned_package(p), std::move(done)});
            ++waiters_;
            reserved_ += p.size;
            fetching_.emplace(name, f);
            job begin;
            begin.f = f;
            begin.begin = true;
            jobs_.push_back(std::move(begin));
            set_gauge();
            lk.unlock();
            cv_.notify_one();
            return;
        }
    } catch (const std::bad_alloc&) {
        refuse = TERN_INTERNAL;
    }
    if (refuse == TERN_BUSY) m_.refused_busy.inc();
    if (refuse == TERN_INTERNAL && p.size > max_bytes_) {
        m_.refused_too_large.inc();
        node_.log().error("core_nats: OTA package ", p.package_id, " has ", p.size,
                          " bytes, more than ota_cache_max_bytes (", max_bytes_, "): it cannot be served here");
    }
    done(refuse, nullptr);
}

void ota_cache::complete_hit(const std::string& name, const file_entry& e, uint64_t device_id,
                             const tern_ota_package& p, const done_fn& done) {
    const std::string path = path_of(name);
    struct stat st {};
    const bool intact =
        ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) == e.size;
    if (intact) {
        tern_ota_package v = p;
        v.path = ts(path);
        done(TERN_OK, &v);
    }
    {
        std::lock_guard lk(mu_);
        auto it = files_.find(name);
        if (it != files_.end() && it->second.id == e.id) {
            --it->second.pins;
            if (!intact) {  // gone or changed behind our back: forget it and fetch it again
                stored_ -= it->second.size;
                files_.erase(it);
                set_gauge();
            }
        }
    }
    if (intact) return;
    node_.log().warn("core_nats: the cached OTA file ", path, " is missing or has the wrong size; fetching it again");
    localize(device_id, p, done);
}

// ---- the worker -------------------------------------------------------------------------------

void ota_cache::post(job j) noexcept {
    {
        std::lock_guard lk(mu_);
        if (accepting_) {
            try {
                jobs_.push_back(std::move(j));
                cv_.notify_one();
                return;
            } catch (const std::bad_alloc&) {
            }
        }
    }
    fail(j.f, TERN_UNAVAILABLE, "the OTA cache is stopping");
}

void ota_cache::worker_loop() {
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait(lk, [&] { return !jobs_.empty() || !accepting_; });
        if (jobs_.empty()) break;  // stopping, and everything queued was handled
        job j = std::move(jobs_.front());
        jobs_.pop_front();
        lk.unlock();
        try {
            run(j);
        } catch (const std::bad_alloc&) {
            fail(j.f, TERN_INTERNAL, "out of memory");
        }
        lk.lock();
    }
}

void ota_cache::run(job& j) {
    fetch& f = *j.f;
    if (j.begin) {
        {
            std::lock_guard lk(mu_);
            f.temp = sdk::cat(dir_, "/", temp_prefix, f.name, "-", ++temp_seq_);
        }
        std::error_code ec;
        fs::create_directories(dir_, ec);
        if (ec) return fail(j.f, TERN_INTERNAL, sdk::cat("cannot create ota_cache_dir ", dir_, ": ", ec.message()));
        f.fd = ::open(f.temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f.fd < 0) return fail(j.f, TERN_INTERNAL, sdk::cat("cannot create ", f.temp, ": ", std::strerror(errno)));
        if (f.size == 0) return finish(j.f);
        return request_chunk(j.f);
    }
    if (j.link != nats_link::status::ok)
        return fail(j.f, link_status(j.link), sdk::cat("chunk request: ", nats_link::to_string(j.link)));
    if (j.status != TERN_OK)
        return fail(j.f, j.status, sdk::cat("the core node answered ", sdk::status_name(j.status), ": ", j.message));
    if (j.total_size != f.size) {
        m_.damaged.inc();
        return fail(j.f, TERN_INTERNAL,
                    sdk::cat("the core node's file has ", j.total_size, " bytes, the package says ", f.size));
    }
    if (j.data.empty() || j.data.size() > f.asked)
        return fail(j.f, TERN_INTERNAL, sdk::cat("a chunk of ", j.data.size(), " bytes answered a request for ", f.asked));
    if (!write_all(f.fd, j.data.data(), j.data.size(), f.offset))
        return fail(j.f, TERN_INTERNAL, sdk::cat("cannot write ", f.temp, ": ", std::strerror(errno)));
    if (f.digest && !f.digest->update(j.data.data(), j.data.size()))
        return fail(j.f, TERN_INTERNAL, "the checksum computation failed");
    f.offset += j.data.size();
    if (f.offset == f.size) return finish(j.f);
    request_chunk(j.f);
}

void ota_cache::request_chunk(const std::shared_ptr<fetch>& f) {
    {
        std::lock_guard lk(mu_);
        if (!accepting_) return fail(f, TERN_UNAVAILABLE, "the OTA cache is stopping");
    }
    f->asked = static_cast<uint32_t>(std::min<uint64_t>(opt_.chunk_bytes, f->size - f->offset));
    core_wire::ota_chunk_request req;
    req.device_id = f->device_id;
    req.type = f->type;
    req.package_id = f->package_id;
    req.offset = f->offset;
    req.length = f->asked;
    if (auto r = enc_.encode(req, wire_); !r) return fail(f, TERN_INTERNAL, sdk::cat("chunk request: ", r.detail));
    nats_link::link* l = node_.link();
    if (l == nullptr) return fail(f, TERN_UNAVAILABLE, "core unreachable: NATS link is down");
    node_.metrics().request(request_op::ota_chunk);
    l->request(chunk_subject_, wire_, static_cast<uint32_t>(node_.config().ota_fetch_timeout.count()),
               [this, f](nats_link::status st, std::string_view reply) { on_chunk(f, st, reply); });
}

void ota_cache::on_chunk(const std::shared_ptr<fetch>& f, nats_link::status st, std::string_view reply) noexcept {
    job j;
    j.f = f;
    j.link = st;
    try {
        if (st == nats_link::status::ok) {
            std::lock_guard lk(reply_mu_);
            core_wire::ota_chunk_reply r;
            if (auto res = dec_.decode(bytes_of(reply), r); !res) {
                j.status = TERN_INTERNAL;
                j.message = sdk::cat("a reply that does not decode (", res.detail, ")");
            } else {
                j.status = r.status;
                j.message = sv(r.message);
                j.total_size = r.total_size;
                j.data.assign(reinterpret_cast<const char*>(r.data.data), r.data.size);
            }
        }
    } catch (const std::bad_alloc&) {
        j.status = TERN_INTERNAL;
        j.data.clear();
    }
    const tern_status seen = st != nats_link::status::ok ? link_status(st) : j.status;
    if (seen != TERN_OK) node_.metrics().request_failed(request_op::ota_chunk, seen);
    post(std::move(j));
}

void ota_cache::finish(const std::shared_ptr<fetch>& f) {
    if (f->digest) {
        const std::string got = f->digest->hex();
        if (!package_digest::same_hex(got, f->checksum)) {
            m_.damaged.inc();
            return fail(f, TERN_INTERNAL,
                        sdk::cat("checksum mismatch: the copy's ", f->algorithm, " is ", got.empty() ? "unknown" : got,
                                 ", the package says ", f->checksum));
        }
    }
    if (::fsync(f->fd) != 0) return fail(f, TERN_INTERNAL, sdk::cat("cannot sync ", f->temp, ": ", std::strerror(errno)));
    ::close(f->fd);
    f->fd = -1;
    const std::string final_path = path_of(f->name);
    if (::rename(f->temp.c_str(), final_path.c_str()) != 0)
        return fail(f, TERN_INTERNAL, sdk::cat("cannot rename ", f->temp, ": ", std::strerror(errno)));
    f->temp.clear();
    std::vector<waiter> ws;
    uint64_t id = 0;
    {
        std::lock_guard lk(mu_);
        reserved_ -= f->size;
        stored_ += f->size;
        file_entry& e = files_[f->name];
        e.size = f->size;
        e.last_use = e.id = id = ++tick_;
        e.pins = 1;  // the waiters' completions below
        ws = std::move(f->waiters);
        waiters_ -= static_cast<uint32_t>(ws.size());
        fetching_.erase(f->name);
        set_gauge();
    }
    m_.fetched.inc();
    node_.log().info("core_nats: fetched OTA package ", f->package_id, " (", f->size, " bytes) into ", final_path);
    for (waiter& w : ws) {
        const tern_ota_package v = w.package.view(final_path);
        w.done(TERN_OK, &v);
    }
    std::lock_guard lk(mu_);
    if (auto it = files_.find(f->name); it != files_.end() && it->second.id == id) --it->second.pins;
}

void ota_cache::fail(const std::shared_ptr<fetch>& f, tern_status st, const std::string& why) {
    if (f->fd >= 0) ::close(f->fd);
    f->fd = -1;
    if (!f->temp.empty()) ::unlink(f->temp.c_str());
    f->temp.clear();
    std::vector<waiter> ws;
    {
        std::lock_guard lk(mu_);
        reserved_ -= f->size;
        ws = std::move(f->waiters);
        waiters_ -= static_cast<uint32_t>(ws.size());
        if (auto it = fetching_.find(f->name); it != fetching_.end() && it->second == f) fetching_.erase(it);
    }
    const bool trouble = st != TERN_UNAVAILABLE && st != TERN_TIMEOUT && st != TERN_BUSY && st != TERN_NOT_FOUND;
    node_.log().write(trouble ? TERN_LOG_ERROR : TERN_LOG_WARN, "core_nats: OTA package ", f->package_id,
                      " for device ", f->device_id, " not fetched (", sdk::status_name(st), "): ", why);
    for (waiter& w : ws) w.done(st, nullptr);
}

}  // namespace tern::core_nats
