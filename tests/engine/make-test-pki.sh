#!/bin/sh
# SPDX-License-Identifier: MIT
# Generates the engine tests' PKI into $1: a root, an intermediate, users with RSA-2048 and EC P-256
# keys and the emailProtection EKU, and the bad cases (expired, wrong EKU, revoked with a CRL,
# 1024-bit RSA, an untrusted root), weak paths (certificates signed with SHA-1 or MD5, a 1024-bit
# intermediate, a SHA-1 intermediate, a P-192 user key, a SHA-1 self-signed root) and an Ed25519
# user. Nothing here is secret; it is regenerated on every build.
set -eu
out=${1:?usage: make-test-pki.sh OUTDIR}
rm -rf "$out"
mkdir -p "$out"
cd "$out"
# Only this script's own files, never the user's OpenSSL configuration.
export OPENSSL_CONF=/dev/null

cat > ca.cnf <<'CNF'
[ca]
default_ca = intermediate
[intermediate]
dir = .
database = index.txt
new_certs_dir = newcerts
serial = serial
crlnumber = crlnumber
certificate = intermediate.pem
private_key = intermediate.key
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
default_crl_days = 36500
[anything]
commonName = supplied
emailAddress = optional
[root_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[intermediate_ext]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[rsa_user]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
extendedKeyUsage = emailProtection
subjectAltName = email:copy
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ec_user]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = emailProtection
subjectAltName = email:copy
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_user]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = email:copy
authorityKeyIdentifier = keyid
[ed_user]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = emailProtection
subjectAltName = email:copy
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noemail_user]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = emailProtection
authorityKeyIdentifier = keyid
CNF
mkdir newcerts
: > index.txt
echo 1000 > serial
echo 1000 > crlnumber

ossl() { openssl "$@" 2>/dev/null; }

ossl req -x509 -new -newkey rsa:2048 -nodes -keyout root.key -out root.pem -days 7300 \
    -subj "/CN=Engine Test Root" -extensions root_ext -config ca.cnf
ossl req -new -newkey rsa:2048 -nodes -keyout intermediate.key -out intermediate.csr \
    -subj "/CN=Engine Test Intermediate" -config ca.cnf
ossl x509 -req -in intermediate.csr -CA root.pem -CAkey root.key -CAcreateserial -out intermediate.pem \
    -days 7000 -extfile ca.cnf -extensions intermediate_ext

# newkey NAME KEYALG
newkey() {
    case $2 in
        rsa) ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key" ;;
        rsa1024) ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$1.key" ;;
        ec) ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" ;;
        ec192) ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-192 -out "$1.key" ;;
        ed25519) ossl genpkey -algorithm ED25519 -out "$1.key" ;;
    esac
}

# user NAME KEYALG EXTENSIONS [startdate enddate]; MD=sha1 (or md5) signs with that digest.
user() {
    name=$1 alg=$2 ext=$3
    newkey "$name" "$alg"
    subj="/CN=$name/emailAddress=$name@example.test"
    [ "$ext" = noemail_user ] && subj="/CN=$name"
    ossl req -new -key "$name.key" -out "$name.csr" -subj "$subj" -config ca.cnf
    if [ $# -ge 5 ]; then
        ossl ca -batch -config ca.cnf -extensions "$ext" -in "$name.csr" -out "$name.pem" -notext \
            -startdate "$4" -enddate "$5" -md "${MD:-sha256}"
    else
        ossl ca -batch -config ca.cnf -extensions "$ext" -in "$name.csr" -out "$name.pem" -notext -days 3650 \
            -md "${MD:-sha256}"
    fi
}

# issue ISSUER NAME KEYALG EXTENSIONS DIGEST: a certificate from another issuer than the intermediate.
issue() {
    issuer=$1 name=$2 alg=$3 ext=$4 md=$5
    newkey "$name" "$alg"
    ossl req -new -key "$name.key" -out "$name.csr" -subj "/CN=$name/emailAddress=$name@example.test" -config ca.cnf
    ossl x509 -req -in "$name.csr" -CA "$issuer.pem" -CAkey "$issuer.key" -CAcreateserial -out "$name.pem" \
        -days 3650 -extfile ca.cnf -extensions "$ext" "-$md"
}

user alice rsa rsa_user
user bob ec ec_user
user carol rsa rsa_user 20200101000000Z 20210101000000Z
user dave rsa server_user
user eve rsa rsa_user
user frank rsa1024 rsa_user
user grace rsa noemail_user
# Weak paths: the user's certificate signed with SHA-1 or MD5, a P-192 user key, a 1024-bit
# intermediate and a SHA-1-signed intermediate (each with a sound user below), a root that signs
# itself with SHA-1.
MD=sha1 user ivan rsa rsa_user
MD=md5 user judy rsa rsa_user
user mike ec192 ec_user
issue root weak-intermediate rsa1024 intermediate_ext sha256
issue weak-intermediate kate rsa rsa_user sha256
issue root sha1-intermediate rsa intermediate_ext sha1
issue sha1-intermediate leo rsa rsa_user sha256
ossl req -x509 -new -newkey rsa:2048 -nodes -keyout sha1-root.key -out sha1-root.pem -days 7300 -sha1 \
    -subj "/CN=Engine SHA-1 Root" -extensions root_ext -config ca.cnf
issue sha1-root nina rsa rsa_user sha256
# Ed25519 (RFC 8410): OpenSSL 3.0 cannot sign CMS with it, so the tests build such signatures.
user olga ed25519 ed_user
ossl pkcs12 -export -inkey olga.key -in olga.pem -certfile intermediate.pem -out olga.p12 -passout pass: -name olga
ossl ca -batch -config ca.cnf -revoke eve.pem -crl_reason keyCompromise
ossl ca -batch -config ca.cnf -gencrl -out intermediate.crl
ossl crl -in intermediate.crl -outform DER -out intermediate.crl.der

# An unrelated root and a user under it: a good signature nobody trusts.
ossl req -x509 -new -newkey rsa:2048 -nodes -keyout other-root.key -out other-root.pem -days 7300 \
    -subj "/CN=Engine Other Root" -extensions root_ext -config ca.cnf
ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out mallory.key
ossl req -new -key mallory.key -out mallory.csr -subj "/CN=mallory/emailAddress=mallory@example.test" -config ca.cnf
ossl x509 -req -in mallory.csr -CA other-root.pem -CAkey other-root.key -CAcreateserial -out mallory.pem \
    -days 3650 -extfile ca.cnf -extensions rsa_user

# PKCS#12 for the peers: gpgsm 2.2 needs the legacy algorithms, NSS reads either.
for name in alice bob; do
    ossl pkcs12 -export -legacy -inkey "$name.key" -in "$name.pem" -certfile intermediate.pem \
        -out "$name-legacy.p12" -passout pass: -name "$name"
done
echo ok > done
