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
# Chains whose links must NOT all be proven (chain.hpp), made as an attacker or a careless
# CA would:
#   forged.pem/forged.key         device-3's look-alike: signed by a self-made CA with the
#                                 intermediate's subject name; forged-chain.pem = forged leaf
#                                 + the REAL intermediate (what an attacker sends)
#   forged-ca.pem/forged-ca.key   the same against the root: a leaf signed by a look-alike of
#                                 ca; forged-ca-chain.pem = that leaf + the real ca.pem
#   intermediate2.pem             a second real intermediate of ca; stray-chain.pem =
#                                 client2.pem (issued by ca itself) + intermediate2.pem
#   p0.pem, p0-sub.pem            an intermediate with pathlen:0 and a CA under it;
#                                 p0-chain.pem = p0-leaf + p0-sub + p0 (p0's limit broken)
#   notca-chain.pem               a leaf "issued" by another leaf's key (CA:false issuer)
#   nosign-chain.pem              issued by a CA:true certificate whose keyUsage lacks
#                                 keyCertSign
#   rsa-int.pem, rsa-chain.pem    an RSA intermediate under ca and an EC leaf it issued
#                                 (sha256WithRSAEncryption link): proven
#   sha1-int.pem, sha1-chain.pem  a leaf issued with a SHA-1 signature: not proven
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

# ---- chains with links that must not be proven (see the header) ----
sub_ca() { # parent name CN [extensions section text]
    local parent=$1 name=$2 cn=$3 ext=${4:-}
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr" 2>/dev/null
    if [ -n "$ext" ]; then
        printf '[%s]\n%s\n' "$name-ext" "$ext" >>"$parent.cnf"
        openssl ca -batch -config "$parent.cnf" -extensions "$name-ext" -in "$name.csr" -out "$name.pem" -notext -days 365 2>/dev/null
    else
        openssl ca -batch -config "$parent.cnf" -extensions intermediate -in "$name.csr" -out "$name.pem" -notext -days 365 2>/dev/null
    fi
    rm -f "$name.csr"
    ca_config "$name"
}

# look-alikes: same subject names as the real CAs, other keys
self_ca fake-intermediate "Tern Test Intermediate"
leaf fake-intermediate forged device-3 -days 365
cat forged.pem intermediate.pem >forged-chain.pem
self_ca fake-ca "Tern Test CA"
leaf fake-ca forged-ca device-1 -days 365
cat forged-ca.pem ca.pem >forged-ca-chain.pem

# a real, trusted intermediate that did not issue the leaf it is sent with
sub_ca ca intermediate2 "Tern Test Intermediate 2"
cat client2.pem intermediate2.pem >stray-chain.pem

# pathlen:0 broken by a CA under it
sub_ca ca p0 "Tern Test P0" "basicConstraints = critical, CA:true, pathlen:0
keyUsage = keyCertSign, cRLSign"
sub_ca p0 p0-sub "Tern Test P0 Sub"
leaf p0-sub p0-leaf device-p0 -days 365
cat p0-leaf.pem p0-sub.pem p0.pem >p0-chain.pem

# an "issuer" that is no CA: a leaf certificate's key signs another leaf
leaf ca notca device-notca -days 365
key notca-leaf.key
openssl req -new -key notca-leaf.key -subj "/CN=device-under-notca" -out notca-leaf.csr 2>/dev/null
openssl x509 -req -in notca-leaf.csr -CA notca.pem -CAkey notca.key -CAcreateserial -days 365 -sha256 \
    -out notca-leaf.pem 2>/dev/null
rm -f notca-leaf.csr
cat notca-leaf.pem notca.pem >notca-chain.pem

# a CA:true issuer whose key usage does not allow certificate signing
sub_ca ca nosign "Tern Test NoSign" "basicConstraints = critical, CA:true
keyUsage = digitalSignature"
leaf nosign nosign-leaf device-nosign -days 365
cat nosign-leaf.pem nosign.pem >nosign-chain.pem

# an RSA intermediate (a proven link with an RSA signature)
openssl genrsa -out rsa-int.key 2048 2>/dev/null
openssl req -new -key rsa-int.key -subj "/CN=Tern Test RSA Intermediate" -out rsa-int.csr 2>/dev/null
openssl ca -batch -config ca.cnf -extensions intermediate -in rsa-int.csr -out rsa-int.pem -notext -days 365 2>/dev/null
rm -f rsa-int.csr
ca_config rsa-int
leaf rsa-int rsa-leaf device-rsa -days 365
cat rsa-leaf.pem rsa-int.pem >rsa-chain.pem

# a SHA-1 signed link
sub_ca ca sha1-int "Tern Test SHA1 Intermediate"
sed -i 's/^default_md = sha256/default_md = sha1/' sha1-int.cnf
leaf sha1-int sha1-leaf device-sha1 -days 365
cat sha1-leaf.pem sha1-int.pem >sha1-chain.pem
