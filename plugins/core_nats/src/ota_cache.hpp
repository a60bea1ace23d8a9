// ota_cache: a transport node's copies of OTA packages. A core node's ota_package reply names
// a file on the CORE node; before a local caller (device_api) gets the package, its bytes are
// made local here:
//
//  - one file per package in ota_cache_dir, named "<package_id>-<checksum>" (or
//    "<package_id>-s<size>" without a usable checksum), so a changed package is fetched again
//    under a new name;
//  - fetched from <prefix>.core.v1.ota.chunk in chunks (OtaChunkRequest/Reply; the core node
//    checks that the package is still the device's) into a temporary file, its size and, for
//    MD5/SHA256/SHA384/SHA512/CRC32, its checksum checked, synced and renamed into place;
//  - concurrent callers of one package wait for the one fetch (bounded: max_waiters callers,
//    max_fetches packages at once; past either a caller gets TERN_BUSY, which devices see as
//    5.03 with Max-Age);
//  - bounded by ota_cache_max_bytes: before a fetch, the least recently used files are
//    deleted to make room; a file is never deleted while a caller's completion that was
//    handed it runs (device_api opens the file inside the completion, and an open file
//    survives its deletion).
//
// Threads: localize() from any thread; a hit completes inline. File writes, hashing and the
// completions of fetched packages run on the cache's own worker thread, so neither a shard nor
// the NATS reply thread waits for the disk.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "node.hpp"
#include "tern/core_wire/codec.hpp"

namespace tern::core_nats {

class ota_cache final : public ota_hook {
public:
    struct options {
        uint32_t chunk_bytes = 256u << 10;  // per ota.chunk request (<= 512 KiB)
        uint32_t max_fetches = 4;           // packages being fetched at once
        uint32_t max_waiters = 1024;        // callers waiting for a fetch, all packages together
    };
    struct counters {
        sdk::metric refused_busy;      // core_nats_ota_cache_refused_total{reason="busy"}
        sdk::metric refused_too_large; // ...{reason="too_large"}: a package above the bound
        sdk::metric fetched;           // core_nats_ota_cache_fetches_total: packages fetched
        sdk::metric damaged;           // core_nats_ota_cache_damaged_total: size/checksum wrong
    };

    // Everything from n.config() (ota_cache_dir, ota_cache_max_bytes, ota_fetch_timeout,
    // ota_chunk_bytes, ota_max_fetches, ota_max_waiters); the second form takes the last three
    // from o (tests).
    explicit ota_cache(node& n);
    ota_cache(node& n, options o);
    ~ota_cache();
    ota_cache(const ota_cache&) = delete;
    ota_cache& operator=(const ota_cache&) = delete;

    void register_metrics(const sdk::host& h);
    // Indexes the packages already in the directory (deleting unfinished temporary files),
    // deletes the oldest past the bound, starts the worker. The directory itself is made by
    // the first fetch. Throws sdk::error naming the directory when it cannot be read.
    // [start-stop]
    void start();
    // Stops the worker: fetches in progress end TERN_UNAVAILABLE. Before n.close(), whose
    // completions of the chunk requests in flight still find this object. [start-stop]
    void stop();

    void localize(uint64_t device_id, const tern_ota_package& package, done_fn done) noexcept override;

    // ---- tests and stats -----------------------------------------------------------------
    uint64_t stored_bytes() noexcept;
    std::size_t files() noexcept;
    std::string directory() const { return dir_; }
    // The file name a package gets.
    static std::string file_name(const tern_ota_package& p);

private:
    // A package's metadata with its own strings; view() hands it out with path set.
    struct owned_package {
        tern_ota_package meta{};
        std::string title, version, tag, checksum, algorithm, url;
        explicit owned_package(const tern_ota_package& p);
        tern_ota_package view(const std::string& path) const noexcept;
    };
    struct waiter {
        owned_package package;
        done_fn done;
    };
    struct fetch;
    struct file_entry {
        uint64_t size = 0;
        uint64_t last_use = 0;  // tick
        uint32_t pins = 0;      // completions running with this file
        uint64_t id = 0;        // tick when indexed: tells this entry from a later one of the name
    };
    struct job {
        std::shared_ptr<fetch> f;
        bool begin = false;         // open the temporary file and ask for the first chunk
        nats_link::status link = nats_link::status::ok;
        tern_status status = TERN_OK;  // the chunk reply's
        std::string message;
        uint64_t total_size = 0;
        std::string data;
    };

    void index_directory();
    // Makes room for bytes more by deleting unpinned files, oldest use first. Under mu_.
    bool make_room(uint64_t bytes);
    void set_gauge() noexcept;  // under mu_
    void complete_hit(const std::string& name, const file_entry& e, uint64_t device_id, const tern_ota_package& p,
                      const done_fn& done);

    void post(job j) noexcept;
    void worker_loop();
    void run(job& j);
    void request_chunk(const std::shared_ptr<fetch>& f);
    void on_chunk(const std::shared_ptr<fetch>& f, nats_link::status st, std::string_view reply) noexcept;
    void finish(const std::shared_ptr<fetch>& f);
    void fail(const std::shared_ptr<fetch>& f, tern_status st, const std::string& why);
    std::string path_of(const std::string& name) const { return dir_ + "/" + name; }

    node& node_;
    const options opt_;
    const std::string dir_;
    const uint64_t max_bytes_;
    const std::string chunk_subject_;
    counters m_;

    std::mutex mu_;  // files_, fetching_, the byte counts, waiters_, the queue
    std::condition_variable cv_;
    std::unordered_map<std::string, file_entry> files_;
    std::unordered_map<std::string, std::shared_ptr<fetch>> fetching_;
    uint64_t stored_ = 0;    // bytes of files_
    uint64_t reserved_ = 0;  // bytes of the fetches in progress
    uint64_t tick_ = 0;
    uint32_t waiters_ = 0;
    std::deque<job> jobs_;
    bool accepting_ = false;  // the worker takes jobs
    uint64_t temp_seq_ = 0;

    std::mutex reply_mu_;
    core_wire::decoder dec_;   // under reply_mu_
    core_wire::encoder enc_;   // the worker's
    std::string wire_;         // the worker's
    std::thread worker_;
};

}  // namespace tern::core_nats
