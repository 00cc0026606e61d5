# /etc/strongroom/strongroom.hcl for deploy/systemd/strongroom.service.
# Every option: docs/configuration.md. A test parses this file.

listener "tcp" {
  address       = "0.0.0.0:8200"
  tls_cert_file = "/etc/strongroom/tls.crt"
  tls_key_file  = "/etc/strongroom/tls.key"
}

# StateDirectory=strongroom in the unit: /var/lib/strongroom, mode 0700.
storage "bolt" {
  path = "/var/lib/strongroom/strongroom.db"
}

# The HSM holds the master key; the node unseals itself at start.
# The PIN file is readable by the strongroom user only (0400).
seal "pkcs11" {
  lib          = "/usr/lib/softhsm/libsofthsm2.so"
  token_label  = "strongroom"
  pin_file     = "/etc/strongroom/hsm-pin"
  key_label    = "strongroom-master"
  generate_key = true
}

log_level  = "info"
log_format = "json"

# Prometheus scrapes http://127.0.0.1:9102/metrics without a token.
telemetry {
  metrics_address = "127.0.0.1:9102"
}
