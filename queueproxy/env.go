package queueproxy

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/internal/h1"
)

// Env is the sidecar's configuration contract: the controller (or the local
// runtime) writes these variables, with Knative's names and meanings.
type Env struct {
	Namespace     string // SERVING_NAMESPACE
	Service       string // SERVING_SERVICE
	Configuration string // SERVING_CONFIGURATION
	Revision      string // SERVING_REVISION
	Pod           string // SERVING_POD

	UserPort int // USER_PORT: the app listens on UserHost:UserPort
	// UserHost (USER_HOST) is where the app is reached: 127.0.0.1 beside
	// it, a container's bridge IP on one machine with the docker runtime.
	UserHost    string
	ServingPort int // QUEUE_SERVING_PORT: default for --http-port, 0 if unset

	ContainerConcurrency int           // CONTAINER_CONCURRENCY: 0 means unlimited
	RevisionTimeout      time.Duration // REVISION_TIMEOUT_SECONDS, default 300s
	ResponseStartTimeout time.Duration // REVISION_RESPONSE_START_TIMEOUT_SECONDS, 0 = off
	IdleTimeout          time.Duration // REVISION_IDLE_TIMEOUT_SECONDS, 0 = off

	ReadinessProbe Probe // SERVING_READINESS_PROBE, default a TCP probe of USER_PORT

	AppPID int // GANTRY_APP_PID: the app's process, for resource metrics; 0 = discover
	// AppCgroup (GANTRY_APP_CGROUP) names the app container's cgroup
	// directories, ':'-separated (v1: cpuacct and memory; v2: one); when
	// set, the app's CPU and memory come from there, not from a process.
	// "none": the app's resources cannot be read here.
	AppCgroup string

	// Limits (GANTRY_MAX_REQUEST_HEADER_BYTES, ...: api.ProxyLimits.Env)
	// bound what clients may send, as in the gateway.
	Limits h1.Limits
}

const defaultRevisionTimeout = 300 * time.Second

// LoadEnv reads and validates Env; errors name the offending variable.
func LoadEnv(getenv func(string) string) (Env, error) {
	e := Env{
		Namespace:     getenv("SERVING_NAMESPACE"),
		Service:       getenv("SERVING_SERVICE"),
		Configuration: getenv("SERVING_CONFIGURATION"),
		Revision:      getenv("SERVING_REVISION"),
		Pod:           getenv("SERVING_POD"),
	}
	var err error
	if getenv("USER_PORT") == "" {
		return e, fmt.Errorf("USER_PORT is required")
	}
	if e.UserPort, err = envPort(getenv, "USER_PORT"); err != nil {
		return e, err
	}
	if getenv("QUEUE_SERVING_PORT") != "" {
		if e.ServingPort, err = envPort(getenv, "QUEUE_SERVING_PORT"); err != nil {
			return e, err
		}
	}
	if e.ContainerConcurrency, err = envInt(getenv, "CONTAINER_CONCURRENCY", 0, 0, 1<<20); err != nil {
		return e, err
	}
	if e.RevisionTimeout, err = envSeconds(getenv, "REVISION_TIMEOUT_SECONDS", defaultRevisionTimeout); err != nil {
		return e, err
	}
	if e.RevisionTimeout == 0 {
		e.RevisionTimeout = defaultRevisionTimeout
	}
	if e.ResponseStartTimeout, err = envSeconds(getenv, "REVISION_RESPONSE_START_TIMEOUT_SECONDS", 0); err != nil {
		return e, err
	}
	if e.IdleTimeout, err = envSeconds(getenv, "REVISION_IDLE_TIMEOUT_SECONDS", 0); err != nil {
		return e, err
	}
	if e.AppPID, err = envInt(getenv, "GANTRY_APP_PID", 0, 0, 1<<31-1); err != nil {
		return e, err
	}
	e.AppCgroup = getenv("GANTRY_APP_CGROUP")
	if e.Limits, err = h1.LimitsFromEnv(getenv); err != nil {
		return e, err
	}
	e.UserHost = getenv("USER_HOST")
	if e.UserHost == "" {
		e.UserHost = "127.0.0.1"
	} else if net.ParseIP(e.UserHost) == nil {
		return e, fmt.Errorf("USER_HOST %q: want an IP address", e.UserHost)
	}
	if e.ReadinessProbe, err = parseProbe(getenv("SERVING_READINESS_PROBE"), e.UserHost, e.UserPort); err != nil {
		return e, fmt.Errorf("SERVING_READINESS_PROBE: %w", err)
	}
	return e, nil
}

func envInt(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want an integer in [%d, %d]", name, s, lo, hi)
	}
	return n, nil
}

