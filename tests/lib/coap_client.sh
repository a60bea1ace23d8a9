# Helpers around libcoap's coap-client for interop tests (source after tern.sh).
#
# coap-client exits 0 even when the request failed, so every helper here records what it
# printed and the assertions read that:
#   $TERN_TMP/<name>.out   -v 6 message dumps, one line per message sent or received:
#                          "v:1 t:ACK c:2.05 i:1234 {01} [ Content-Format:text/plain ] :: 'text'"
#   $TERN_TMP/<name>.err   warnings and errors; an error response shows as "4.04 <diagnostic>"
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
    timeout "${COAP_TIMEOUT:-60}" "$COAP_CLIENT" -v 6 "${limit[@]}" -o "$TERN_TMP/$name.body" "$@" \
        >"$TERN_TMP/$name.out" 2>"$TERN_TMP/$name.err"
    local rc=$?
    [ $rc -eq 124 ] && fail "coap-client $name did not finish within ${COAP_TIMEOUT:-60}s"
    [ -f "$TERN_TMP/$name.body" ] || : >"$TERN_TMP/$name.body"
    return 0
}

# coap_body NAME: the payload received.
coap_body() { cat "$TERN_TMP/$1.body"; }

# assert_code NAME CODE [TYPE]: a response with CODE ("2.05") arrived, in a message of
# TYPE (ACK|CON|NON) when given. The client itself never sends response codes, so any
# dump line with this code was received.
assert_code() {
    local name=$1 code=$2 type=${3:-[A-Z]+}
    grep -qE "^v:1 t:$type c:${code//./\\.} " "$TERN_TMP/$name.out" || {
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
