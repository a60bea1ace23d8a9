// The CoAP engine as resource plugins see it: register resources by path pattern, answer
// requests (now or later, from any thread), keep Observe relations and send
// notifications. Message layer, deduplication, retransmission, block-wise transfer and
// /.well-known/core are the engine's business; handlers see whole requests and give whole
// responses. See host.h for the interface rules and thread tags.
#ifndef TERN_ABI_COAP_H
#define TERN_ABI_COAP_H

#ifndef __cplusplus
#error "tern/abi/coap.h declares C++ interfaces; include it from C++"
#endif

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "types.h"

#define TERN_IID_COAP_ENGINE_V1 "tern.coap.engine/1"

namespace tern {
struct coap_body_v1;
}

extern "C" {

// ---- protocol constants (RFC 7252, 7641, 7959) ---------------------------------------

// A message type (tern_coap_request::type holds one in a uint8_t).
typedef int32_t tern_coap_type;
enum {
    TERN_COAP_CON = 0,
    TERN_COAP_NON = 1,
    TERN_COAP_ACK = 2,
    TERN_COAP_RST = 3
};

// A code is class << 5 | detail: 2.05 is TERN_COAP_CODE(2, 5) = 69.
#define TERN_COAP_CODE(c, d) ((uint8_t)(((c) << 5) | (d)))

// A request method (tern_coap_request::code holds one in a uint8_t).
typedef int32_t tern_coap_method;
enum {
    TERN_COAP_GET = 1,
    TERN_COAP_POST = 2,
    TERN_COAP_PUT = 3,
    TERN_COAP_DELETE = 4,
    TERN_COAP_FETCH = 5,
    TERN_COAP_PATCH = 6,
    TERN_COAP_IPATCH = 7
};

// Method bit for tern_coap_resource::methods.
#define TERN_COAP_METHOD_BIT(m) (1u << (m))

// An option number (tern_coap_option::number holds one in a uint16_t).
typedef int32_t tern_coap_option_number;
enum {
    TERN_COAP_OPT_IF_MATCH = 1,
    TERN_COAP_OPT_URI_HOST = 3,
    TERN_COAP_OPT_ETAG = 4,
    TERN_COAP_OPT_IF_NONE_MATCH = 5,
    TERN_COAP_OPT_OBSERVE = 6,
    TERN_COAP_OPT_URI_PORT = 7,
    TERN_COAP_OPT_LOCATION_PATH = 8,
    TERN_COAP_OPT_URI_PATH = 11,
    TERN_COAP_OPT_CONTENT_FORMAT = 12,
    TERN_COAP_OPT_MAX_AGE = 14,
    TERN_COAP_OPT_URI_QUERY = 15,
    TERN_COAP_OPT_ACCEPT = 17,
    TERN_COAP_OPT_LOCATION_QUERY = 20,
    TERN_COAP_OPT_BLOCK2 = 23,
    TERN_COAP_OPT_BLOCK1 = 27,
    TERN_COAP_OPT_SIZE2 = 28,
    TERN_COAP_OPT_PROXY_URI = 35,
    TERN_COAP_OPT_PROXY_SCHEME = 39,
    TERN_COAP_OPT_SIZE1 = 60,
    TERN_COAP_OPT_NO_RESPONSE = 258
};

// A Content-Format (the int32_t content_format and accept fields; -1 when absent).
typedef int32_t tern_coap_content_format;
enum {
    TERN_COAP_FORMAT_TEXT = 0,
    TERN_COAP_FORMAT_LINK = 40,
    TERN_COAP_FORMAT_XML = 41,
    TERN_COAP_FORMAT_OCTET_STREAM = 42,
    TERN_COAP_FORMAT_EXI = 47,
    TERN_COAP_FORMAT_JSON = 50,
    TERN_COAP_FORMAT_CBOR = 60
};

// One option as it appeared on the wire (value undecoded).
typedef struct tern_coap_option {
    uint16_t number;
    uint16_t reserved0; // zero
    uint32_t reserved1; // zero
    tern_bytes value;
} tern_coap_option;

// ---- resources -------------------------------------------------------------------------

// flags of tern_coap_resource
enum {
    TERN_COAP_RESOURCE_HIDDEN = 1u << 0,     // not listed in /.well-known/core
    TERN_COAP_RESOURCE_OBSERVABLE = 1u << 1  // accepts Observe registrations (adds ;obs)
};

// A resource to register. pattern is a path of '/'-separated segments, matched against
// the request's Uri-Path options:
//   literal     matches itself exactly ("api", "v1")
//   {name}      matches any one segment; its value is in tern_coap_request::captures
//   **          last segment only: matches zero or more remaining segments
// Literal segments win over {name}, and {name} over **, segment by segment. A request
// whose path matches no resource gets 4.04; a method outside methods gets 4.05. Both
// carry a diagnostic payload.
// link_attrs: link-format attributes listed in /.well-known/core after the path, e.g.
// rt="temperature";ct=50 (may be null). All strings are copied by the engine.
typedef struct tern_coap_resource {
    uint32_t struct_size;
    uint32_t methods; // TERN_COAP_METHOD_BIT(TERN_COAP_GET) | ...; 0: every method 4.05
    const char* pattern;
    const char* link_attrs;
    uint32_t flags;
    uint32_t reserved; // zero
} tern_coap_resource;

// ---- requests and responses ------------------------------------------------------------

// A whole request (Block1 already reassembled), as a handler sees it.
// OWNERSHIP: the engine. LIFETIME: the on_request call; copy what you keep.
typedef struct tern_coap_request {
    uint32_t struct_size;
    uint8_t type;            // TERN_COAP_CON or TERN_COAP_NON
    uint8_t code;            // the method
    uint16_t message_id;
    uint64_t exchange;       // answer with coap_engine_v1::respond(exchange, ...)
    uint32_t shard;          // the shard that owns the exchange and the peer
    int32_t observe;         // Observe option value (0 register, 1 deregister), -1 absent
    int32_t content_format;  // -1 when absent
    int32_t accept;          // -1 when absent
    tern_bytes token;
    tern_peer peer;
    tern_str transport;      // the transport instance's name ("udp", "dtls")
    const tern_str* path;    // Uri-Path segments
    uint32_t path_count;
    uint32_t query_count;
    const tern_str* query;   // Uri-Query elements, raw ("clientKeys=a,b")
    const tern_coap_option* options; // every option of the request, in wire order
    uint32_t option_count;
    uint32_t capture_count;
    const tern_str* captures; // values of the pattern's {name} segments, in order
    tern_bytes payload;
} tern_coap_request;

// flags of tern_coap_response
enum {
    // Answering a GET with Observe=0: register (or re-register) the relation. The
    // response gets an Observe option; respond() stores the observation's id.
    TERN_COAP_RESPONSE_OBSERVE = 1u << 0,
    // Send nothing (a CON request has had, or gets, its empty ACK). For clients that
    // rely on silence.
    TERN_COAP_RESPONSE_SILENT = 1u << 1
};

// A response or a notification. OWNERSHIP: the caller; the engine copies what it needs
// before returning, except body, whose ownership passes to the engine.
typedef struct tern_coap_response {
    uint32_t struct_size;
    uint8_t code;
    uint8_t reserved0; // zero
    uint16_t reserved1; // zero
    uint32_t flags;
    int32_t content_format; // -1: no Content-Format option
    int64_t max_age;        // seconds, -1: no Max-Age option
    const tern_coap_option* options; // further options (ETag, Location-Path, ...)
    uint32_t option_count;
    uint32_t reserved2; // zero
    tern_bytes payload;
    // Large or stored bodies are read by range instead of copied whole: when not null,
    // payload is ignored and the engine reads only the block a request asks for (RFC 7959
    // Block2, served statelessly from the offset).
    tern::coap_body_v1* body;
} tern_coap_response;

// notify() flags
enum {
    // This notification may replace one of the same observation that is queued and not
    // yet sent (it must then carry everything the replaced one did).
    TERN_COAP_NOTIFY_MERGEABLE = 1u << 0,
    // (ABI 1.2) A CON notification that is never acknowledged does not end the observation
    // (for devices that sleep, tern/abi/power.h): it and every notification queued behind it on
    // that observation are reported TERN_COAP_NOTIFY_TIMEOUT, and the observation stays, ready
    // for the next notify(). Without it the engine ends the peer's observations
    // (TERN_COAP_END_TIMEOUT), as RFC 7641 §4.5 says for an unreachable client.
    TERN_COAP_NOTIFY_KEEP_ON_TIMEOUT = 1u << 1
};

// Why an observation ended (coap_handler_v1::on_observation_end)
typedef int32_t tern_coap_end_reason;
enum {
    TERN_COAP_END_DEREGISTERED = 1, // GET with Observe=1
    TERN_COAP_END_RESET = 2,        // the client answered a notification with RST
    TERN_COAP_END_TIMEOUT = 3,      // a CON notification was never acknowledged
    TERN_COAP_END_REPLACED = 4,     // a new registration with the same peer and token
    TERN_COAP_END_SESSION = 5,      // the transport session ended
    TERN_COAP_END_SHUTDOWN = 6,     // the engine is stopping or the resource was removed
    TERN_COAP_END_ERROR = 7         // a notification with a non-2.xx code ended it
};

// What became of a notification (coap_handler_v1::on_notification_result)
typedef int32_t tern_coap_notify_result;
enum {
    TERN_COAP_NOTIFY_DELIVERED = 1, // CON acknowledged, or NON handed to the transport
    TERN_COAP_NOTIFY_TIMEOUT = 2,   // CON not acknowledged after all retransmissions
    TERN_COAP_NOTIFY_RESET = 3,     // the client answered RST
    TERN_COAP_NOTIFY_MERGED = 4,    // replaced by a later mergeable notification
    TERN_COAP_NOTIFY_DROPPED = 5    // the observation ended or its queue was full
};

}  // extern "C"