func envPort(getenv func(string) string, name string) (int, error) {
	return envInt(getenv, name, 0, 1, 65535)
}

func envSeconds(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	n, err := envInt(getenv, name, -1, 0, 1<<31-1)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return def, nil
	}
	return time.Duration(n) * time.Second, nil
}

// Probe is the subset of a corev1.Probe the sidecar executes. It is decoded
// from the same JSON so the controller can pass the user's probe unchanged,
// without pulling k8s.io/api into the sidecar.
type Probe struct {
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`
	Exec      *json.RawMessage `json:"exec,omitempty"`

	TimeoutSeconds   int `json:"timeoutSeconds,omitempty"`
	PeriodSeconds    int `json:"periodSeconds,omitempty"`
	SuccessThreshold int `json:"successThreshold,omitempty"`
	FailureThreshold int `json:"failureThreshold,omitempty"`
}

// TCPSocketAction mirrors corev1.TCPSocketAction.
type TCPSocketAction struct {
	Host string    `json:"host,omitempty"`
	Port intOrName `json:"port"`
}

// HTTPGetAction mirrors corev1.HTTPGetAction.
type HTTPGetAction struct {
	Host        string       `json:"host,omitempty"`
	Path        string       `json:"path,omitempty"`
	Port        intOrName    `json:"port"`
	Scheme      string       `json:"scheme,omitempty"`
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPHeader mirrors corev1.HTTPHeader.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GRPCAction mirrors corev1.GRPCAction.
type GRPCAction struct {
	Host    string  `json:"-"` // USER_HOST
	Port    int     `json:"port"`
	Service *string `json:"service,omitempty"`
}

// intOrName is a Kubernetes IntOrString port; a named port resolves to USER_PORT.
type intOrName int

func (p *intOrName) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*p = intOrName(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("port: want a number or a name, got %s", b)
	}
	if n, err := strconv.Atoi(s); err == nil {
		*p = intOrName(n)
		return nil
	}
	*p = 0 // a name: the app's port
	return nil
}

// parseProbe decodes Knative's JSON probe. Knative's newer multi-container
// form is a JSON array; its first element is the serving container's probe.
func parseProbe(s, userHost string, userPort int) (Probe, error) {
	var p Probe
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		p.TCPSocket = &TCPSocketAction{}
	case strings.HasPrefix(s, "["):
		var ps []Probe
		if err := json.Unmarshal([]byte(s), &ps); err != nil {
			return p, fmt.Errorf("decode: %w", err)
		}
		if len(ps) > 0 {
			p = ps[0]
		} else {
			p.TCPSocket = &TCPSocketAction{}
		}
	default:
		if err := json.Unmarshal([]byte(s), &p); err != nil {
			return p, fmt.Errorf("decode: %w", err)
		}
	}
	switch {
	case p.TCPSocket != nil:
		if p.TCPSocket.Port == 0 {
			p.TCPSocket.Port = intOrName(userPort)
		}
		if p.TCPSocket.Host == "" {
			p.TCPSocket.Host = userHost
		}
	case p.HTTPGet != nil:
		if p.HTTPGet.Port == 0 {
			p.HTTPGet.Port = intOrName(userPort)
		}
		if p.HTTPGet.Host == "" {
			p.HTTPGet.Host = userHost
		}
		if p.HTTPGet.Path == "" {
			p.HTTPGet.Path = "/"
		} else if !strings.HasPrefix(p.HTTPGet.Path, "/") {
			p.HTTPGet.Path = "/" + p.HTTPGet.Path
		}
		switch strings.ToUpper(p.HTTPGet.Scheme) {
		case "", "HTTP":
			p.HTTPGet.Scheme = "http"
		case "HTTPS":
			p.HTTPGet.Scheme = "https"
		default:
			return p, fmt.Errorf("httpGet.scheme %q: want HTTP or HTTPS", p.HTTPGet.Scheme)
		}
	case p.GRPC != nil:
		if p.GRPC.Port == 0 {
			p.GRPC.Port = userPort
		}
		p.GRPC.Host = userHost
	case p.Exec != nil:
		// The kubelet runs exec probes; the sidecar can only check the port.
		p.Exec = nil
		p.TCPSocket = &TCPSocketAction{Host: userHost, Port: intOrName(userPort)}
	default:
		return p, fmt.Errorf("no tcpSocket, httpGet, grpc or exec handler")
	}
	if p.SuccessThreshold <= 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold <= 0 {
		p.FailureThreshold = 3
	}
	if p.PeriodSeconds < 0 || p.TimeoutSeconds < 0 {
		return p, fmt.Errorf("periodSeconds and timeoutSeconds must be >= 0")
	}
	return p, nil
}
