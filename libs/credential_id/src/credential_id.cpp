#include "tern/credential_id/credential_id.hpp"

#include "tern/base64/base64.hpp"

namespace tern::credential_id {

std::string x509_text(std::span<const uint8_t> der) { return base64::encode(der); }

std::string certificate_text(std::string_view pem) {
    constexpr std::string_view begin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view end = "-----END CERTIFICATE-----";
    std::string_view body = pem;
    if (const auto b = pem.find(begin); b != std::string_view::npos) {
        body = pem.substr(b + begin.size());
        if (const auto e = body.find(end); e != std::string_view::npos) body = body.substr(0, e);
    }
    std::string out;
    out.reserve(body.size());
    for (const char c : body)
        if (c != '\n' && c != '\r' && c != ' ' && c != '\t') out.push_back(c);
    return out;
}

}  // namespace tern::credential_id
