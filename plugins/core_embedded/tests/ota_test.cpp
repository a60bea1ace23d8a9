// OTA packages: upload with checksum, assignment (device level over profile level), the
// fw_*/sw_* shared attributes and target telemetry, and ota_package().
#include <filesystem>
#include <fstream>

#include "crypto.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

struct ota_out {
    tern_status status = TERN_OK;
    uint64_t id = 0;
    std::string title, version, checksum, algorithm, path, url;
    uint64_t size = 0;
    tern_ota_type type = TERN_OTA_FIRMWARE;
};

ota_out package_of(embedded_core& c, uint64_t device, tern_ota_type type) {
    std::promise<ota_out> p;
    auto f = p.get_future();
    c.ota_package(device, type, [](void* ctx, tern_status s, const tern_ota_package* o) {
        ota_out r;
        r.status = s;
        if (o != nullptr) {
            r.id = o->package_id;
            r.type = o->type;
            r.title = tern::sdk::to_sv(o->title);
            r.version = tern::sdk::to_sv(o->version);
            r.checksum = tern::sdk::to_sv(o->checksum);
            r.algorithm = tern::sdk::to_sv(o->checksum_algorithm);
            r.path = tern::sdk::to_sv(o->path);
            r.url = tern::sdk::to_sv(o->url);
            r.size = o->size;
        }
        static_cast<std::promise<ota_out>*>(ctx)->set_value(r);
    }, &p);
    REQUIRE(f.wait_for(deadline) == std::future_status::ready);
    return f.get();
}

std::string write_file(const temp_dir& d, const std::string& name, const std::string& bytes) {
    const std::string path = d.file(name);
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
}

std::map<std::string, value> shared_attrs(embedded_core& c, const std::string& dev) {
    auto r = await<attribute_set>([&](auto cb) { c.read_attributes(dev, 1u << TERN_SCOPE_SHARED, {}, cb); });
    REQUIRE(r.ok());
    std::map<std::string, value> m;
    for (auto& a : r.value.shared) m[a.key] = a.v;
    return m;
}

std::map<std::string, value> latest(embedded_core& c, const std::string& dev) {
    auto r = await<std::vector<ts_latest>>([&](auto cb) { c.latest_telemetry(dev, {}, cb); });
    REQUIRE(r.ok());
    std::map<std::string, value> m;
    for (auto& l : r.value) m[l.key] = l.v;
    return m;
}

result<ota_package_row> upload(embedded_core& c, const temp_dir& d, const std::string& title, const std::string& version,
                               const std::string& bytes, tern_ota_type type = TERN_OTA_FIRMWARE,
                               const std::string& algorithm = "SHA256", const std::string& expected = "") {
    ota_upload u;
    u.type = type;
    u.title = title;
    u.version = version;
    u.checksum_algorithm = algorithm;
    u.checksum = expected;
    // uploads live beside the OTA folder, as the admin server writes them
    u.temp_path = write_file(d, "var/ota/upload-" + title + version + ".part", bytes);
    return await<ota_package_row>([&](auto cb) { c.create_ota_package(u, cb); });
}

}  // namespace

