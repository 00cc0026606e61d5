package sys

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/strongroom/strongroom/engine"
)

// HealthResponse is the body of sys/health (vault/http/sys_health.go).
type HealthResponse struct {
	Initialized                bool   `json:"initialized"`
	Sealed                     bool   `json:"sealed"`
	Standby                    bool   `json:"standby"`
	PerformanceStandby         bool   `json:"performance_standby"`
	ReplicationPerformanceMode string `json:"replication_performance_mode"`
	ReplicationDRMode          string `json:"replication_dr_mode"`
	ServerTimeUTC              int64  `json:"server_time_utc"`
	Version                    string `json:"version"`
	ClusterName                string `json:"cluster_name,omitempty"`
	ClusterID                  string `json:"cluster_id,omitempty"`
}

// HealthQuery holds the query flags of sys/health with Vault's defaults.
type HealthQuery struct {
	StandbyOK, PerfStandbyOK                        bool
	ActiveCode, StandbyCode, SealedCode, UninitCode int
	PerfStandbyCode, DRSecondaryCode, RemovedCode   int
}

// ParseHealthQuery reads the query flags; a malformed flag or a status code
// outside 100–599 is an engine.ErrBadRequest.
func ParseHealthQuery(q url.Values) (HealthQuery, error) {
	h := HealthQuery{
		ActiveCode: http.StatusOK, StandbyCode: http.StatusTooManyRequests,
		SealedCode: http.StatusServiceUnavailable, UninitCode: http.StatusNotImplemented,
		PerfStandbyCode: 473, DRSecondaryCode: 472, RemovedCode: 530,
	}
	for name, dst := range map[string]*bool{"standbyok": &h.StandbyOK, "perfstandbyok": &h.PerfStandbyOK} {
		if v, ok := q[name]; ok {
			if v[0] == "" {
				*dst = true // "?standbyok" alone means true, as Vault's parseutil does
				continue
			}
			b, err := strconv.ParseBool(v[0])
			if err != nil {
				return h, engine.Errorf(engine.ErrBadRequest, "bad value for %s parameter", name)
			}
			*dst = b
		}
	}
	for name, dst := range map[string]*int{
		"activecode": &h.ActiveCode, "standbycode": &h.StandbyCode, "sealedcode": &h.SealedCode,
		"uninitcode": &h.UninitCode, "performancestandbycode": &h.PerfStandbyCode,
		"drsecondarycode": &h.DRSecondaryCode, "removedcode": &h.RemovedCode,
	} {
		if v, ok := q[name]; ok {
			c, err := strconv.Atoi(v[0])
			if err != nil || c < 100 || c > 599 {
				return h, engine.Errorf(engine.ErrBadRequest, "bad value for %s parameter", name)
			}
			*dst = c
		}
	}
	return h, nil
}

// Health answers sys/health: the status code chosen by Vault's rules and
// the body. A single node is always active, never a standby.
func (s *Sys) Health(ctx context.Context, q HealthQuery) (int, *HealthResponse, error) {
	st, err := s.Barrier.Status(ctx)
	if err != nil {
		return http.StatusInternalServerError, nil, err
	}
	// As in Vault and OpenBao, a node that is not active (sealed or
	// uninitialised) reports standby, and its replication modes are unknown.
	mode := "disabled"
	if st.Sealed {
		mode = "unknown"
	}
	h := &HealthResponse{
		Initialized: st.Initialized, Sealed: st.Sealed, Standby: st.Sealed,
		ReplicationPerformanceMode: mode, ReplicationDRMode: mode,
		ServerTimeUTC: s.now().UTC().Unix(), Version: s.Version,
	}
	code := q.ActiveCode
	switch {
	case !st.Initialized:
		code = q.UninitCode
	case st.Sealed:
		code = q.SealedCode
	case s.Probe != nil && s.Probe(ctx) != nil:
		// Unsealed but unable to reach its storage or HSM: not ready.
		code = q.SealedCode
	}
	if !st.Sealed {
		if info, err := s.cluster(ctx); err == nil {
			h.ClusterName, h.ClusterID = info.Name, info.ID
		}
	}
	return code, h, nil
}
