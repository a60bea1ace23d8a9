// The walk's JSON text against ThingsBoard's own stack: protobuf-java's JsonFormat printer (default
// values included) and Gson on the JDK, through tests/java/PrinterReference.java. Thousands of
// messages, random but seeded (every field type, unset and default fields, nested messages,
// repeated fields, maps with repeated keys, escapes, NaN, 64-bit extremes, unknown enum values),
// go to both as wire bytes; every message_json text must equal Gson's text of the printer's JSON.
// Doubles and floats cover round decimals, integers and random bits of every exponent (Java 17's
// spelling of them decides what ThingsBoard stores).
// Needs a JDK and Debian's libprotobuf-java, libgoogle-gson-java and libguava-java: without them
// it exits 77 (skipped).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/text_format.h>

#include "tern/proto_walk/message_walk.hpp"
#include "tern/base64/base64.hpp"

namespace pb = google::protobuf;
using pb::FieldDescriptor;

namespace {

constexpr int skipped = 77;
constexpr int message_count = 2000;

constexpr const char* proto = R"(
syntax = "proto3";
package conformance;
enum Color { RED = 0; GREEN = 1; BLUE = 2; }
message Leaf {
  int64 big = 1; double d = 2; Color c = 3; bytes raw = 4; string s = 5; uint64 u = 6; float f = 7;
  repeated Color cs = 8; map<uint64, Leaf> m = 9; sint32 small = 10; fixed32 f32 = 11;
}
message Root {
  int64 ts = 1; Leaf values = 2; repeated Leaf leaves = 3; map<int32, Leaf> by_id = 4;
  map<bool, string> flags = 5; repeated string names = 6; repeated double nums = 7; Root child = 8;
  optional sint32 opt = 9; oneof choice { float choice_f = 10; bytes choice_b = 11; Leaf choice_leaf = 16; }
  map<string, Root> by_name = 12; repeated float fs = 13; fixed64 f64 = 14; uint32 u32 = 15;
  int32 declared_last_numbered_first = 0x1F; sfixed64 sf64 = 17; map<string, double> weights = 18;
  repeated bytes blobs = 19; repeated int64 longs = 20; bool flag = 21; optional string note = 22;
}
)";

std::string jar(const char* name) { return std::string("/usr/share/java/") + name; }

bool have(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()) == 0; }

// Random field values, each type with its corner cases.
class values {
public:
    explicit values(uint64_t seed) : rng_(seed) {}

    uint64_t below(uint64_t n) { return rng_() % n; }

    double round_decimal() {
        const double k = static_cast<double>(1 + below(99999));
        return (below(2) ? -1 : 1) * k * std::pow(10.0, static_cast<double>(below(36)) - 12);
    }

    double any_double() {
        switch (below(8)) {
            case 0: return round_decimal();
            case 1: return std::ldexp(static_cast<double>(rng_() >> 11), static_cast<int>(below(120)) - 60);  // an integer or near one
            case 2: {  // random bits, any finite exponent, subnormals too
                uint64_t bits = rng_();
                const uint64_t exponent = below(2047);
                bits = (bits & ~(uint64_t{0x7FF} << 52)) | (exponent << 52);
                double d = 0;
                std::memcpy(&d, &bits, sizeof d);
                return d;
            }
            case 3: return static_cast<double>(static_cast<int64_t>(rng_() >> below(64)));
            case 4: return std::numeric_limits<double>::quiet_NaN();
            case 5: return below(2) ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
            case 6: return below(2) ? 0.0 : -0.0;
            default: return static_cast<double>(below(100000)) / 100.0;
        }
    }

    float any_float() {
        switch (below(5)) {
            case 0: return static_cast<float>(round_decimal() * 1e-8);  // up to 1e19
            case 1: return static_cast<float>(static_cast<int64_t>(rng_() >> (24 + below(40))));
            case 2: {  // random bits, any finite value, subnormals too
                float f = 0;
                do {
                    auto bits = static_cast<uint32_t>(rng_());
                    std::memcpy(&f, &bits, sizeof f);
                } while (!std::isfinite(f));
                return f;
            }
            case 3: return below(2) ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
            default: return static_cast<float>(below(100000)) / 100.0f;
        }
    }

