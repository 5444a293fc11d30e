// Package podspec turns a revision's serving container into what a runtime
// starts, by Kubernetes' rules: the environment (envFrom, env with $(VAR)
// references, valueFrom of Secrets, ConfigMaps and the downward API), command
// and args expanded, the files of its secret, configMap, projected and emptyDir
// volumes, its mounts, user and resource limits. It is pure: Secrets and
// ConfigMaps come through a Lookup, so the process and Docker runtimes share
// one implementation and it is tested without I/O.
package podspec

import (
	"os"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// DefaultPort is the port an app listens on when its container declares none,
// as in Knative.
const DefaultPort = 8080

// Lookup finds the Secrets and ConfigMaps a container refers to.
type Lookup interface {
	Secret(namespace, name string) (*api.Secret, bool)
	ConfigMap(namespace, name string) (*api.ConfigMap, bool)
}

// Pod is what the downward API (fieldRef, resourceFieldRef defaults) reads.
type Pod struct {
	Name      string // the instance name (metadata.name)
	Namespace string
	UID       string // metadata.uid; fieldRef to it fails while empty
	IP        string // status.podIP; 127.0.0.1 on one machine
	NodeName  string // spec.nodeName
	Labels    map[string]string
	// Annotations are the revision's.
	Annotations        map[string]string
	ServiceAccountName string
	// NodeMilliCPU and NodeMemoryBytes answer resourceFieldRef for a resource
	// with no limit, as Kubernetes answers with the node's allocatable.
	NodeMilliCPU    int64
	NodeMemoryBytes int64
}

// Container is a serving container, resolved.
type Container struct {
	Name  string
	Image string
	// Command and Args are expanded from Env. An empty Command keeps the
	// image's entrypoint; Args nil with Command empty keeps the image's cmd.
	Command, Args []string
	// Env in Kubernetes' order (envFrom, then env); PORT and the K_*
	// variables come last and win.
	Env        []EnvVar
	WorkingDir string
	// Port is the value of $PORT: where the app must listen.
	Port int
	// DeclaredPort is the container port of the manifest (0: none declared).
	DeclaredPort int32
	H2C          bool // the container port is named h2c
	// Volumes are the pod's volumes that this container mounts.
	Volumes []Volume
	Mounts  []Mount
	// RunAsUser/RunAsGroup: container securityContext over the pod's.
	RunAsUser, RunAsGroup  *int64
	ReadOnlyRootFilesystem bool
	Limits, Requests       Resources
	ImagePullPolicy        corev1.PullPolicy // defaulted as Kubernetes does
	ReadinessProbe         *corev1.Probe
	LivenessProbe          *corev1.Probe
	StartupProbe           *corev1.Probe
}

// EnvVar is one resolved environment variable.
type EnvVar struct{ Name, Value string }

// Resources are CPU in millicores and memory in bytes; 0 means unset.
type Resources struct {
	MilliCPU    int64
	MemoryBytes int64
}

// Volume is a volume with the files it holds.
type Volume struct {
	Name string
	// EmptyDir: an empty writable directory (Files is empty).
	EmptyDir bool
	// Medium "Memory" asks for a tmpfs; SizeLimit in bytes, 0 for none.
	Medium    string
	SizeLimit int64
	// Files of a secret, configMap or projected volume, paths relative to
	// the volume's root.
	Files []File
}

// File is one file of a volume.
type File struct {
	Path string
	Data []byte
	Mode os.FileMode
}

// Mount places a volume (or one path in it) in the container.
type Mount struct {
	Volume   string
	Path     string // mountPath
	SubPath  string
	ReadOnly bool // as Kubernetes mounts it: secret, configMap and projected volumes always read-only
}

// Error says why a container cannot be started, with a Kubernetes-style
// reason (CreateContainerConfigError, ...). It is permanent until the
// objects it names change.
type Error struct{ Reason, Message string }

func (e *Error) Error() string { return e.Message }
