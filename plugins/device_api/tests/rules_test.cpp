// Spec §1.4 (Content-Format) and §6/§0.5 (OTA chunks), and the ranged file body.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unistd.h>

#include "file_body.hpp"
#include "content_format.hpp"
#include "ota_range.hpp"

using namespace tern::device_api;

TEST_CASE("content format: protobuf 42, JSON echoes the request's, else 50", "[rules]") {
    CHECK(response_format(TERN_PAYLOAD_PROTOBUF, -1) == 42);
    CHECK(response_format(TERN_PAYLOAD_PROTOBUF, 50) == 42);
    CHECK(response_format(TERN_PAYLOAD_JSON, -1) == 50);
    CHECK(response_format(TERN_PAYLOAD_JSON, 0) == 0);
    CHECK(response_format(TERN_PAYLOAD_JSON, 60) == 60);
}

TEST_CASE("ota chunks: size/chunk arithmetic", "[rules]") {
    // whole image: size absent or 0
    CHECK(ota_slice(1000, 0, 0).offset == 0);
    CHECK(ota_slice(1000, 0, 0).length == 1000);
    CHECK(ota_slice(1000, 0, 7).length == 1000);
    // [chunk*size, min(len, (chunk+1)*size))
    CHECK(ota_slice(1000, 300, 0).offset == 0);
    CHECK(ota_slice(1000, 300, 0).length == 300);
    CHECK(ota_slice(1000, 300, 2).offset == 600);
    CHECK(ota_slice(1000, 300, 2).length == 300);
    CHECK(ota_slice(1000, 300, 3).offset == 900);
    CHECK(ota_slice(1000, 300, 3).length == 100);  // the last, short chunk
    // past the end: empty (2.05 with no payload)
    CHECK(ota_slice(1000, 300, 4).length == 0);
    CHECK(ota_slice(1000, 1000, 1).length == 0);
    CHECK(ota_slice(0, 100, 0).length == 0);
    // no overflow with the largest ints a device can send
    CHECK(ota_slice(1000, INT32_MAX, INT32_MAX).length == 0);
}

TEST_CASE("file body: reads only the range asked for", "[rules]") {
    char path[] = "/tmp/device_api_body_XXXXXX";
    const int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    std::string data;
    for (int i = 0; i < 5000; ++i) data.push_back(static_cast<char>('a' + i % 26));
    REQUIRE(write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size()));
    close(fd);

    std::string err;
    file_body* b = file_body::open(path, err);
    REQUIRE(b != nullptr);
    CHECK(b->size() == 5000);
    const byte_range r = ota_slice(b->size(), 1024, 4);  // the last chunk: 904 bytes
    b->narrow(r.offset, r.length);
    CHECK(b->size() == 904);
    uint8_t buf[2000];
    size_t n = 0;
    REQUIRE(b->read(0, buf, 16, &n) == TERN_OK);
    CHECK(n == 16);
    CHECK(std::string(reinterpret_cast<char*>(buf), n) == data.substr(4096, 16));
    REQUIRE(b->read(900, buf, 100, &n) == TERN_OK);
    CHECK(n == 4);
    CHECK(std::string(reinterpret_cast<char*>(buf), n) == data.substr(4996, 4));
    REQUIRE(b->read(904, buf, 100, &n) == TERN_OK);
    CHECK(n == 0);
    b->release();
    unlink(path);

    CHECK(file_body::open("/nonexistent/device_api/file", err) == nullptr);
    CHECK_FALSE(err.empty());
}
