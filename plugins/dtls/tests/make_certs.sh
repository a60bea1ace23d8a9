#!/usr/bin/env bash
# Generates the certificates the dtls tests use, with the openssl CLI, into DIR:
#   ca.pem/ca.key                 test CA (EC P-256)
#   server.pem/server.key         server certificate (EC P-256, CN=localhost), signed by ca
#   server-rsa.pem/server-rsa.key server certificate (RSA 2048), signed by ca
#   client.pem/client.key         device certificate (CN=device-1), signed by ca
#   client2.pem/client2.key       another device (CN=device-2), signed by ca
#   chain.pem/chain.key           device-3 signed by an intermediate CA (chain.pem: leaf + intermediate)
#   intermediate.pem              that intermediate CA, signed by ca
#   chain-trust.pem               intermediate + ca: given to coap-client-openssl as -R, OpenSSL
#                                 builds the client's chain from it and sends leaf + intermediate
#                                 (from -c it sends the leaf only)
#   expired.pem/expired.key       device certificate valid 2020-01-01..2021-01-01, signed by ca
#   future.pem/future.key         device certificate valid from 2099, signed by ca
#   other-ca.pem, other.pem/other.key   a device certificate from another CA
#   selfsigned.pem/selfsigned.key a self-signed device certificate
#
#   make_certs.sh DIR
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

# A minimal CA configuration for `openssl ca`, which (unlike `openssl x509`) takes
# explicit validity dates.
ca_config() { # name
    mkdir -p "$1.db"
    : >"$1.db/index.txt"
    echo 1000 >"$1.db/serial"
    cat >"$1.cnf" <<EOF
[ca]
default_ca = this
[this]
database = $1.db/index.txt
serial = $1.db/serial
new_certs_dir = $1.db
certificate = $1.pem
private_key = $1.key
default_md = sha256
policy = anything
copy_extensions = none
unique_subject = no
[anything]
commonName = supplied
[leaf]
basicConstraints = CA:false
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, serverAuth
[intermediate]
basicConstraints = critical, CA:true
keyUsage = keyCertSign, cRLSign
EOF
}

self_ca() { # name CN
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -days 3650 -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:true" -addext "keyUsage=keyCertSign,cRLSign" -out "$1.pem" 2>/dev/null
    ca_config "$1"
}

leaf() { # ca name CN [extra openssl-ca args...]
    local ca=$1 name=$2 cn=$3
    shift 3
    [ -f "$name.key" ] || key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
    openssl ca -batch -config "$ca.cnf" -extensions leaf -in "$name.csr" -out "$name.pem" -notext "$@" 2>/dev/null
    rm -f "$name.csr"
}

self_ca ca "Tern Test CA"
leaf ca server localhost -days 365
openssl genrsa -out server-rsa.key 2048 2>/dev/null
leaf ca server-rsa localhost -days 365
leaf ca client device-1 -days 365
leaf ca client2 device-2 -days 365
leaf ca expired device-old -startdate 20200101000000Z -enddate 20210101000000Z
leaf ca future device-future -startdate 20990101000000Z -enddate 20991231000000Z

key intermediate.key
openssl req -new -key intermediate.key -subj "/CN=Tern Test Intermediate" -out intermediate.csr 2>/dev/null
openssl ca -batch -config ca.cnf -extensions intermediate -in intermediate.csr -out intermediate.pem -notext -days 365 2>/dev/null
rm -f intermediate.csr
ca_config intermediate
leaf intermediate chain-leaf device-3 -days 365
cat chain-leaf.pem intermediate.pem >chain.pem
cp chain-leaf.key chain.key
cat intermediate.pem ca.pem >chain-trust.pem

self_ca other-ca "Other CA"
leaf other-ca other device-other -days 365

key selfsigned.key
openssl req -x509 -new -key selfsigned.key -days 365 -subj "/CN=device-self" -out selfsigned.pem 2>/dev/null