    int64_t any_int64() {
        static constexpr int64_t corners[] = {0, -1, 1, std::numeric_limits<int64_t>::min(),
                                               std::numeric_limits<int64_t>::max(), 9007199254740993};
        return below(2) ? corners[below(6)] : static_cast<int64_t>(rng_() >> below(64));
    }

    std::string any_string() {
        static const char* const texts[] = {"", "a", "42", "-1.5", "007", "1e3", "caf\xC3\xA9", "\"q\\",
                                            "\n\t\r\b\f", "<>&='", "\xE2\x80\xA8", "\x01\x1F", "\xF0\x9F\x98\x80",
                                            "12345678901234567890", "NaN", "key with spaces"};
        return texts[below(std::size(texts))];
    }

    std::string any_bytes() {
        std::string b(below(6), '\0');
        for (auto& c : b) c = static_cast<char>(rng_());
        return b;
    }

private:
    std::mt19937_64 rng_;
};

// Fills m at random: each field set, left out, or (repeated) given a few elements.
void fill(pb::Message& m, values& v, int depth);

void set_value(pb::Message& m, const FieldDescriptor* f, values& v, int depth) {
    const pb::Reflection* r = m.GetReflection();
    const bool add = f->is_repeated();
    switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_BOOL: add ? r->AddBool(&m, f, v.below(2)) : r->SetBool(&m, f, v.below(2)); break;
        case FieldDescriptor::CPPTYPE_INT32: {
            const auto x = static_cast<int32_t>(v.any_int64());
            add ? r->AddInt32(&m, f, x) : r->SetInt32(&m, f, x);
            break;
        }
        case FieldDescriptor::CPPTYPE_UINT32: {
            const auto x = static_cast<uint32_t>(v.any_int64());
            add ? r->AddUInt32(&m, f, x) : r->SetUInt32(&m, f, x);
            break;
        }
        case FieldDescriptor::CPPTYPE_INT64: add ? r->AddInt64(&m, f, v.any_int64()) : r->SetInt64(&m, f, v.any_int64()); break;
        case FieldDescriptor::CPPTYPE_UINT64: {
            const auto x = static_cast<uint64_t>(v.any_int64());
            add ? r->AddUInt64(&m, f, x) : r->SetUInt64(&m, f, x);
            break;
        }
        case FieldDescriptor::CPPTYPE_DOUBLE: add ? r->AddDouble(&m, f, v.any_double()) : r->SetDouble(&m, f, v.any_double()); break;
        case FieldDescriptor::CPPTYPE_FLOAT: add ? r->AddFloat(&m, f, v.any_float()) : r->SetFloat(&m, f, v.any_float()); break;
        case FieldDescriptor::CPPTYPE_ENUM: {
            const int x = v.below(4) == 0 ? static_cast<int>(v.below(9)) - 3 : static_cast<int>(v.below(3));  // some unknown
            add ? r->AddEnumValue(&m, f, x) : r->SetEnumValue(&m, f, x);
            break;
        }
        case FieldDescriptor::CPPTYPE_STRING: {
            const std::string s = f->type() == FieldDescriptor::TYPE_BYTES ? v.any_bytes() : v.any_string();
            add ? r->AddString(&m, f, s) : r->SetString(&m, f, s);
            break;
        }
        case FieldDescriptor::CPPTYPE_MESSAGE:
            if (depth >= 2) break;
            fill(add ? *r->AddMessage(&m, f) : *r->MutableMessage(&m, f), v, depth + 1);
            break;
    }
}

void fill(pb::Message& m, values& v, int depth) {
    const pb::Descriptor* d = m.GetDescriptor();
    for (int i = 0; i < d->field_count(); ++i) {
        const FieldDescriptor* f = d->field(i);
        if (f->is_map()) {
            // Few distinct keys, so that a key often comes twice (the printer prints both).
            for (uint64_t n = v.below(4); n > 0; --n) {
                pb::Message* entry = m.GetReflection()->AddMessage(&m, f);
                const FieldDescriptor* key = f->message_type()->map_key();
                if (key->cpp_type() == FieldDescriptor::CPPTYPE_STRING)
                    entry->GetReflection()->SetString(entry, key, std::string(1, static_cast<char>('a' + v.below(3))));
                else
                    set_value(*entry, key, v, depth);
                set_value(*entry, f->message_type()->map_value(), v, depth);
            }
        } else if (f->is_repeated()) {
            for (uint64_t n = v.below(4); n > 0; --n) set_value(m, f, v, depth);
        } else if (v.below(3) != 0) {
            set_value(m, f, v, depth);
        }
    }
}

