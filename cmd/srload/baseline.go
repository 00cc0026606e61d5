package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The baseline server: a minimal in-process HTTP server that answers every
// request with a fixed Vault-shaped JSON body after one AES-256-GCM seal,
// the least a Vault-API server that does any work can do. srload measures
// it with the requests of the workload in the same run, so that a result
// is also a ratio to this ceiling, which holds on a noisy machine.

// inProcessAddr is the addr of a report of the baseline server.
const inProcessAddr = "in-process"

var (
	// baselineKey is the fixed AES-256 key of the baseline server.
	baselineKey = []byte("srload baseline AES-256-GCM key!")
	// baselinePlaintext is what the baseline server seals, 32 bytes.
	baselinePlaintext = []byte("srload baseline plaintext 32 B..")
)

// The response body is Vault's envelope of a transit encrypt answer;
// the ciphertext goes between the two halves.
const (
	baselineBodyHead = `{"request_id":"00000000-0000-0000-0000-000000000000","lease_id":"","renewable":false,"lease_duration":0,"data":{"ciphertext":"vault:v1:`
	baselineBodyTail = `","key_version":1},"wrap_info":null,"warnings":null,"auth":null}` + "\n"
)

// baselineObserve, when set (by tests), is shown every request the baseline
// server gets, before the handler reads its body.
var baselineObserve func(*http.Request)

// baselineHandler answers every request: it reads and discards the body,
// spins for work (zero but for -serve-work), seals baselinePlaintext with a fresh random 96-bit nonce, and writes 200
// with the envelope whose ciphertext is "vault:v1:" and the base64 of nonce
// ‖ ciphertext ‖ tag, as Vault's transit engine does.
type baselineHandler struct {
	aead    cipher.AEAD
	observe func(*http.Request)
	work    time.Duration
}

