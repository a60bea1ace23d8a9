# Helpers around libcoap's coap-client for interop tests (source after tern.sh).
#
# coap-client exits 0 even when the request failed, so every helper here records what it
# printed and the assertions read that:
#   $TERN_TMP/<name>.out   -v 7 log: a "... UDP : sent N bytes" or "received N bytes" line,
#                          then the message dumped on one line,
#                          "v:1 t:ACK c:2.05 i:1234 {01} [ Content-Format:text/plain ] :: 'text'"
#                          (coap_sent / coap_received pick those; -v 6 would hide empty ACKs
#                          and 2.31 Continue, which libcoap handles itself)
#   $TERN_TMP/<name>.err   an error response shows as "4.04 <diagnostic>"
#   $TERN_TMP/<name>.body  the (reassembled) payload of a 2.xx response (-o)

COAP_CLIENT=${COAP_CLIENT:-}
if [ -z "$COAP_CLIENT" ]; then
    for c in coap-client-notls coap-client-openssl coap-client-gnutls coap-client; do
        if command -v "$c" >/dev/null; then COAP_CLIENT=$c; break; fi
    done
fi

# coap_uri PATH[?QUERY]: the URI on the tern started by tern_start.
coap_uri() { echo "coap://127.0.0.1:$TERN_UDP_PORT/${1#/}"; }

# coap NAME [coap-client options...] URI: runs coap-client (bounded) and keeps its output.
# -B (give up after N s, default 10) can be overridden by passing -B.
coap() {
    local name=$1; shift
    [ -n "$COAP_CLIENT" ] || fail "no coap-client found (Debian package libcoap3-bin)"
    local limit=(-B 10)
    local a
    for a in "$@"; do [ "$a" = "-B" ] && limit=(); done
    rm -f "$TERN_TMP/$name.body"
    timeout "${COAP_TIMEOUT:-60}" "$COAP_CLIENT" -v 7 "${limit[@]}" -o "$TERN_TMP/$name.body" "$@" \
        >"$TERN_TMP/$name.out" 2>"$TERN_TMP/$name.err"
    local rc=$?
    [ $rc -eq 124 ] && fail "coap-client $name did not finish within ${COAP_TIMEOUT:-60}s"
    [ -f "$TERN_TMP/$name.body" ] || : >"$TERN_TMP/$name.body"
    return 0
}

# coap_body NAME: the payload received.
coap_body() { cat "$TERN_TMP/$1.body"; }

# coap_received NAME / coap_sent NAME: the dumps of the messages that went over the wire,
# in order ("Packet N dropped" by -l still shows as sent). Under pipefail, never pipe them
# into grep -q: grep leaving early makes the pipeline fail (SIGPIPE); use >/dev/null.
coap_received() { awk '/^v:1 / && prev ~ /UDP : received [0-9]+ bytes/ { print } { prev = $0 }' "$TERN_TMP/$1.out"; }
coap_sent() { awk '/^v:1 / && prev ~ /UDP : sent [0-9]+ bytes/ { print } { prev = $0 }' "$TERN_TMP/$1.out"; }

# assert_code NAME CODE [TYPE]: a response with CODE ("2.05") arrived, in a message of
# TYPE (ACK|CON|NON) when given.
assert_code() {
    local name=$1 code=$2 type=${3:-[A-Z]+}
    coap_received "$name" | grep -E "^v:1 t:$type c:${code//./\\.} " >/dev/null || {
        show_file "$TERN_TMP/$name.out" >&2
        show_file "$TERN_TMP/$name.err" >&2
        fail "$name: expected a ${3:-} $code response"
    }
}

# assert_body NAME TEXT: the payload is exactly TEXT.
assert_body() {
    local got
    got=$(coap_body "$1")
    [ "$got" = "$2" ] || {
        show_file "$TERN_TMP/$1.out" >&2
        show_file "$TERN_TMP/$1.err" >&2
        fail "$1: expected payload '$2', got '$got'"
    }
}

# assert_error NAME CODE [DIAGNOSTIC-SUBSTRING]: coap-client reported error response CODE
# with a non-empty diagnostic payload (RFC 7252 §5.5.2).
assert_error() {
    local name=$1 code=$2 diag=${3:-}
    assert_code "$name" "$code"
    grep -qE "^${code//./\\.} .+" "$TERN_TMP/$name.err" || {
        show_file "$TERN_TMP/$name.err" >&2
        fail "$name: $code without a diagnostic payload"
    }
    [ -z "$diag" ] || assert_contains "$TERN_TMP/$name.err" "$diag" "$name: diagnostic should mention '$diag'"
}

# The /large body of the plugtest plugin: 64-byte lines "%05d <57 letters>\n", cut at n.
plugtest_large_body() {
    local n=$1 k=0
    while [ $((k * 64)) -lt "$n" ]; do
        printf '%05d %s\n' $k abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234
        k=$((k + 1))
    done | head -c "$n"
}

# byte_sum FILE: the sum of the byte values (what /large-post answers).
byte_sum() { od -An -v -tu1 "$1" | awk '{ for (i = 1; i <= NF; i++) s += $i } END { printf "%d\n", s }'; }

# assert_received NAME REGEX [message]: some received message's dump matches REGEX.
assert_received() {
    coap_received "$1" | grep -E -- "$2" >/dev/null || {
        show_file "$TERN_TMP/$1.out" >&2
        fail "${3:-$1: no received message matches /$2/}"
    }
}

# assert_not_received NAME REGEX [message]
assert_not_received() {
    if coap_received "$1" | grep -E -- "$2" >/dev/null; then
        show_file "$TERN_TMP/$1.out" >&2
        fail "${3:-$1: a received message matches /$2/}"
    fi
}
