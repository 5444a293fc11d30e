package wire

// SDTarget is one group of Prometheus HTTP service discovery (/api/v1/sd).
type SDTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}
