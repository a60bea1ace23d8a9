// The test certificates of the dtls tests (make_certs.sh: CA, intermediate, clients, servers),
// made once per test process in a fresh directory under /tmp, and a certificate's DER.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tern::dtls::test {

inline const std::string& cert_dir() {
    static const std::string dir = [] {
        char tmpl[] = "/tmp/tern-dtls-certs.XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        REQUIRE(d != nullptr);
        const std::string cmd = std::string("bash '") + TERN_DTLS_TEST_DIR + "/make_certs.sh' '" + d + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        return std::string(d);
    }();
    return dir;
}

// The DER of cert_dir()/NAME.pem (its first certificate), as openssl writes it.
inline std::vector<uint8_t> der_of(const std::string& name) {
    const std::string pem = cert_dir() + "/" + name + ".pem";
    const std::string der = cert_dir() + "/" + name + ".der";
    REQUIRE(std::system(("openssl x509 -in '" + pem + "' -outform DER -out '" + der + "'").c_str()) == 0);
    std::ifstream in(der, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

}  // namespace tern::dtls::test
