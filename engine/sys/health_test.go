package sys

import (
	"errors"
	"net/url"
	"testing"

	"github.com/strongroom/strongroom/engine"
)

func TestParseHealthQuery(t *testing.T) {
	q, err := ParseHealthQuery(url.Values{})
	if err != nil || q.ActiveCode != 200 || q.StandbyCode != 429 || q.SealedCode != 503 || q.UninitCode != 501 {
		t.Fatalf("defaults: %+v %v", q, err)
	}
	q, err = ParseHealthQuery(url.Values{"standbyok": {""}, "sealedcode": {"299"}, "perfstandbyok": {"false"}})
	if err != nil || !q.StandbyOK || q.PerfStandbyOK || q.SealedCode != 299 {
		t.Fatalf("flags: %+v %v", q, err)
	}
	for _, bad := range []url.Values{{"sealedcode": {"x"}}, {"activecode": {"99"}}, {"uninitcode": {"600"}}, {"standbyok": {"maybe"}}} {
		if _, err := ParseHealthQuery(bad); !errors.Is(err, engine.ErrBadRequest) {
			t.Errorf("%v: %v", bad, err)
		}
	}
}
