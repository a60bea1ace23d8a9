#include "completion_queue.hpp"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "tables.hpp"

namespace tern::coap {

bool completion::fill(op k, uint64_t i, const tern_coap_response* r, uint64_t ck,
                      uint32_t nf) noexcept {
    clear();
    kind = k;
    id = i;
    cookie = ck;
    notify_flags = nf;
    if (r == nullptr) {
        has_response_ = false;
        return true;
    }
    bool fits = r->option_count <= max_response_options;
    for (uint32_t k = 0; fits && k < r->option_count; ++k)
        fits = r->options[k].value.size <= 0xFFFF;
    if (!fits) {
        if (r->body != nullptr) r->body->release();
        return false;
    }
    has_response_ = true;
    response_ = *r;
    std::size_t need = r->body != nullptr ? 0 : r->payload.size;
    for (uint32_t i2 = 0; i2 < r->option_count; ++i2) need += r->options[i2].value.size;
    if (need > inline_capacity) {
        heap_ = static_cast<uint8_t*>(std::malloc(need));
        if (heap_ == nullptr) {
            if (r->body != nullptr) r->body->release();
            response_.body = nullptr;
            has_response_ = false;
            return false;
        }
    }
    uint8_t* d = data();
    std::size_t off = 0;
    option_count_ = static_cast<uint16_t>(r->option_count);
    for (uint32_t k2 = 0; k2 < r->option_count; ++k2) {
        const tern_coap_option& o = r->options[k2];
        opt_number_[k2] = o.number;
        opt_length_[k2] = static_cast<uint16_t>(o.value.size);
        if (o.value.size != 0) std::memcpy(d + off, o.value.data, o.value.size);
        off += o.value.size;
    }
    options_len_ = static_cast<uint32_t>(off);
    if (r->body == nullptr && r->payload.size != 0)
        std::memcpy(d + off, r->payload.data, r->payload.size);
    return true;
}

const tern_coap_response& completion::response(tern_coap_option* scratch) noexcept {
    // Views over wherever the bytes live now (records move between cells).
    uint8_t* d = data();
    std::size_t off = 0;
    for (uint32_t k = 0; k < option_count_; ++k) {
        scratch[k] = tern_coap_option{opt_number_[k], 0, 0, tern_bytes{d + off, opt_length_[k]}};
        off += opt_length_[k];
    }
    response_.options = option_count_ != 0 ? scratch : nullptr;
    if (response_.body == nullptr) response_.payload.data = d + options_len_;
    return response_;
}

void completion::clear() noexcept {
    if (has_response_ && response_.body != nullptr) response_.body->release();
    response_.body = nullptr;
    has_response_ = false;
    if (heap_ != nullptr) std::free(heap_);
    heap_ = nullptr;
    option_count_ = 0;
    options_len_ = 0;
}

void completion::take(completion& o) noexcept {
    kind = o.kind;
    id = o.id;
    cookie = o.cookie;
    notify_flags = o.notify_flags;
    response_ = o.response_;
    has_response_ = o.has_response_;
    option_count_ = o.option_count_;
    options_len_ = o.options_len_;
    heap_ = o.heap_;
    for (uint32_t k = 0; k < option_count_; ++k) {
        opt_number_[k] = o.opt_number_[k];
        opt_length_[k] = o.opt_length_[k];
    }
    if (heap_ == nullptr) {
        std::size_t n = options_len_ + (response_.body == nullptr ? response_.payload.size : 0);
        if (has_response_ && n != 0) std::memcpy(inline_, o.inline_, n);
    }
    o.heap_ = nullptr;
    o.response_.body = nullptr;
    o.has_response_ = false;
    o.option_count_ = 0;
    o.options_len_ = 0;
}

completion_queue::completion_queue(uint32_t capacity) {
    const uint64_t cap = next_pow2(capacity < 2 ? 2 : capacity);
    cells_ = std::make_unique<cell[]>(cap);
    mask_ = cap - 1;
    for (uint64_t i = 0; i < cap; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
}

completion_queue::~completion_queue() { discard(); }

void completion_queue::spin() noexcept { std::this_thread::yield(); }

bool completion_queue::push(completion&& c, bool& must_post) noexcept {
    must_post = false;
    if (!overflow_active_.load(std::memory_order_acquire)) {
        uint64_t pos = tail_.load(std::memory_order_relaxed);
        for (;;) {
            cell& cl = cells_[pos & mask_];
            const uint64_t s = cl.seq.load(std::memory_order_acquire);
            const auto dif = static_cast<int64_t>(s - pos);
            if (dif == 0) {
                if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                    cl.value = std::move(c);
                    cl.seq.store(pos + 1, std::memory_order_release);
                    must_post = !scheduled_.exchange(true, std::memory_order_seq_cst);
                    return true;
                }
            } else if (dif < 0) {
                break;  // full
            } else {
                pos = tail_.load(std::memory_order_relaxed);
            }
        }
    }
    try {
        std::lock_guard<std::mutex> lock(mu_);
        overflow_active_.store(true, std::memory_order_release);
        overflow_.push_back(std::move(c));
    } catch (...) {
        c.clear();
        return false;
    }
    must_post = !scheduled_.exchange(true, std::memory_order_seq_cst);
    return true;
}

void completion_queue::discard() noexcept {
    drain([](completion& c) { c.clear(); });
}

}  // namespace tern::coap
