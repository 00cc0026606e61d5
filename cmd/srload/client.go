package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

const userAgent = "srload/1"

// newHTTPClient returns the one client shared by every worker: HTTP/1.1 with
// keep-alive, at most conns connections to the server (one per worker) kept
// open between requests, no proxy, no compression, no redirects (a standby
// node's redirect counts as an error, it is not followed).
func newHTTPClient(cfg *config) (*http.Client, error) {
	tlsConf := &tls.Config{InsecureSkipVerify: cfg.insecure} //nolint:gosec // -insecure is the user's choice
	if cfg.caCert != "" {
		pem, err := os.ReadFile(cfg.caCert)
		if err != nil {
			return nil, fmt.Errorf("-ca-cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-ca-cert: no PEM certificate in %s", cfg.caCert)
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: 10 * time.Second,
		// A non-nil empty map disables HTTP/2: each worker owns one
		// HTTP/1.1 connection, as with a pool of Vault clients.
		TLSNextProto:          map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:          cfg.conns,
		MaxIdleConnsPerHost:   cfg.conns,
		MaxConnsPerHost:       cfg.conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: cfg.timeout,
		DisableCompression:    true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// parseAddr checks -addr and returns it as a base URL (scheme, host and an
// optional path prefix without its trailing slash).
func parseAddr(addr string) (*url.URL, error) { return parseURLFlag("-addr", addr) }

// parseURLFlag is parseAddr for the flag named flag.
func parseURLFlag(flag, addr string) (*url.URL, error) {
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s %q: want http://host:port or https://host:port", flag, addr)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}, nil
}

// body is a pre-built request body, shared read-only by every worker.
type body struct {
	data    []byte
	getBody func() (io.ReadCloser, error) // lets the Transport retry on a dead keep-alive connection
}

func newBody(data []byte) *body {
	return &body{data: data, getBody: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// target builds the requests of one worker. Requests are shallow copies of
// a template made once per worker (it carries the run's context and the
// worker's own header map: X-Vault-Token, X-Vault-Namespace, ...), so a
// request costs a few small allocations and no URL parsing. The header map is
// reused by the worker's successive requests, which net/http allows once the
// previous response body is closed.
type target struct {
	base     url.URL
	noBody   *http.Request
	withBody *http.Request
}

func newTarget(ctx context.Context, base *url.URL, cfg *config) *target {
	mk := func(contentType string) *http.Request {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base.String(), nil)
		if err != nil {
			panic(err) // base was parsed by parseAddr
		}
		req.Header.Set("User-Agent", userAgent)
		if cfg.token != "" {
			req.Header.Set("X-Vault-Token", cfg.token)
		}
		if cfg.namespace != "" {
			req.Header.Set("X-Vault-Namespace", cfg.namespace)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		return req
	}
	return &target{base: *base, noBody: mk(""), withBody: mk("application/json")}
}

// get returns a GET of path (which starts with /v1/) and the raw query.
func (t *target) get(path, rawQuery string) *http.Request {
	return t.request(http.MethodGet, path, rawQuery, nil)
}

// request returns a request of method on path?rawQuery with body b (or none).
func (t *target) request(method, path, rawQuery string, b *body) *http.Request {
	req := new(http.Request)
	if b == nil {
		*req = *t.noBody
		req.Body = http.NoBody
	} else {
		*req = *t.withBody
		req.Body = io.NopCloser(bytes.NewReader(b.data))
		req.GetBody = b.getBody
		req.ContentLength = int64(len(b.data))
	}
	u := t.base
	u.Path += path
	u.RawQuery = rawQuery
	req.URL = &u
	req.Method = method
	return req
}

// maxErrorBody is how much of an error response is kept as its sample.
const maxErrorBody = 300

// call sends req and returns the status and, for a non-2xx status, the start
// of the response body. It is for setup and checks, not the timed loop.
func call(client *http.Client, req *http.Request) (status int, errBody string, err error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		errBody = readSample(resp.Body)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, errBody, nil
}

// readSample reads the start of an error body as one line of text.
func readSample(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, maxErrorBody))
	return strings.Join(strings.Fields(string(b)), " ")
}

// describeFailure is a short text for a failed request: the transport error,
// or the status and the start of the body.
func describeFailure(status int, errBody string, err error) string {
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is printed elsewhere
		}
		return err.Error()
	}
	s := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if errBody != "" {
		s += ": " + errBody
	}
	return s
}
