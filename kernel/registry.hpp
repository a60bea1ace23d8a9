// The registry: interfaces published by instances, found by id. Filled on the start-stop
// thread after every create() and before the first start(); read-only afterwards, so
// lookups from any thread take no lock.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "tern/abi/host.h"

namespace tern::kernel {

class registry final : public tern::registry_v1 {
public:
    // [start-stop], before publish()
    void add(std::string iid, std::string instance, std::size_t manifest_index, void* iface);
    // Orders entries by manifest index and makes them visible. [start-stop]
    void publish();
    // Hides everything again (after the last instance stopped). [start-stop]
    void clear();

    void* find(tern_str iid, tern_str instance) noexcept override;
    void list(tern_str iid, void (*sink)(void* ctx, tern_str instance, void* iface),
              void* ctx) noexcept override;

private:
    struct entry {
        std::string iid;
        std::string instance;
        std::size_t index;
        void* iface;
    };
    std::vector<entry> entries_;
    std::atomic<bool> published_{false};
};

}  // namespace tern::kernel
