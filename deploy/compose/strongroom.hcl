# The configuration of every node of the compose demo
# (deploy/compose/compose.yaml). The three nodes share one FoundationDB
# database and are all active; each keeps its own seal state. A test parses
# every .hcl file under deploy/.

listener "tcp" {
  address       = "0.0.0.0:8200"
  # The node's own certificate, from gen-certs.sh (tls/strongroom-N/,
  # mounted at /etc/strongroom/tls by compose.yaml).
  tls_cert_file = "/etc/strongroom/tls/tls.crt"
  tls_key_file  = "/etc/strongroom/tls/tls.key"
}

# The cluster file is written by the fdb service into a shared volume,
# mounted here read-write (FoundationDB clients update it when the
# coordinators change). All nodes use the same prefix: one keyspace.
storage "foundationdb" {
  cluster_file = "/etc/foundationdb/fdb.cluster"
  api_version  = 730
  prefix       = "strongroom"
}

# Shamir for the demo: after `vault operator init` (once, on any node),
# every node is unsealed separately with the unseal keys. For an HSM, see
# deploy/README.md (seal "pkcs11" with a mounted PKCS#11 module).
seal "shamir" {}

log_level  = "info"
log_format = "json"
