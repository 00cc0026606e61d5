package httpapi

import (
	"fmt"
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
