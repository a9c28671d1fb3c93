#!/usr/bin/env bash
# Regenerates the test certificates (valid for 100 years): a CA, a server certificate for
# 127.0.0.1 and localhost, a client certificate it signed, and a client certificate of another CA.
set -euo pipefail
cd "$(dirname "$0")"
days=36500
ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }
ec ca.key
openssl req -x509 -new -key ca.key -subj "/CN=plugin-health test CA" -days $days -out ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ec server.key
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days $days -out server.pem \
    -extfile <(printf "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE")
ec client.key
openssl req -new -key client.key -subj "/CN=test client" -out client.csr
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days $days -out client.pem \
    -extfile <(printf "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE")
ec other-ca.key
openssl req -x509 -new -key other-ca.key -subj "/CN=another CA" -days $days -out other-ca.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
ec stranger.key
openssl req -new -key stranger.key -subj "/CN=stranger" -out stranger.csr
openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial -days $days -out stranger.pem \
    -extfile <(printf "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE")
rm -f ./*.csr ./*.srl other-ca.key