func newBaselineHandler(observe func(*http.Request)) (*baselineHandler, error) {
	block, err := aes.NewCipher(baselineKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &baselineHandler{aead: aead, observe: observe}, nil
}

const baselineSealedLen = 12 + 32 + 16 // nonce, plaintext, tag

func (h *baselineHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.observe != nil {
		h.observe(r)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	if h.work > 0 {
		spin(h.work)
	}

	sealed := make([]byte, h.aead.NonceSize(), baselineSealedLen)
	_, _ = rand.Read(sealed) // the nonce; crypto/rand.Read does not fail
	sealed = h.aead.Seal(sealed, sealed, baselinePlaintext, nil)

	enc := base64.StdEncoding
	body := make([]byte, 0, len(baselineBodyHead)+enc.EncodedLen(len(sealed))+len(baselineBodyTail))
	body = append(body, baselineBodyHead...)
	body = enc.AppendEncode(body, sealed)
	body = append(body, baselineBodyTail...)
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// spin keeps the calling goroutine busy, on its processor, for at least d:
// work that neither blocks nor yields, as a handler's computation.
func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

// baselineServer is the running server on 127.0.0.1 and the client that
// measures it, or (srv nil) a baseline served elsewhere (-baseline-addr).
type baselineServer struct {
	url    *url.URL
	srv    *http.Server
	client *http.Client
	addr   string // in its report: inProcessAddr or -baseline-addr
}

// remoteBaseline is the baseline served at cfg.baselineAddr (by srload
// -serve-baseline), measured with a client of the target's settings
// (newHTTPClient: HTTP/1.1, -c keep-alive connections, -timeout, -ca-cert,
// -insecure).
func remoteBaseline(cfg *config) (*baselineServer, error) {
	u, err := parseURLFlag("-baseline-addr", cfg.baselineAddr)
	if err != nil {
		return nil, err
	}
	client, err := newHTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	return &baselineServer{url: u, client: client, addr: u.String()}, nil
}

// startBaselineServer starts the server on a free port of 127.0.0.1 with
// the scheme of -addr: for https it serves TLS with a certificate made for
// the run, so that the ratio does not count TLS as the target's cost. Its
// client has the settings of the target's (newHTTPClient: HTTP/1.1, -c
// keep-alive connections, -timeout) and trusts that certificate only.
func startBaselineServer(cfg *config, scheme string) (*baselineServer, error) {
	h, err := newBaselineHandler(baselineObserve)
	if err != nil {
		return nil, err
	}
	ccfg := *cfg
	ccfg.caCert, ccfg.insecure = "", false
	client, err := newHTTPClient(&ccfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if scheme == "https" {
		serverConf, roots, err := selfSignedTLS()
		if err != nil {
			ln.Close()
			return nil, err
		}
		ln = tls.NewListener(ln, serverConf) // HTTP/1.1 only: no ALPN h2
		client.Transport.(*http.Transport).TLSClientConfig.RootCAs = roots
	}
	b := &baselineServer{
		url:    &url.URL{Scheme: scheme, Host: ln.Addr().String()},
		srv:    newBaselineHTTPServer(h),
		client: client,
		addr:   inProcessAddr,
	}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// newBaselineHTTPServer is the http.Server of the baseline handler h, in
// process or served on its own.
func newBaselineHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
}

func (b *baselineServer) close() {
	b.client.CloseIdleConnections()
	if b.srv != nil {
		_ = b.srv.Close()
	}
}

// measure runs w's requests (no setup: the server answers everything)
// with cfg's -c, -warmup, -d and -n.
func (b *baselineServer) measure(ctx context.Context, cfg *config, w workload) (*runStats, error) {
	r := &runner{cfg: cfg, client: b.client, base: b.url, stderr: io.Discard, inProcess: true}
	st, err := r.measure(ctx, w)
	if err != nil {
		var all *allFailedError
		if errors.As(err, &all) {
			return nil, fmt.Errorf("baseline server at %s: all of the first %d requests failed: %s", b.url, all.n, all.sample)
		}
		return nil, fmt.Errorf("baseline server at %s: %w", b.url, err)
	}
	return st, nil
}

// baselineHalves splits the measured part of a run, -d and -n, in two for
// the baseline's halves before and after the target's run; the first half
// gets the odd nanosecond or request. A half with nothing to measure (-n 1)
// is nil.
func baselineHalves(cfg *config) [2]*config {
	var out [2]*config
	for i := range out {
		h := *cfg
		h.duration, h.maxRequests = cfg.duration/2, cfg.maxRequests/2
		if i == 0 {
			h.duration += cfg.duration % 2
			h.maxRequests += cfg.maxRequests % 2
		}
		if cfg.duration > 0 && h.duration == 0 || cfg.maxRequests > 0 && h.maxRequests == 0 {
			continue
		}
		out[i] = &h
	}
	return out
}

// selfSignedTLS makes the baseline server's TLS configuration, with an
// ECDSA P-256 certificate for 127.0.0.1, and the pool that trusts it.
func selfSignedTLS() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "srload baseline"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	conf := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}},
		NextProtos:   []string{"http/1.1"},
	}
	return conf, roots, nil
}

// servedHealth is the served baseline's answer to sys/health, which the
// measuring srload's preflight reads: an initialised, unsealed node.
const servedHealth = `{"initialized":true,"sealed":false,"standby":false,"performance_standby":false,` +
	`"replication_performance_mode":"disabled","replication_dr_mode":"disabled","server_time_utc":0,` +
	`"version":"srload-baseline","cluster_name":"srload","cluster_id":"srload"}` + "\n"

// serveBaseline serves the baseline handler on addr over plain HTTP until
// ctx is done, and writes the address it listens on to w. It answers
// sys/health as an unsealed node, every other request as the baseline,
// after work of busy computation (-serve-work).
func serveBaseline(ctx context.Context, addr string, work time.Duration, w io.Writer) error {
	bh, err := newBaselineHandler(nil)
	if err != nil {
		return err
	}
	bh.work = work
	h := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/sys/health" {
			bh.ServeHTTP(rw, r)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(rw, servedHealth)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := newBaselineHTTPServer(h)
	fmt.Fprintf(w, "srload: baseline server listening on http://%s (interrupt to stop)\n", ln.Addr())
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
