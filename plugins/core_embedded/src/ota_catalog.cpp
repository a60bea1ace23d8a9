// OTA packages (ota_catalog.hpp), and ota_sync: the fw_*/sw_* shared attributes and
// target_* telemetry that tell a device about its package.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "ota_catalog.hpp"
#include "crypto.hpp"
#include "ota_sync.hpp"
#include "schema.hpp"
#include "store.hpp"
#include "tern/sdk/views.hpp"

namespace tern::core_embedded {

namespace fs = std::filesystem;
using sdk::to_str;

namespace {

void write_telemetry(write_txn& t, uint64_t device, std::string_view key, int64_t ts, const value& v) {
    store::upsert_ts_point(t.conn(), device, t.ts_key(key), ts, v.view());
}

// Makes a file's bytes and its directory entry durable.
void sync_path(const std::string& path, bool directory) {
    const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("open " + path + ": " + std::strerror(errno));
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw std::runtime_error("fsync " + path + ": " + std::strerror(err));
}

// Hashes an uploaded file (its size, and its checksum against the expected one when
// given) into row and makes the file durable; else why it cannot be a package.
tern_status check_upload(const std::string& temp, const std::string& expected, ota_package_row& row,
                         std::string& why) {
    try {
        auto sum = checksum::make(row.checksum_algorithm);
        std::FILE* f = std::fopen(temp.c_str(), "rb");
        if (f == nullptr) {
            why = "cannot read the upload: " + std::string(std::strerror(errno));
            return TERN_IO;
        }
        std::vector<char> buf(1 << 16);
        uint64_t size = 0;
        size_t n;
        while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
            sum->update(buf.data(), n);
            size += n;
        }
        const bool bad = std::ferror(f) != 0;
        std::fclose(f);
        if (bad) {
            why = "cannot read the upload";
            return TERN_IO;
        }
        if (size == 0) {
            why = "the package is empty";
            return TERN_INVALID_ARGUMENT;
        }
        row.size = size;
        const std::string got = sum->hex();
        if (!expected.empty() && !std::equal(expected.begin(), expected.end(), got.begin(), got.end(),
                                             [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
            why = "checksum mismatch: the upload's " + row.checksum_algorithm + " is " + got;
            return TERN_INVALID_ARGUMENT;
        }
        row.checksum = got;
        sync_path(temp, false);
    } catch (const std::exception& e) {
        why = e.what();
        return TERN_IO;
    }
    return TERN_OK;
}

const char* const ota_keys[] = {"title", "version", "size", "checksum", "checksum_algorithm", "tag", "url"};

std::string no_package(uint64_t id) { return "no OTA package " + std::to_string(id); }

}  // namespace

void ota_sync(write_txn& t, uint64_t device_id, tern_ota_type type, uint64_t old_package,
              uint64_t new_package, std::vector<attribute_change>& out) {
    if (old_package == new_package) return;
    const std::string prefix = std::string(ota_prefix(type)) + "_";
    attribute_change ch;
    ch.device_id = device_id;
    auto remove = [&](const char* k) {
        const std::string key = prefix + k;
        if (store::delete_attribute(t.conn(), device_id, TERN_SCOPE_SHARED, key)) ch.deleted.push_back(key);
    };
    auto set = [&](const char* k, value v) {
        const std::string key = prefix + k;
        store::upsert_attribute(t.conn(), device_id, TERN_SCOPE_SHARED, key, v, t.now());
        ch.updated.push_back(kv{key, std::move(v)});
    };
    std::optional<ota_package_row> p;
    if (new_package != 0) p = store::load_ota(t.conn(), new_package, {});
    if (!p) {
        for (const char* k : ota_keys) remove(k);
    } else {
        set("title", value::of_str(p->title));
        set("version", value::of_str(p->version));
        set("size", value::of_int(static_cast<int64_t>(p->size)));
        if (!p->checksum.empty()) {
            set("checksum", value::of_str(p->checksum));
            set("checksum_algorithm", value::of_str(p->checksum_algorithm));
        } else {
            remove("checksum");
            remove("checksum_algorithm");
        }
        if (!p->tag.empty()) set("tag", value::of_str(p->tag));
        else remove("tag");
        if (!p->url.empty()) set("url", value::of_str(p->url));
        else remove("url");
        const int64_t now = t.now();
        write_telemetry(t, device_id, "target_" + prefix + "title", now, value::of_str(p->title));
        write_telemetry(t, device_id, "target_" + prefix + "version", now, value::of_str(p->version));
        write_telemetry(t, device_id, "target_" + prefix + "ts", now, value::of_int(now));
        if (!p->tag.empty()) write_telemetry(t, device_id, "target_" + prefix + "tag", now, value::of_str(p->tag));
        write_telemetry(t, device_id, prefix + "state", now, value::of_str("QUEUED"));
    }
    if (!ch.updated.empty() || !ch.deleted.empty()) out.push_back(std::move(ch));
}

void ota_catalog::create(ota_upload up, callback<ota_package_row> cb) {
    auto fail = [&](tern_status s, std::string msg) {
        if (!up.temp_path.empty()) {
            std::error_code ec;
            fs::remove(up.temp_path, ec);
        }
        cb({s, std::move(msg), {}});
    };
    if (up.title.empty() || up.version.empty()) return fail(TERN_INVALID_ARGUMENT, "title and version are required");
    if (up.type != TERN_OTA_FIRMWARE && up.type != TERN_OTA_SOFTWARE)
        return fail(TERN_INVALID_ARGUMENT, "type must be firmware or software");
    if (up.checksum_algorithm.empty()) up.checksum_algorithm = "SHA256";
    const std::string algo = checksum_algorithm_name(up.checksum_algorithm);
    if (algo.empty())
        return fail(TERN_INVALID_ARGUMENT, "unsupported checksum algorithm '" + up.checksum_algorithm +
                                               "' (MD5, SHA256, SHA384, SHA512, CRC32)");
    up.checksum_algorithm = algo;
    if (up.temp_path.empty() && up.url.empty())
        return fail(TERN_INVALID_ARGUMENT, "a package needs a file or a URL");
    auto row = std::make_shared<ota_package_row>();
    row->type = up.type;
    row->title = up.title;
    row->version = up.version;
    row->tag = up.tag;
    row->url = up.url;
    row->file_name = up.file_name;
    row->content_type = up.content_type;
    row->checksum_algorithm = up.url.empty() || !up.temp_path.empty() ? algo : std::string();
    row->checksum = up.checksum;
    const std::string folder = dir();
    const std::string temp = up.temp_path;
    const std::string expected = up.checksum;
    // Hashing a big file takes a while: a reader thread does it, not the writer (which
    // would hold up every device) nor the admin thread.
    p_.read<ota_package_row>(
        [this, row, folder, temp, expected, cb](db::connection&) {
            auto fail = [&](tern_status s, std::string msg) {
                std::error_code ec;
                if (!temp.empty()) fs::remove(temp, ec);
                cb({s, std::move(msg), {}});
            };
            if (!temp.empty()) {
                std::string why;
                if (const tern_status st = check_upload(temp, expected, *row, why); st != TERN_OK) return fail(st, why);
            }
            p_.submit(
                [row, folder, temp](write_txn& t, std::string& msg) -> tern_status {
                    {
                        auto q = t.query("SELECT id FROM ota_packages WHERE type = ? AND title = ? AND version = ?");
                        q->bind(1, static_cast<int64_t>(row->type)).bind(2, std::string_view(row->title));
                        q->bind(3, std::string_view(row->version));
                        if (q->step()) {
                            msg = std::string(ota_type_name(row->type)) + " '" + row->title + "' version '" +
                                  row->version + "' exists (package " + std::to_string(q->get_int(0)) + ")";
                            return TERN_EXISTS;
                        }
                    }
                    row->created_ts = t.now();
                    auto q = t.query(
                        "INSERT INTO ota_packages(type, title, version, tag, size, checksum, checksum_algorithm, "
                        "url, file_name, content_type, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
                    q->bind(1, static_cast<int64_t>(row->type)).bind(2, std::string_view(row->title));
                    q->bind(3, std::string_view(row->version)).bind_opt(4, row->tag);
                    q->bind(5, static_cast<int64_t>(row->size)).bind_opt(6, row->checksum);
                    q->bind_opt(7, row->checksum_algorithm).bind_opt(8, row->url).bind_opt(9, row->file_name);
                    q->bind_opt(10, row->content_type).bind(11, row->created_ts);
                    q->run();
                    row->id = static_cast<uint64_t>(t.conn().last_insert_rowid());
                    if (!temp.empty()) {
                        // The file is in place before COMMIT: a committed row always has
                        // its bytes. A rolled-back id is reused by the next upload, which
                        // overwrites any file left behind.
                        row->path = folder + "/" + std::to_string(row->id) + ".bin";
                        std::error_code ec;
                        fs::rename(temp, row->path, ec);
                        if (ec) throw std::runtime_error("cannot move the upload into " + folder + ": " + ec.message());
                        const std::string path = row->path;
                        t.on_undo([path, temp] {
                            std::error_code e2;
                            fs::rename(path, temp, e2);
                        });
                        sync_path(folder, true);
                    }
                    return TERN_OK;
                },
                [row, temp, cb](tern_status s, const std::string& msg) {
                    if (s != TERN_OK && !temp.empty()) {
                        std::error_code ec;
                        fs::remove(temp, ec);
                    }
                    cb({s, msg, s == TERN_OK ? *row : ota_package_row{}});
                });
        },
        cb);
}

void ota_catalog::remove(uint64_t id, callback<none> cb) {
    const std::string path = dir() + "/" + std::to_string(id) + ".bin";
    p_.submit(
        [id](write_txn& t, std::string& msg) -> tern_status {
            {
                auto q = t.query("SELECT 1 FROM ota_packages WHERE id = ?");
                q->bind_id(1, id);
                if (!q->step()) {
                    msg = no_package(id);
                    return TERN_NOT_FOUND;
                }
            }
            {
                auto q = t.query(
                    "SELECT (SELECT count(*) FROM devices WHERE fw_package_id = ?1 OR sw_package_id = ?1) + "
                    "(SELECT count(*) FROM profiles WHERE fw_package_id = ?1 OR sw_package_id = ?1)");
                q->bind_id(1, id);
                if (q->step() && q->get_int(0) > 0) {
                    msg = "OTA package " + std::to_string(id) + " is assigned; unassign it first";
                    return TERN_EXISTS;
                }
            }
            auto q = t.query("DELETE FROM ota_packages WHERE id = ?");
            q->bind_id(1, id);
            q->run();
            return TERN_OK;
        },
        [this, path, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK) {
                std::error_code ec;
                fs::remove(path, ec);
                forget();
            }
            cb({s, msg, {}});
        });
}

void ota_catalog::get(uint64_t id, callback<ota_package_row> cb) {
    p_.read<ota_package_row>(
        [id, dir = dir(), cb](db::connection& c) {
            result<ota_package_row> r;
            try {
                auto p = store::load_ota(c, id, dir);
                if (p) r.value = std::move(*p);
                else r = {TERN_NOT_FOUND, no_package(id), {}};
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

void ota_catalog::list(callback<std::vector<ota_package_row>> cb) {
    p_.read<std::vector<ota_package_row>>(
        [dir = dir(), cb](db::connection& c) {
            result<std::vector<ota_package_row>> r;
            try {
                r.value = store::list_ota(c, dir);
            } catch (const std::exception& e) {
                r = {TERN_IO, e.what(), {}};
            }
            cb(std::move(r));
        },
        cb);
}

void ota_catalog::assign(ota_target target, tern_ota_type type, uint64_t package_id, callback<none> cb) {
    if (target.device.empty() == target.profile.empty()) {
        cb({TERN_INVALID_ARGUMENT, "assign to exactly one device or one profile", {}});
        return;
    }
    auto changes = std::make_shared<std::vector<attribute_change>>();
    p_.submit(
        [target, type, package_id, changes](write_txn& t, std::string& msg) -> tern_status {
            changes->clear();
            if (package_id != 0) {
                auto p = store::load_ota(t.conn(), package_id, {});
                if (!p) {
                    msg = no_package(package_id);
                    return TERN_NOT_FOUND;
                }
                if (p->type != type) {
                    msg = "OTA package " + std::to_string(package_id) + " is " + ota_type_name(p->type) +
                          ", not " + ota_type_name(type);
                    return TERN_INVALID_ARGUMENT;
                }
            }
            const char* column = type == TERN_OTA_SOFTWARE ? "sw" : "fw";
            std::vector<uint64_t> devices;
            if (!target.device.empty()) {
                auto d = store::device_id(t.conn(), target.device);
                if (!d) {
                    msg = "no device named '" + target.device + "'";
                    return TERN_NOT_FOUND;
                }
                devices.push_back(*d);
            } else {
                auto p = store::profile_id(t.conn(), target.profile);
                if (!p) {
                    msg = "no profile named '" + target.profile + "'";
                    return TERN_NOT_FOUND;
                }
                devices = store::devices_of_profile(t.conn(), *p);
            }
            std::vector<uint64_t> before;
            before.reserve(devices.size());
            for (uint64_t d : devices) before.push_back(store::effective_ota(t.conn(), d, type));
            if (!target.device.empty()) {
                auto q = t.query(column[0] == 's' ? "UPDATE devices SET sw_package_id = ? WHERE id = ?"
                                                  : "UPDATE devices SET fw_package_id = ? WHERE id = ?");
                q->bind_opt_id(1, package_id).bind_id(2, devices[0]);
                q->run();
            } else {
                auto q = t.query(column[0] == 's' ? "UPDATE profiles SET sw_package_id = ? WHERE name = ?"
                                                  : "UPDATE profiles SET fw_package_id = ? WHERE name = ?");
                q->bind_opt_id(1, package_id).bind(2, std::string_view(target.profile));
                q->run();
            }
            for (size_t i = 0; i < devices.size(); ++i)
                ota_sync(t, devices[i], type, before[i], store::effective_ota(t.conn(), devices[i], type), *changes);
            return TERN_OK;
        },
        [this, changes, cb](tern_status s, const std::string& msg) {
            if (s == TERN_OK) {
                forget();
                for (const attribute_change& c : *changes) p_.listener.notify_attributes(c.device_id, c.updated, c.deleted);
            }
            cb({s, msg, {}});
        });
}

void ota_catalog::package(uint64_t device_id, tern_ota_type type, tern_core_ota_fn done, void* ctx) noexcept {
    auto answer = [done, ctx](const ota_package_row& p) {
        tern_ota_package o{};
        o.struct_size = sizeof o;
        o.type = p.type;
        o.package_id = p.id;
        o.title = to_str(p.title);
        o.version = to_str(p.version);
        o.tag = to_str(p.tag);
        o.size = p.size;
        o.checksum = to_str(p.checksum);
        o.checksum_algorithm = to_str(p.checksum_algorithm);
        o.path = to_str(p.path);
        o.url = to_str(p.url);
        done(ctx, TERN_OK, &o);
    };
    std::shared_ptr<const ota_package_row> hit;
    uint64_t epoch = 0;
    {
        std::lock_guard lk(mutex_);
        auto it = cache_.find({device_id, type});
        if (it != cache_.end()) hit = it->second;
        epoch = epoch_;
    }
    if (hit) {  // the shared copy keeps the row alive while done runs, outside the lock
        answer(*hit);
        return;
    }
    try {
        p_.reads.submit(
            [this, device_id, type, epoch, done, ctx, answer](db::connection& c) {
                std::shared_ptr<ota_package_row> p;
                try {
                    const uint64_t id = store::effective_ota(c, device_id, type);
                    if (id != 0) {
                        if (auto row = store::load_ota(c, id, dir())) p = std::make_shared<ota_package_row>(std::move(*row));
                    }
                } catch (const std::exception&) {
                    done(ctx, TERN_UNAVAILABLE, nullptr);
                    return;
                }
                if (!p) {
                    done(ctx, TERN_NOT_FOUND, nullptr);
                    return;
                }
                {
                    std::lock_guard lk(mutex_);
                    if (epoch == epoch_ && cache_.size() < 100000) cache_[{device_id, type}] = p;
                }
                answer(*p);
            },
            [done, ctx](tern_status s) { done(ctx, s, nullptr); });
    } catch (const std::bad_alloc&) {  // nothing was queued
        done(ctx, TERN_INTERNAL, nullptr);
    }
}

std::string ota_catalog::dir() const {
    const fs::path db(p_.settings.database);
    const fs::path parent = db.has_parent_path() ? db.parent_path() : fs::path(".");
    return (parent / "ota").string();
}

void ota_catalog::forget() {
    std::lock_guard lk(mutex_);
    ++epoch_;
    cache_.clear();
}

}  // namespace tern::core_embedded