TEST_CASE("checksums: known vectors", "[ota]") {
    auto hex = [](const char* algo, std::string_view data) {
        auto c = checksum::make(algo);
        REQUIRE(c);
        c->update(data.data(), data.size());
        return c->hex();
    };
    CHECK(hex("SHA256", "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex("md5", "abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(hex("CRC32", "123456789") == "cbf43926");
    CHECK(hex("SHA384", "").substr(0, 16) == "38b060a751ac9638");
    CHECK(hex("SHA512", "").substr(0, 16) == "cf83e1357eefb8bd");
    CHECK_FALSE(checksum::make("MURMUR3_32"));
    CHECK(sha3_256_hex("") == "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

TEST_CASE("OTA: upload, assign to a profile and a device, unassign", "[ota]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    recording_listener listener;
    core.set_listener(&listener);

    profile_spec p;
    p.name = "fleet";
    REQUIRE(await<profile>([&](auto cb) { core.create_profile(p, cb); }).ok());
    const device a = add_device(core, "a", {}, std::string("fleet"));
    const device b = add_device(core, "b", {}, std::string("fleet"));
    const device other = add_device(core, "other");
    core.subscribe(a.id, TERN_SUBSCRIBE_ATTRIBUTES);

    const std::string v1 = "firmware image one";
    auto up = upload(core, dir, "fw", "1.0", v1);
    REQUIRE(up.ok());
    const ota_package_row pkg1 = up.value;
    CHECK(pkg1.size == v1.size());
    CHECK(pkg1.checksum_algorithm == "SHA256");
    auto sum = checksum::make("SHA256");
    sum->update(v1.data(), v1.size());
    CHECK(pkg1.checksum == sum->hex());
    CHECK(pkg1.path == core.ota_dir() + "/" + std::to_string(pkg1.id) + ".bin");
    {
        std::ifstream f(pkg1.path, std::ios::binary);
        std::string stored((std::istreambuf_iterator<char>(f)), {});
        CHECK(stored == v1);
    }

    CHECK(package_of(core, a.id, TERN_OTA_FIRMWARE).status == TERN_NOT_FOUND);  // nothing assigned yet

    // profile level: every device of the profile
    ota_target fleet;
    fleet.profile = "fleet";
    REQUIRE(await<none>([&](auto cb) { core.assign_ota_package(fleet, TERN_OTA_FIRMWARE, pkg1.id, cb); }).ok());
    for (const char* name : {"a", "b"}) {
        auto attrs = shared_attrs(core, name);
        CHECK(attrs["fw_title"] == value::of_str("fw"));
        CHECK(attrs["fw_version"] == value::of_str("1.0"));
        CHECK(attrs["fw_size"] == value::of_int(static_cast<int64_t>(v1.size())));
        CHECK(attrs["fw_checksum"] == value::of_str(pkg1.checksum));
        CHECK(attrs["fw_checksum_algorithm"] == value::of_str("SHA256"));
        CHECK(attrs.count("fw_tag") == 0);
        auto ts = latest(core, name);
        CHECK(ts["target_fw_title"] == value::of_str("fw"));
        CHECK(ts["target_fw_version"] == value::of_str("1.0"));
        CHECK(ts["target_fw_ts"].type == TERN_VALUE_INT);
        CHECK(ts["fw_state"] == value::of_str("QUEUED"));
    }
    CHECK(shared_attrs(core, "other").empty());
    REQUIRE(listener.wait_for([&] { return !listener.attrs.empty(); }));
    CHECK(listener.locked([&] { return listener.attrs[0].device == a.id && listener.attrs[0].updated.size() == 5; }));

    auto got = package_of(core, b.id, TERN_OTA_FIRMWARE);
    REQUIRE(got.status == TERN_OK);
    CHECK(got.id == pkg1.id);
    CHECK(got.path == pkg1.path);
    CHECK(got.checksum == pkg1.checksum);
    CHECK(got.algorithm == "SHA256");
    CHECK(got.size == v1.size());
    CHECK(package_of(core, b.id, TERN_OTA_SOFTWARE).status == TERN_NOT_FOUND);
    CHECK(package_of(core, other.id, TERN_OTA_FIRMWARE).status == TERN_NOT_FOUND);

    // device level wins
    auto up2 = upload(core, dir, "fw", "2.0", "firmware image two", TERN_OTA_FIRMWARE, "CRC32");
    REQUIRE(up2.ok());
    ota_target only_a;
    only_a.device = "a";
    REQUIRE(await<none>([&](auto cb) { core.assign_ota_package(only_a, TERN_OTA_FIRMWARE, up2.value.id, cb); }).ok());
    CHECK(shared_attrs(core, "a")["fw_version"] == value::of_str("2.0"));
    CHECK(shared_attrs(core, "a")["fw_checksum_algorithm"] == value::of_str("CRC32"));
    CHECK(shared_attrs(core, "b")["fw_version"] == value::of_str("1.0"));
    CHECK(package_of(core, a.id, TERN_OTA_FIRMWARE).id == up2.value.id);

    // a profile change does not touch a device with its own package
    REQUIRE(await<none>([&](auto cb) { core.assign_ota_package(fleet, TERN_OTA_FIRMWARE, 0, cb); }).ok());
    CHECK(shared_attrs(core, "a")["fw_version"] == value::of_str("2.0"));
    auto b_attrs = shared_attrs(core, "b");
    CHECK(b_attrs.count("fw_title") == 0);  // unassigned: the fw_* attributes are gone
    CHECK(b_attrs.count("fw_checksum") == 0);
    CHECK(package_of(core, b.id, TERN_OTA_FIRMWARE).status == TERN_NOT_FOUND);

    // unassigning the device's own package falls back to the profile's (none now)
    const size_t heard = listener.locked([&] { return listener.attrs.size(); });
    REQUIRE(await<none>([&](auto cb) { core.assign_ota_package(only_a, TERN_OTA_FIRMWARE, 0, cb); }).ok());
    CHECK(shared_attrs(core, "a").empty());
    REQUIRE(listener.wait_for([&] { return listener.attrs.size() > heard; }));
    listener.locked([&] {
        auto& last = listener.attrs.back();
        CHECK(last.device == a.id);
        CHECK(last.deleted.size() == 5);
        return 0;
    });

    // software packages use sw_*; types must match
    auto sw = upload(core, dir, "app", "3.1", "software image", TERN_OTA_SOFTWARE);
    REQUIRE(sw.ok());
    CHECK(await<none>([&](auto cb) { core.assign_ota_package(only_a, TERN_OTA_FIRMWARE, sw.value.id, cb); }).status ==
          TERN_INVALID_ARGUMENT);
    REQUIRE(await<none>([&](auto cb) { core.assign_ota_package(only_a, TERN_OTA_SOFTWARE, sw.value.id, cb); }).ok());
    CHECK(shared_attrs(core, "a")["sw_title"] == value::of_str("app"));
    CHECK(latest(core, "a")["sw_state"] == value::of_str("QUEUED"));

    // an assigned package cannot be deleted; an unassigned one can, with its file
    CHECK(await<none>([&](auto cb) { core.delete_ota_package(sw.value.id, cb); }).status == TERN_EXISTS);
    REQUIRE(await<none>([&](auto cb) { core.delete_ota_package(pkg1.id, cb); }).ok());
    CHECK_FALSE(std::filesystem::exists(pkg1.path));
    CHECK(await<ota_package_row>([&](auto cb) { core.get_ota_package(pkg1.id, cb); }).status == TERN_NOT_FOUND);
    auto list = await<std::vector<ota_package_row>>([&](auto cb) { core.list_ota_packages(cb); });
    CHECK(list.value.size() == 2);
    core.set_listener(nullptr);
}

TEST_CASE("OTA: duplicate versions, wrong checksums and empty uploads are refused", "[ota]") {
    temp_dir dir;
    embedded_core core(metrics, {});
    core.start(settings_for(dir));
    REQUIRE(upload(core, dir, "fw", "1.0", "x").ok());
    auto dup = upload(core, dir, "fw", "1.0", "y");
    CHECK(dup.status == TERN_EXISTS);
    CHECK(upload(core, dir, "fw", "1.0", "y", TERN_OTA_SOFTWARE).ok());  // same title, other type
    auto bad = upload(core, dir, "fw", "1.1", "abc", TERN_OTA_FIRMWARE, "MD5", "00000000000000000000000000000000");
    CHECK(bad.status == TERN_INVALID_ARGUMENT);
    CHECK_THAT(bad.message, Catch::Contains("900150983cd24fb0d6963f7d28e17f72"));
    CHECK(upload(core, dir, "fw", "1.2", "abc", TERN_OTA_FIRMWARE, "MD5", "900150983CD24FB0D6963F7D28E17F72").ok());
    CHECK(upload(core, dir, "fw", "1.3", "").status == TERN_INVALID_ARGUMENT);
    CHECK(upload(core, dir, "fw", "1.4", "x", TERN_OTA_FIRMWARE, "MURMUR3_128").status == TERN_INVALID_ARGUMENT);
    // refused uploads leave no file behind
    size_t parts = 0;
    for (auto& e : std::filesystem::directory_iterator(core.ota_dir()))
        if (e.path().extension() == ".part") ++parts;
    CHECK(parts == 0);
}
