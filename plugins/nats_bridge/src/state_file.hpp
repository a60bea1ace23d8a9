// state_file: the highest applied stream sequence of each uplink partition, in a small SQLite
// file of the bridge's own (WAL, synchronous NORMAL: a lost last write only means that a
// few uplinks are applied again, which is harmless; see README "Ordering and idempotence").
// Used by one thread at a time (start, then the worker).
#pragma once

#include <cstdint>
#include <map>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace tern::nats_bridge {

class state_file {
public:
    state_file() = default;
    ~state_file();
    state_file(const state_file&) = delete;
    state_file& operator=(const state_file&) = delete;

    // Opens (creating the file and its folder). False with error set.
    bool open(const std::string& path, std::string& error);
    // partition -> applied sequence of stream (partitions never written are absent).
    std::map<uint32_t, uint64_t> load(const std::string& stream, std::string& error);
    // Raises the marks of the given partitions (never lowers one) in one transaction.
    bool store(const std::string& stream, const std::map<uint32_t, uint64_t>& applied, std::string& error);
    // Forgets the marks of stream (it was created anew: its sequences start again at 1).
    bool reset(const std::string& stream, std::string& error);
    void close();

private:
    bool exec(const char* sql, std::string& error);
    sqlite3* db_ = nullptr;
    sqlite3_stmt* upsert_ = nullptr;
};

}  // namespace tern::nats_bridge