const pb::FileDescriptor* compile(pb::DescriptorPool& pool) {
    pb::io::ArrayInputStream in(proto, static_cast<int>(std::strlen(proto)));
    pb::io::Tokenizer tokens(&in, nullptr);
    pb::compiler::Parser parser;
    pb::FileDescriptorProto file;
    if (!parser.Parse(&tokens, &file)) return nullptr;
    file.set_name("conformance.proto");
    return pool.BuildFile(file);
}

}  // namespace

int main() {
    const std::string classpath = jar("protobuf.jar") + ":" + jar("protobuf-util.jar") + ":" + jar("gson.jar") + ":" +
                                  jar("guava.jar");
    for (const char* j : {"protobuf.jar", "protobuf-util.jar", "gson.jar", "guava.jar"})
        if (!std::filesystem::exists(jar(j))) {
            std::cout << "skipped: " << jar(j) << " is not installed\n";
            return skipped;
        }
    if (!have("command -v javac") || !have("command -v java")) {
        std::cout << "skipped: no JDK (javac, java)\n";
        return skipped;
    }
    const std::filesystem::path dir = TERN_WALK_JAVA_DIR;
    std::filesystem::create_directories(dir);
    if (!have("javac -cp " + classpath + " -d " + dir.string() + " " + TERN_WALK_JAVA_SOURCE)) {
        std::cerr << "javac failed on " << TERN_WALK_JAVA_SOURCE << "\n";
        return 1;
    }

    pb::DescriptorPool pool;
    const pb::FileDescriptor* file = compile(pool);
    if (file == nullptr) return 1;
    pb::FileDescriptorSet set;
    file->CopyTo(set.add_file());
    std::ofstream(dir / "schema.desc", std::ios::binary) << set.SerializeAsString();

    pb::DynamicMessageFactory factory(&pool);
    const pb::Message& prototype = *factory.GetPrototype(pool.FindMessageTypeByName("conformance.Root"));
    values v(20261207);
    std::vector<std::string> wires;
    {
        std::ofstream input(dir / "input.txt");
        for (int i = 0; i < message_count; ++i) {
            std::unique_ptr<pb::Message> m(prototype.New());
            fill(*m, v, 0);
            wires.push_back(m->SerializeAsString());
            input << "Root " << tern::base64::encode(std::span(reinterpret_cast<const uint8_t*>(wires.back().data()), wires.back().size())) << "\n";
        }
    }
    const std::string run = "java -cp " + classpath + ":" + dir.string() + " PrinterReference " + (dir / "schema.desc").string() +
                            " < " + (dir / "input.txt").string() + " > " + (dir / "output.txt").string();
    if (std::system(run.c_str()) != 0) {
        std::cerr << "the Java reference failed: " << run << "\n";
        return 1;
    }

    std::ifstream output(dir / "output.txt");
    tern::proto_walk::walk_limits unbounded;
    unbounded.max_decoded_size = 0;
    unbounded.max_depth = 0;
    int differ = 0;
    std::string java, err;
    for (std::size_t i = 0; i < wires.size(); ++i) {
        if (!std::getline(output, java)) {
            std::cerr << "the Java reference answered " << i << " of " << wires.size() << " messages\n";
            return 1;
        }
        std::unique_ptr<pb::Message> m(prototype.New());
        std::string ours = "unparsable";
        if (m->ParseFromString(wires[i])) {
            tern::proto_walk::walk_output& out = tern::proto_walk::thread_walk_output();
            ours = tern::proto_walk::message_json(*m, unbounded, out, err) ? std::string(out.json()) : "refused: " + err;
        }
        if (ours == java) continue;
        if (++differ <= 10) {
            std::size_t at = 0;
            while (at < java.size() && at < ours.size() && java[at] == ours[at]) ++at;
            const std::size_t from = at > 60 ? at - 60 : 0;
            std::cerr << "message " << i << " differs at character " << at << ":\n  java: ..."
                      << java.substr(from, 120) << "\n  walk: ..." << ours.substr(from, 120) << "\n";
        }
    }
    std::cout << wires.size() - differ << " of " << wires.size() << " messages print the same text as protobuf-java and Gson\n";
    return differ == 0 ? 0 : 1;
}
