package main

// The baseline workload runs only the in-process baseline server
// (baseline.go), with the requests of the health workload: -addr is not
// contacted. Every other workload measures that server in the same run
// anyway, with its own requests (-baseline); this one gives the ceiling
// alone: srload + HTTP + one AES-256-GCM seal per request.

func init() {
	register(workloadInfo{
		name:      "baseline",
		summary:   "only the in-process baseline server (-addr is not used): health's requests, each answered after one AES-256-GCM seal",
		inProcess: true,
		build:     func(*config) (workload, error) { return health{}, nil },
	})
}