namespace tern {

// A body read by range. OWNERSHIP: passes to the engine with the response; the engine
// calls release() exactly once, even when respond() fails.
struct coap_body_v1 {
    // The body's length in bytes; it does not change. [any-thread]
    virtual uint64_t size() noexcept = 0;
    // Copies up to len bytes from offset into buf and stores the count in *out_len.
    // [any-thread]
    virtual tern_status read(uint64_t offset, uint8_t* buf, size_t len,
                             size_t* out_len) noexcept = 0;
    // Frees the body; nothing calls it afterwards. [any-thread]: the engine releases it on
    // whichever thread respond() or notify() ran, or later on the peer's shard.
    virtual void release() noexcept = 0;

protected:
    ~coap_body_v1() = default;
};

// Implemented by resource plugins.
struct coap_handler_v1 {
    // A request for one of this handler's resources. The handler answers exactly once
    // with coap_engine_v1::respond(req->exchange, ...), now or later from any thread.
    // Unanswered exchanges expire after the engine's `timeout`: the client then gets no
    // response (its CON already had its empty ACK). [shard req->shard]
    virtual void on_request(const tern_coap_request* req) noexcept = 0;
    // An observation ended for a reason other than the handler's end_observation().
    // [the observation's shard]
    virtual void on_observation_end(uint64_t observation, tern_coap_end_reason reason) noexcept = 0;
    // What became of a notification sent with notify(..., cookie, ...).
    // [the observation's shard]
    virtual void on_notification_result(uint64_t observation, uint64_t cookie,
                                        tern_coap_notify_result result) noexcept = 0;

protected:
    ~coap_handler_v1() = default;
};

struct coap_engine_v1 {
    // Routes requests matching desc to handler. OWNERSHIP: desc copied; handler
    // borrowed until remove_resource returns. [start-stop]
    virtual tern_status add_resource(const tern_coap_resource* desc, coap_handler_v1* handler,
                                     uint64_t* out_resource) noexcept = 0;
    // Unroutes; its observations end (TERN_COAP_END_SHUTDOWN) and no call reaches the
    // handler for it after return. [start-stop]
    virtual void remove_resource(uint64_t resource) noexcept = 0;

    // Answers a request. Within piggyback_timeout of a CON request the response rides in
    // the ACK; later it goes separately, with the request's type. With
    // TERN_COAP_RESPONSE_OBSERVE on a registering GET, *out_observation (may be null)
    // gets the new observation's id. TERN_NOT_FOUND: the exchange expired or was
    // answered already. [any-thread]
    virtual tern_status respond(uint64_t exchange, const tern_coap_response* response,
                                uint64_t* out_observation) noexcept = 0;
    // Sends a notification on an observation, with its type (CON or NON, as registered).
    // CON notifications go one at a time per observation, the rest wait in order
    // (bounded); the outcome arrives through on_notification_result with cookie.
    // A non-2.xx code ends the observation after it is sent. TERN_NOT_FOUND: the
    // observation is gone. [any-thread]
    virtual tern_status notify(uint64_t observation, const tern_coap_response* notification,
                               uint64_t cookie, uint32_t flags) noexcept = 0;
    // Ends an observation, sending final (without an Observe option) when not null.
    // [any-thread]
    virtual tern_status end_observation(uint64_t observation,
                                        const tern_coap_response* final_response) noexcept = 0;

protected:
    ~coap_engine_v1() = default;
};

}  // namespace tern

#endif
