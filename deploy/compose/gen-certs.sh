#!/bin/sh
# Makes throwaway TLS material for the compose demo, with openssl:
#
#   tls/ca.crt, tls/ca.key            a demo CA (the key stays here, mounted nowhere)
#   tls/strongroom-N/tls.crt, tls.key  one certificate per node, N = 1..3
#
# Each node certificate names the node (strongroom-N), the load balancer
# (strongroom), localhost and 127.0.0.1: the load balancer passes TLS
# through, so a client reaching a node through it, or through the node's
# published port, sees the node's certificate. Certificates last 30 days.
# Nothing here is committed (tls/ is git-ignored). Run it again with -f to
# replace existing files.
#
# The node keys are left readable by all (0644) because the containers run
# as uid 10001 and read them through a bind mount: acceptable for demo keys
# in a private directory, not for real ones (give those to uid 10001 with
# mode 0400, or use Docker/Kubernetes secrets).
set -eu

cd "$(dirname "$0")"
force=false
[ "${1:-}" = "-f" ] && force=true
if [ -e tls/ca.crt ] && [ "$force" = false ]; then
	echo "tls/ already holds certificates; run $0 -f to replace them" >&2
	exit 1
fi
rm -rf tls
mkdir -p tls
umask 077

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 30 -subj "/CN=Strongroom compose demo CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout tls/ca.key -out tls/ca.crt 2>/dev/null

for n in 1 2 3; do
	node="strongroom-$n"
	dir="tls/$node"
	mkdir -p "$dir"
	cat >"$dir/ext.cnf" <<EXT
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$node, DNS:strongroom, DNS:localhost, IP:127.0.0.1
EXT
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$node" -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
	openssl x509 -req -in "$dir/tls.csr" -CA tls/ca.crt -CAkey tls/ca.key \
		-set_serial "0x$(openssl rand -hex 16)" -days 30 -sha256 \
		-extfile "$dir/ext.cnf" -out "$dir/tls.crt" 2>/dev/null
	cp tls/ca.crt "$dir/ca.crt"
	rm -f "$dir/tls.csr" "$dir/ext.cnf"
	chmod 0755 "$dir"
	chmod 0644 "$dir/tls.crt" "$dir/tls.key" "$dir/ca.crt"
done
chmod 0755 tls
chmod 0644 tls/ca.crt
chmod 0600 tls/ca.key

echo "wrote $(pwd)/tls: ca.crt (give it to clients as VAULT_CACERT) and strongroom-{1,2,3}/"
