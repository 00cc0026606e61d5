package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/strongroom/strongroom/storage"
	"github.com/strongroom/strongroom/storage/bolt"
)

// runOperator serves `strongroom operator backup|restore`.
func runOperator(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "Usage: strongroom operator <backup|restore> [options]\n")
		return 1
	}
	var err error
	switch args[0] {
	case "backup":
		err = operatorBackup(args[1:], stdout, stderr)
	case "restore":
		err = operatorRestore(args[1:], stdout, stderr)
	default:
		err = fmt.Errorf("unknown operator command %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// operatorBackup saves a snapshot of a running server's store, through
// GET sys/storage/snapshot (read and sudo on that path). The address,
// token, CA and client certificate come from the flags or, as for the vault
// CLI, from VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT, VAULT_CLIENT_CERT and
// VAULT_CLIENT_KEY (the client certificate is what a listener with
// tls_require_and_verify_client_cert asks for). The file is written 0600; it
// stays barrier-encrypted and opens only with the HSM key or the unseal keys.
func operatorBackup(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("operator backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "file to write the snapshot to (required)")
	addr := fs.String("address", envDefault("VAULT_ADDR", "http://127.0.0.1:8200"), "server address")
	caCert := fs.String("ca-cert", os.Getenv("VAULT_CACERT"), "CA certificate of the server")
	clientCert := fs.String("client-cert", os.Getenv("VAULT_CLIENT_CERT"), "client certificate (PEM) to present")
	clientKey := fs.String("client-key", os.Getenv("VAULT_CLIENT_KEY"), "private key (PEM) of the client certificate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-out is required")
	}
	tok := os.Getenv("VAULT_TOKEN")
	if tok == "" {
		return errors.New("VAULT_TOKEN must hold a token with read and sudo on sys/storage/snapshot")
	}
	tc, err := backupTLS(*caCert, *clientCert, *clientKey)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Minute, Transport: &http.Transport{TLSClientConfig: tc}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, strings.TrimRight(*addr, "/")+"/v1/sys/storage/snapshot", nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Vault-Token", tok)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("snapshot refused: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, resp.Body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// A snapshot that does not open as a store is a truncated one.
		err = checkSnapshot(tmp)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the snapshot: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Success! Wrote a %d-byte snapshot to %s\n", n, *out)
	return nil
}

// backupTLS builds the client TLS configuration of operator backup: the
// system roots or the CA file, and a client certificate when both of its
// files are given (one without the other is refused).
func backupTLS(caCert, clientCert, clientKey string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caCert != "" {
		pem, err := os.ReadFile(caCert)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate in %s", caCert)
		}
		tc.RootCAs = pool
	}
	if (clientCert == "") != (clientKey == "") {
		return nil, errors.New("a client certificate needs both -client-cert and -client-key")
	}
	if clientCert != "" {
		pair, err := tls.LoadX509KeyPair(clientCert, clientKey)
		if err != nil {
			return nil, fmt.Errorf("loading the client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func envDefault(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// openSnapshot opens a copy of the snapshot file (bbolt writes to a file
// it opens, and a backup must stay as it was).
func openSnapshot(path string) (*bolt.DB, func(), error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer src.Close()
	dir, err := os.MkdirTemp("", "strongroom-restore-")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	tmp := filepath.Join(dir, "snapshot.db")
	dst, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY, 0o600)
	if err == nil {
		_, err = io.Copy(dst, src)
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	db, err := bolt.OpenRaw(tmp)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("the snapshot does not open as a store: %w", err)
	}
	return db, func() { db.Close(); cleanup() }, nil
}

func checkSnapshot(path string) error {
	db, done, err := openSnapshot(path)
	if err != nil {
		return err
	}
	defer done()
	return db.Check()
}

// operatorRestore loads a snapshot into the empty store the configuration
// names, with the server stopped. The restored node unseals with the same
// HSM key or unseal keys as the one backed up.
func operatorRestore(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("operator restore", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration of the node to restore (required)")
	in := fs.String("in", "", "snapshot file (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || *in == "" {
		return errors.New("-config and -in are required")
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		return err
	}
	if cfg.Storage.Type != "bolt" {
		return fmt.Errorf("restore supports storage \"bolt\"; this configuration uses %q", cfg.Storage.Type)
	}
	src, done, err := openSnapshot(*in)
	if err != nil {
		return err
	}
	defer done()
	if err := src.Check(); err != nil {
		return fmt.Errorf("the snapshot is damaged: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Storage.Bolt.Path), 0o700); err != nil {
		return err
	}
	dst, err := bolt.OpenRaw(cfg.Storage.Bolt.Path)
	if err != nil {
		return fmt.Errorf("opening the target store (is the server stopped?): %w", err)
	}
	defer dst.Close()
	n, err := storage.Copy(context.Background(), dst, src)
	if errors.Is(err, storage.ErrNotEmpty) {
		return fmt.Errorf("%s is not empty: restore only into an empty store", cfg.Storage.Bolt.Path)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Success! Restored %d records into %s\n", n, cfg.Storage.Bolt.Path)
	return nil
}
