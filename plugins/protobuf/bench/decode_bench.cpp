// The payload adaptors' own cost, without the network or the store. The json and protobuf
// plugins are loaded through the ABI as the kernel loads them (on the SDK's fake host, with
// their default settings) and called as the device API calls them: both decode the same
// telemetry (JSON text against ThingsBoard's default telemetry message: temperature and
// humidity) in one process, one after the other, and both encode the same attribute answer.
// Prints ns per call and the ratio protobuf / JSON of this run.
//
//   build/bin/protobuf_decode_bench [iterations] [protobuf]   (default 2 000 000)
//
// With "protobuf" it runs only the protobuf decode, for a profiler (perf record).
//
// Quote ratios from one run: the machine's noise moves absolute numbers more than it moves
// the ratio (docs/benchmarks.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tern/abi/payload.h"
#include "tern/sdk/testing.hpp"
#include "tern/sdk/views.hpp"

namespace {

// A plugin library, its instance on a fake host, and its tern.payload/1.
struct loaded_adaptor {
    tern::sdk::testing::plugin_library lib;
    tern::sdk::testing::fake_host host;
    tern::sdk::testing::instance_ptr instance;
    tern::payload_v1* adaptor;

    loaded_adaptor(const char* path, const char* name)
        : lib(path),
          host(lib.descriptor(), name),
          instance(tern::sdk::testing::create(lib.descriptor(), host)),
          adaptor(tern::sdk::testing::query<tern::payload_v1>(*instance)) {
        if (adaptor == nullptr) throw std::runtime_error(std::string(name) + " provides no tern.payload/1");
    }
};

tern_bytes bytes_of(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

// ThingsBoard's default telemetry message {temperature: 21.5, humidity: 48.25}: tags 0x09 and
// 0x11 (fields 1 and 2, 64-bit), each followed by a little-endian double.
std::string protobuf_body() {
    std::string b;
    auto put = [&](uint8_t tag, double v) {
        b.push_back(static_cast<char>(tag));
        uint64_t bits;
        std::memcpy(&bits, &v, 8);
        for (int i = 0; i < 8; ++i) b.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
    };
    put(0x09, 21.5);
    put(0x11, 48.25);
    return b;
}

void count_records(void* c, const tern_ts_record* r, uint32_t n) { *static_cast<uint64_t*>(c) += n ? r[0].count : 0; }
void count_bytes(void* c, tern_bytes b) { *static_cast<uint64_t*>(c) += b.size; }

template <class F>
double ns_per_call(long n, F&& f) {
    for (long i = 0; i < n / 10; ++i) f();  // warm: caches, thread-local buffers
    const auto t0 = std::chrono::steady_clock::now();
    for (long i = 0; i < n; ++i) f();
    const auto t1 = std::chrono::steady_clock::now();
    return std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(n);
}

tern_kv kv_double(const char* k, double v) {
    tern_kv kv{};
    kv.key = tern::sdk::to_str(std::string_view(k));
    kv.value.type = TERN_VALUE_DOUBLE;
    kv.value.u.d = v;
    return kv;
}

}  // namespace

int main(int argc, char** argv) {
    const long n = argc > 1 ? std::atol(argv[1]) : 2000000;
    loaded_adaptor json_plugin(TERN_JSON_PLUGIN_PATH, "json");
    loaded_adaptor pb_plugin(TERN_PROTOBUF_PLUGIN_PATH, "protobuf");
    tern::payload_v1& json = *json_plugin.adaptor;
    tern::payload_v1& pb = *pb_plugin.adaptor;

    tern_payload_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.profile_id = 1;
    ctx.revision = 1;  // no schema texts: ThingsBoard's defaults
    ctx.content_format = -1;
    tern_error err{};

    const std::string json_text = R"({"temperature":21.5,"humidity":48.25})";
    const std::string pb_bytes = protobuf_body();
    uint64_t seen = 0;
    if (argc > 2 && std::string_view(argv[2]) == "protobuf") {
        const double t = ns_per_call(n, [&] {
            pb.decode_telemetry(&ctx, bytes_of(pb_bytes), 0, count_records, &seen, &err);
        });
        std::printf("protobuf decode_telemetry: %.0f ns per call\n", t);
        return seen == 0 ? 1 : 0;
    }
    const double json_tel = ns_per_call(n, [&] {
        json.decode_telemetry(&ctx, bytes_of(json_text), 0, count_records, &seen, &err);
    });
    const double pb_tel = ns_per_call(n, [&] {
        pb.decode_telemetry(&ctx, bytes_of(pb_bytes), 0, count_records, &seen, &err);
    });

    const tern_kv shared[2] = {kv_double("target", 22.5), kv_double("hysteresis", 0.5)};
    const double json_attr = ns_per_call(n, [&] {
        json.encode_attributes(&ctx, nullptr, 0, shared, 2, count_bytes, &seen, &err);
    });
    const double pb_attr = ns_per_call(n, [&] {
        pb.encode_attributes(&ctx, nullptr, 0, shared, 2, count_bytes, &seen, &err);
    });

    std::printf("%-34s %10s %10s %8s\n", "call (ns per call)", "json", "protobuf", "pb/json");
    std::printf("%-34s %10.0f %10.0f %8.2f\n", "decode_telemetry (2 doubles)", json_tel, pb_tel, pb_tel / json_tel);
    std::printf("%-34s %10.0f %10.0f %8.2f\n", "encode_attributes (2 shared)", json_attr, pb_attr, pb_attr / json_attr);
    return seen == 0 ? 1 : 0;
}
