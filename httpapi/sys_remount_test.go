package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestMigrationLog: a move's status is visible only in the namespace that
// made it, for an hour, and the log stays bounded.
func TestMigrationLog(t *testing.T) {
	var l migrationLog
	now := time.Unix(1e9, 0)
	info := migrationInfo{SourceMount: "a/", TargetMount: "b/", Status: "success"}
	l.add("tenant-a", "id1", info, now)
	if got, ok := l.get("tenant-a", "id1"); !ok || got != info {
		t.Fatalf("own namespace: %+v %v", got, ok)
	}
	if _, ok := l.get("tenant-b", "id1"); ok {
		t.Fatal("another namespace reads the move")
	}
	l.add("tenant-a", "id2", info, now.Add(2*time.Hour))
	if _, ok := l.get("tenant-a", "id1"); ok {
		t.Fatal("a move older than an hour is still kept")
	}
	for i := range 2 * migrationMax {
		l.add("t", fmt.Sprint(i), info, now.Add(2*time.Hour))
	}
	if n := len(l.byID); n > migrationMax {
		t.Fatalf("%d moves kept, at most %d", n, migrationMax)
	}
}

// FuzzRemountEndpoint sends arbitrary bodies to sys/remount and ids to
// sys/remount/status/<id> as the cluster's root: every answer is a success
// or a 4xx, never a 5xx, and a successful move's status reads success.
func FuzzRemountEndpoint(f *testing.F) {
	e := newCompatEnv(f)
	for _, s := range []string{
		`{"from":"secret","to":"moved"}`, `{"from":"kv","to":"secret"}`, `{"from":"sys","to":"x"}`,
		`{"from":"auth/approle","to":"auth/ar2"}`, `{"from":"auth/token","to":"auth/t"}`, `{"from":" x","to":"y"}`,
		`{"from":"a//b","to":"c"}`, `{"from":"transit","to":"transit/sub"}`, `{}`, `[]`, `{`, `{"from":1}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/sys/remount", strings.NewReader(body))
		req.Header.Set("X-Vault-Token", e.root)
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
		var out struct {
			Data struct {
				MigrationID string `json:"migration_id"`
			} `json:"data"`
		}
		if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &out) != nil {
			return
		}
		get := httptest.NewRequest(http.MethodGet, "/v1/sys/remount/status/"+url.PathEscape(out.Data.MigrationID), nil)
		get.Header.Set("X-Vault-Token", e.root)
		w = httptest.NewRecorder()
		e.srv.ServeHTTP(w, get)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"success"`) {
			t.Fatalf("status of a move from %q: %d %s", body, w.Code, w.Body)
		}
	})
}
