#include "payload_adaptors.hpp"

#include "tern/sdk/views.hpp"

namespace tern::device_api {

bool payload_adaptors::offer(payload_v1* p) noexcept {
    if (p == nullptr) return false;
    const std::string_view name = sdk::to_sv(p->name());
    for (std::size_t i = 0; i < adaptor_table.size(); ++i) {
        if (adaptor_table[i].name != name) continue;
        if (slots_[i] != nullptr) return false;
        slots_[i] = p;
        return true;
    }
    return false;
}

void payload_adaptors::set(tern_payload_type type, payload_v1* p) noexcept {
    for (std::size_t i = 0; i < adaptor_table.size(); ++i)
        if (adaptor_table[i].type == type) slots_[i] = p;
}

payload_v1* payload_adaptors::for_type(tern_payload_type t) const noexcept {
    for (std::size_t i = 0; i < adaptor_table.size(); ++i)
        if (adaptor_table[i].type == t) return slots_[i];
    return slots_[0];
}

std::string_view payload_adaptors::missing() const noexcept {
    for (std::size_t i = 0; i < adaptor_table.size(); ++i)
        if (adaptor_table[i].required && slots_[i] == nullptr) return adaptor_table[i].name;
    return {};
}

}  // namespace tern::device_api
