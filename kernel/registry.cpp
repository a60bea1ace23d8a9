#include "kernel/registry.hpp"

#include <algorithm>
#include <string_view>

#include "tern/sdk/views.hpp"

namespace tern::kernel {

using sdk::to_sv;

void registry::add(std::string iid, std::string instance, std::size_t manifest_index, void* iface) {
    entries_.push_back({std::move(iid), std::move(instance), manifest_index, iface});
}

void registry::publish() {
    std::stable_sort(entries_.begin(), entries_.end(),
                     [](const entry& a, const entry& b) { return a.index < b.index; });
    published_.store(true, std::memory_order_release);
}

void registry::clear() {
    published_.store(false, std::memory_order_release);
    entries_.clear();
}

void* registry::find(tern_str iid, tern_str instance) noexcept {
    if (!published_.load(std::memory_order_acquire)) return nullptr;
    const std::string_view id = to_sv(iid), inst = to_sv(instance);
    for (const auto& e : entries_)
        if (e.iid == id && (inst.empty() || e.instance == inst)) return e.iface;
    return nullptr;
}

void registry::list(tern_str iid, void (*sink)(void* ctx, tern_str instance, void* iface),
                    void* ctx) noexcept {
    if (sink == nullptr || !published_.load(std::memory_order_acquire)) return;
    const std::string_view id = to_sv(iid);
    for (const auto& e : entries_)
        if (e.iid == id) sink(ctx, tern_str{e.instance.data(), e.instance.size()}, e.iface);
}

}  // namespace tern::kernel
