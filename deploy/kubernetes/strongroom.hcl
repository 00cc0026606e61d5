# strongroom.hcl for deploy/kubernetes (ConfigMap strongroom-config, made
# by kustomization.yaml from this file and mounted at
# /etc/strongroom/strongroom.hcl). A test parses every .hcl file under deploy/.

listener "tcp" {
  address       = "0.0.0.0:8200"
  # From the kubernetes.io/tls Secret strongroom-tls, projected beside this
  # file. After the Secret changes, SIGHUP reloads them without a restart.
  tls_cert_file = "/etc/strongroom/tls/tls.crt"
  tls_key_file  = "/etc/strongroom/tls/tls.key"
}

# An init container copies the cluster file from the ConfigMap fdb-cluster
# into a writable emptyDir here: FoundationDB clients rewrite it when the
# coordinators change. Every replica uses the same prefix: one keyspace.
storage "foundationdb" {
  cluster_file = "/etc/foundationdb/fdb.cluster"
  api_version  = 730
  prefix       = "strongroom"
}

# Shamir: every pod starts sealed and serves nothing until it is unsealed
# with a quorum of unseal keys (deploy/README.md). For auto-unseal, mount
# the HSM vendor's PKCS#11 module and a PIN Secret and use instead:
#
# seal "pkcs11" {
#   lib         = "/usr/lib/pkcs11/vendor.so"
#   token_label = "strongroom"
#   pin_file    = "/etc/strongroom-hsm/pin"
#   key_label   = "strongroom-master"
# }
seal "shamir" {}

log_level  = "info"
log_format = "json"
