#include "tern/x509_der/certificate.hpp"

#include "tern/base64/base64.hpp"

#include <algorithm>
#include <cstring>

namespace tern::x509_der {

namespace {

// DER tags used here
constexpr uint8_t tag_boolean = 0x01;
constexpr uint8_t tag_integer = 0x02;
constexpr uint8_t tag_octet_string = 0x04;
constexpr uint8_t tag_oid = 0x06;
constexpr uint8_t tag_sequence = 0x30;
constexpr uint8_t tag_version = 0xA0;     // [0] EXPLICIT, constructed
constexpr uint8_t tag_extensions = 0xA3;  // [3] EXPLICIT, constructed

// id-ce-basicConstraints, 2.5.29.19
constexpr uint8_t oid_basic_constraints[] = {0x55, 0x1D, 0x13};

struct element {
    uint8_t tag = 0;
    std::span<const uint8_t> whole;    // tag, length and content
    std::span<const uint8_t> content;
};

// A forward reader over a span of DER elements.
class reader {
public:
    explicit reader(std::span<const uint8_t> in) : in_(in) {}

    bool empty() const noexcept { return pos_ >= in_.size(); }
    uint8_t peek_tag() const noexcept { return empty() ? 0 : in_[pos_]; }

    // The next element; false on a malformed or truncated one.
    bool next(element& e) noexcept {
        const std::size_t start = pos_;
        if (in_.size() - pos_ < 2) return false;
        const uint8_t tag = in_[pos_++];
        if ((tag & 0x1F) == 0x1F) return false;  // high tag numbers never occur in certificates
        std::size_t len = in_[pos_++];
        if (len & 0x80) {
            const std::size_t n = len & 0x7F;
            // DER: the shortest form; at most 4 length bytes (far beyond max_certificate_size).
            if (n == 0 || n > 4 || in_.size() - pos_ < n) return false;
            if (in_[pos_] == 0) return false;
            len = 0;
            for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in_[pos_++];
            if (len < 0x80) return false;
        }
        if (len > in_.size() - pos_) return false;
        e.tag = tag;
        e.content = in_.subspan(pos_, len);
        pos_ += len;
        e.whole = in_.subspan(start, pos_ - start);
        return true;
    }

    bool expect(uint8_t tag, element& e) noexcept { return next(e) && e.tag == tag; }

private:
    std::span<const uint8_t> in_;
    std::size_t pos_ = 0;
};

bool fail(std::string* why, const char* text) {
    if (why != nullptr) *why = text;
    return false;
}

// Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
bool read_extensions(std::span<const uint8_t> content, certificate_info& out, std::string* why) {
    reader outer(content);
    element seq;
    if (!outer.expect(tag_sequence, seq) || !outer.empty()) return fail(why, "malformed extensions");
    reader exts(seq.content);
    std::size_t count = 0;
    while (!exts.empty()) {
        if (++count > 256) return fail(why, "too many extensions");
        element ext;
        if (!exts.expect(tag_sequence, ext)) return fail(why, "malformed extension");
        reader r(ext.content);
        element oid, value;
        if (!r.expect(tag_oid, oid)) return fail(why, "malformed extension id");
        if (r.peek_tag() == tag_boolean) {
            element crit;
            if (!r.next(crit) || crit.content.size() != 1) return fail(why, "malformed extension flag");
        }
        if (!r.expect(tag_octet_string, value) || !r.empty()) return fail(why, "malformed extension value");
        if (oid.content.size() != sizeof oid_basic_constraints ||
            std::memcmp(oid.content.data(), oid_basic_constraints, sizeof oid_basic_constraints) != 0)
            continue;
        if (out.has_basic_constraints) return fail(why, "basicConstraints appears twice");
        out.has_basic_constraints = true;
        // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }
        reader bv(value.content);
        element bc;
        if (!bv.expect(tag_sequence, bc) || !bv.empty()) return fail(why, "malformed basicConstraints");
        reader bf(bc.content);
        if (bf.peek_tag() == tag_boolean) {
            element ca;
            if (!bf.next(ca) || ca.content.size() != 1) return fail(why, "malformed basicConstraints cA");
            // Any non-zero byte is TRUE (BER leniency: being strict here could only let a CA through).
            out.ca = ca.content[0] != 0;
        }
        if (bf.peek_tag() == tag_integer) {
            element path_len;
            if (!bf.next(path_len)) return fail(why, "malformed basicConstraints pathLen");
        }
        if (!bf.empty()) return fail(why, "malformed basicConstraints");
    }
    return true;
}

}  // namespace

bool certificate_info::self_issued() const noexcept { return same_name(issuer, subject); }

bool parse(std::span<const uint8_t> der, certificate_info& out, std::string* why) {
    out = certificate_info{};
    if (der.empty()) return fail(why, "empty certificate");
    if (der.size() > max_certificate_size) return fail(why, "certificate too large");
    // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
    reader top(der);
    element cert;
    if (!top.expect(tag_sequence, cert) || !top.empty()) return fail(why, "not a DER certificate");
    reader c(cert.content);
    element tbs;
    if (!c.expect(tag_sequence, tbs)) return fail(why, "no tbsCertificate");
    element alg, sig;
    if (!c.expect(tag_sequence, alg) || !c.next(sig) || !c.empty()) return fail(why, "malformed certificate");
    // TBSCertificate ::= SEQUENCE { [0] version DEFAULT v1, serialNumber, signature, issuer,
    //   validity, subject, subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID,
    //   [3] extensions }
    reader t(tbs.content);
    if (t.peek_tag() == tag_version) {
        element v;
        if (!t.next(v)) return fail(why, "malformed version");
        reader vr(v.content);
        element vi;
        if (!vr.expect(tag_integer, vi) || !vr.empty() || vi.content.size() != 1 || vi.content[0] > 2)
            return fail(why, "unknown certificate version");
        out.version = vi.content[0] + 1;
    }
    element serial, sig_alg, issuer, validity, subject, spki;
    if (!t.expect(tag_integer, serial)) return fail(why, "malformed serial number");
    if (!t.expect(tag_sequence, sig_alg)) return fail(why, "malformed signature algorithm");
    if (!t.expect(tag_sequence, issuer)) return fail(why, "malformed issuer");
    if (!t.expect(tag_sequence, validity)) return fail(why, "malformed validity");
    if (!t.expect(tag_sequence, subject)) return fail(why, "malformed subject");
    if (!t.expect(tag_sequence, spki)) return fail(why, "malformed public key");
    out.issuer = issuer.whole;
    out.subject = subject.whole;
    while (!t.empty()) {
        element x;
        if (!t.next(x)) return fail(why, "malformed tbsCertificate");
        if (x.tag == 0x81 || x.tag == 0xA1 || x.tag == 0x82 || x.tag == 0xA2) continue;  // unique ids
        if (x.tag != tag_extensions) return fail(why, "unexpected field in tbsCertificate");
        if (out.version != 3) return fail(why, "extensions in a certificate before version 3");
        if (!read_extensions(x.content, out, why)) return false;
        if (!t.empty()) return fail(why, "data after the extensions");
    }
    return true;
}

bool same_name(std::span<const uint8_t> a, std::span<const uint8_t> b) noexcept {
    return a.size() == b.size() && !a.empty() && std::equal(a.begin(), a.end(), b.begin());
}

bool decode_base64(std::string_view text, std::vector<uint8_t>& out) {
    return base64::decode(text, out, max_certificate_size);
}

}  // namespace tern::x509_der
