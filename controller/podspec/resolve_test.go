package podspec

import (
	"testing"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// objects is a Lookup over fixed Secrets and ConfigMaps of namespace default.
type objects struct {
	secrets    map[string]*api.Secret
	configMaps map[string]*api.ConfigMap
}

func (o objects) Secret(ns, name string) (*api.Secret, bool) {
	s, ok := o.secrets[ns+"/"+name]
	return s, ok
}

func (o objects) ConfigMap(ns, name string) (*api.ConfigMap, bool) {
	c, ok := o.configMaps[ns+"/"+name]
	return c, ok
}

var testObjects = objects{
	secrets: map[string]*api.Secret{
		"default/db": {ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "default"},
			Data:       map[string][]byte{"user": []byte("admin"), "password": []byte("from-data"), "1bad": []byte("x")},
			StringData: map[string]string{"password": "s3cret"}},
	},
	configMaps: map[string]*api.ConfigMap{
		"default/app": {ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "default"},
			Data: map[string]string{"LEVEL": "debug", "mode": "fast", "bad key": "skipped", "app.yaml": "a: 1\n"}},
	},
}

var testPod = Pod{Name: "hello-00001-abcde", Namespace: "default", UID: "u-1", IP: "127.0.0.1", NodeName: "node1",
	Labels: map[string]string{"app": "hello", "tier": "web"}, Annotations: map[string]string{"note": "hi"},
	ServiceAccountName: "sa", NodeMilliCPU: 4000, NodeMemoryBytes: 8 << 30}

// revision builds a revision of namespace default from a PodSpec in YAML.
func revision(t *testing.T, spec string) *api.Revision {
	t.Helper()
	rev := &api.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00001", Namespace: "default",
		Labels: map[string]string{api.LabelService: "hello", api.LabelConfiguration: "hello"}}}
	if err := yaml.UnmarshalStrict([]byte(spec), &rev.Spec.PodSpec); err != nil {
		t.Fatalf("bad test spec: %v", err)
	}
	return rev
}

// knativeEnv is what Resolve appends to every environment.
var knativeEnv = []EnvVar{{"PORT", "8080"}, {"K_SERVICE", "hello"}, {"K_CONFIGURATION", "hello"}, {"K_REVISION", "hello-00001"}}

func TestResolveEnv(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       []EnvVar // before knativeEnv
		args       []string
	}{{
		name: "plain values expand earlier variables",
		spec: `
containers:
- image: x
  env: [{name: A, value: a}, {name: B, value: "$(A)-b"}, {name: C, value: "$(LATER)$$(A)"}, {name: LATER, value: l}]
  args: ["$(B)", "$(PORT)"]`,
		want: []EnvVar{{"A", "a"}, {"B", "a-b"}, {"C", "$(LATER)$(A)"}, {"LATER", "l"}},
		args: []string{"a-b", "8080"},
	}, {
		name: "envFrom configMap and secret with prefix; invalid names skipped; env wins",
		spec: `
containers:
- image: x
  envFrom:
  - configMapRef: {name: app}
  - secretRef: {name: db}
    prefix: DB_
  - secretRef: {name: missing, optional: true}
  - configMapRef: {name: missing, optional: true}
  env: [{name: LEVEL, value: "$(LEVEL)!"}, {name: URL, value: "$(DB_user):$(DB_password)"}]`,
		want: []EnvVar{{"app.yaml", "a: 1\n"}, {"mode", "fast"}, {"DB_1bad", "x"}, {"DB_password", "s3cret"}, {"DB_user", "admin"},
			{"LEVEL", "debug!"}, {"URL", "admin:s3cret"}},
	}, {
		name: "envFrom without prefix skips a key starting with a digit",
		spec: `
containers:
- image: x
  envFrom: [{secretRef: {name: db}}]`,
		want: []EnvVar{{"password", "s3cret"}, {"user", "admin"}},
	}, {
		name: "valueFrom secretKeyRef and configMapKeyRef; optional misses leave the variable out",
		spec: `
containers:
- image: x
  env:
  - {name: PW, valueFrom: {secretKeyRef: {name: db, key: password}}}
  - {name: LEVEL, valueFrom: {configMapKeyRef: {name: app, key: LEVEL}}}
  - {name: NOKEY, valueFrom: {secretKeyRef: {name: db, key: nope, optional: true}}}
  - {name: NOSECRET, valueFrom: {secretKeyRef: {name: nope, key: k, optional: true}}}
  - {name: NOCMKEY, valueFrom: {configMapKeyRef: {name: app, key: nope, optional: true}}}
  - {name: NOCM, valueFrom: {configMapKeyRef: {name: nope, key: k, optional: true}}}
  - {name: REF, value: "$(PW)/$(NOKEY)"}`,
		want: []EnvVar{{"PW", "s3cret"}, {"LEVEL", "debug"}, {"REF", "s3cret/$(NOKEY)"}},
	}, {
		name: "fieldRef",
		spec: `
serviceAccountName: sa
containers:
- image: x
  env:
  - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
  - {name: NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
  - {name: UID, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}
  - {name: APP, valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}}
  - {name: NOTE, valueFrom: {fieldRef: {fieldPath: "metadata.annotations['note']"}}}
  - {name: NONE, valueFrom: {fieldRef: {fieldPath: "metadata.labels['none']"}}}
  - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
  - {name: SA, valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}}
  - {name: IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
  - {name: HOST, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}`,
		want: []EnvVar{{"NAME", "hello-00001-abcde"}, {"NS", "default"}, {"UID", "u-1"}, {"APP", "hello"}, {"NOTE", "hi"},
			{"NONE", ""}, {"NODE", "node1"}, {"SA", "sa"}, {"IP", "127.0.0.1"}, {"HOST", "127.0.0.1"}},
	}, {
		name: "resourceFieldRef: limits, requests defaulted to limits, node values, divisors rounding up",
		spec: `
containers:
- name: app
  image: x
  resources:
    limits: {cpu: 1500m, memory: 100Mi}
  env:
  - {name: LCPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
  - {name: LCPUM, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
  - {name: RCPU, valueFrom: {resourceFieldRef: {resource: requests.cpu}}}
  - {name: LMEM, valueFrom: {resourceFieldRef: {resource: limits.memory}}}
  - {name: LMEMMI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
  - {name: LMEMG, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1G}}}
  - {name: RMEM, valueFrom: {resourceFieldRef: {resource: requests.memory, divisor: 1Mi, containerName: app}}}`,
		want: []EnvVar{{"LCPU", "2"}, {"LCPUM", "1500"}, {"RCPU", "2"}, {"LMEM", "104857600"}, {"LMEMMI", "100"},
			{"LMEMG", "1"}, {"RMEM", "100"}},
	}, {
		name: "resourceFieldRef without limits: the node's; requests without either: 0",
		spec: `
containers:
- image: x
  resources:
    requests: {cpu: 250m}
  env:
  - {name: LCPU, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
  - {name: LMEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Gi}}}
  - {name: RCPU, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
  - {name: RCPU1, valueFrom: {resourceFieldRef: {resource: requests.cpu}}}
  - {name: RMEM, valueFrom: {resourceFieldRef: {resource: requests.memory}}}`,
		want: []EnvVar{{"LCPU", "4"}, {"LMEM", "8"}, {"RCPU", "250"}, {"RCPU1", "1"}, {"RMEM", "0"}},
	}, {
		name: "resourceFieldRef of another container",
		spec: `
containers:
- name: app
  image: x
  ports: [{containerPort: 8080}]
  env:
  - {name: SIDE, valueFrom: {resourceFieldRef: {resource: limits.memory, containerName: side, divisor: 1Mi}}}
- name: side
  image: y
  resources: {limits: {memory: 64Mi}}`,
		want: []EnvVar{{"SIDE", "64"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Resolve(revision(t, tc.spec), 8080, testPod, testObjects)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			want := append(append([]EnvVar(nil), tc.want...), knativeEnv...)
			if d := cmp.Diff(want, c.Env); d != "" {
				t.Errorf("env (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.args, c.Args); d != "" {
				t.Errorf("args (-want +got):\n%s", d)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	const cfg = "CreateContainerConfigError"
	for _, tc := range []struct {
		name, spec string
		want       *Error
	}{{
		name: "envFrom secret not found",
		spec: `{containers: [{image: x, envFrom: [{secretRef: {name: nope}}]}]}`,
		want: &Error{cfg, `secret "nope" not found`},
	}, {
		name: "envFrom configMap not found",
		spec: `{containers: [{image: x, envFrom: [{configMapRef: {name: nope}}]}]}`,
		want: &Error{cfg, `configmap "nope" not found`},
	}, {
		name: "secretKeyRef secret not found",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {secretKeyRef: {name: nope, key: k}}}]}]}`,
		want: &Error{cfg, `secret "nope" not found`},
	}, {
		name: "secretKeyRef key not found",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {secretKeyRef: {name: db, key: k}}}]}]}`,
		want: &Error{cfg, `couldn't find key k in Secret default/db`},
	}, {
		name: "configMapKeyRef configMap not found",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {configMapKeyRef: {name: nope, key: k}}}]}]}`,
		want: &Error{cfg, `configmap "nope" not found`},
	}, {
		name: "configMapKeyRef key not found",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {configMapKeyRef: {name: app, key: k}}}]}]}`,
		want: &Error{cfg, `couldn't find key k in ConfigMap default/app`},
	}, {
		name: "fieldRef unsupported",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.labels}}}]}]}`,
		want: &Error{cfg, `fieldRef "metadata.labels": unsupported field path`},
	}, {
		name: "fieldRef bad subscript",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {fieldRef: {fieldPath: "spec.x['k']"}}}]}]}`,
		want: &Error{cfg, `fieldRef "spec.x['k']": unsupported field path`},
	}, {
		name: "resourceFieldRef unsupported resource",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.ephemeral-storage}}}]}]}`,
		want: &Error{cfg, `resourceFieldRef "limits.ephemeral-storage": unsupported resource (limits.cpu, limits.memory, requests.cpu, requests.memory)`},
	}, {
		name: "resourceFieldRef unknown container",
		spec: `{containers: [{name: app, image: x, env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, containerName: nope}}}]}]}`,
		want: &Error{cfg, `resourceFieldRef limits.cpu: no container "nope"`},
	}, {
		name: "resourceFieldRef negative divisor",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: "-1"}}}]}]}`,
		want: &Error{cfg, `resourceFieldRef limits.cpu: divisor -1 must be positive`},
	}, {
		name: "valueFrom with no source",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {}}]}]}`,
		want: &Error{cfg, `valueFrom names no source`},
	}, {
		name: "mount of a volume that does not exist",
		spec: `{containers: [{name: app, image: x, volumeMounts: [{name: nope, mountPath: /x}]}]}`,
		want: &Error{cfg, `cannot find volume "nope" to mount into container "app"`},
	}, {
		name: "subPath leaving the volume",
		spec: `{volumes: [{name: d, emptyDir: {}}], containers: [{image: x, volumeMounts: [{name: d, mountPath: /x, subPath: ../etc}]}]}`,
		want: &Error{cfg, `volume mount "d": subPath "../etc" must be a relative path without '..'`},
	}, {
		name: "relative mountPath",
		spec: `{volumes: [{name: d, emptyDir: {}}], containers: [{image: x, volumeMounts: [{name: d, mountPath: x}]}]}`,
		want: &Error{cfg, `volume mount "d": mountPath "x" must be an absolute path`},
	}, {
		name: "hostPath volume",
		spec: `{volumes: [{name: h, hostPath: {path: /etc}}], containers: [{image: x, volumeMounts: [{name: h, mountPath: /x}]}]}`,
		want: &Error{"UnsupportedVolume", `volume "h": hostPath volumes cannot be provided on one machine (secret, configMap, projected, downwardAPI and emptyDir can)`},
	}, {
		name: "persistentVolumeClaim volume",
		spec: `{volumes: [{name: p, persistentVolumeClaim: {claimName: c}}], containers: [{image: x, volumeMounts: [{name: p, mountPath: /x}]}]}`,
		want: &Error{"UnsupportedVolume", `volume "p": persistentVolumeClaim volumes cannot be provided on one machine (secret, configMap, projected, downwardAPI and emptyDir can)`},
	}, {
		name: "secret volume: secret not found",
		spec: `{volumes: [{name: s, secret: {secretName: nope}}], containers: [{image: x, volumeMounts: [{name: s, mountPath: /x, readOnly: true}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "s" : secret "nope" not found`},
	}, {
		name: "secret volume: item key not found",
		spec: `{volumes: [{name: s, secret: {secretName: db, items: [{key: nope, path: p}]}}], containers: [{image: x, volumeMounts: [{name: s, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "s" : references non-existent secret key: nope`},
	}, {
		name: "configMap volume: configMap not found",
		spec: `{volumes: [{name: c, configMap: {name: nope}}], containers: [{image: x, volumeMounts: [{name: c, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "c" : configmap "nope" not found`},
	}, {
		name: "configMap volume: item key not found",
		spec: `{volumes: [{name: c, configMap: {name: app, items: [{key: nope, path: p}]}}], containers: [{image: x, volumeMounts: [{name: c, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "c" : configmap references non-existent config key: nope`},
	}, {
		name: "item path leaving the volume",
		spec: `{volumes: [{name: c, configMap: {name: app, items: [{key: mode, path: ../../etc/passwd}]}}], containers: [{image: x, volumeMounts: [{name: c, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "c" : item path "../../etc/passwd" must be a relative path without '..'`},
	}, {
		name: "absolute item path",
		spec: `{volumes: [{name: c, configMap: {name: app, items: [{key: mode, path: /etc/passwd}]}}], containers: [{image: x, volumeMounts: [{name: c, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "c" : item path "/etc/passwd" must be a relative path without '..'`},
	}, {
		name: "bad mode",
		spec: `{volumes: [{name: c, configMap: {name: app, defaultMode: 4095}}], containers: [{image: x, volumeMounts: [{name: c, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "c" : file mode 07777 must be between 0 and 0777`},
	}, {
		name: "projected secret not found",
		spec: `{volumes: [{name: p, projected: {sources: [{secret: {name: nope}}]}}], containers: [{image: x, volumeMounts: [{name: p, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "p" : secret "nope" not found`},
	}, {
		name: "projected downwardAPI unsupported field",
		spec: `{volumes: [{name: p, projected: {sources: [{downwardAPI: {items: [{path: ip, fieldRef: {fieldPath: status.podIP}}]}}]}}], containers: [{image: x, volumeMounts: [{name: p, mountPath: /x}]}]}`,
		want: &Error{"FailedMount", `MountVolume.SetUp failed for volume "p" : fieldRef "status.podIP": unsupported field path`},
	}, {
		name: "projected serviceAccountToken",
		spec: `{volumes: [{name: p, projected: {sources: [{serviceAccountToken: {path: token}}]}}], containers: [{image: x, volumeMounts: [{name: p, mountPath: /x}]}]}`,
		want: &Error{"UnsupportedVolume", `volume "p": a projected serviceAccountToken is issued by a Kubernetes API server, and there is none on one machine`},
	}, {
		name: "metadata.uid without a uid",
		spec: `{containers: [{image: x, env: [{name: A, valueFrom: {fieldRef: {fieldPath: metadata.uid}}}]}]}`,
		want: &Error{cfg, `fieldRef "metadata.uid": this runtime gives instances no uid`},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod
			if tc.name == "metadata.uid without a uid" {
				pod.UID = ""
			}
			_, err := Resolve(revision(t, tc.spec), 8080, pod, testObjects)
			pe, ok := err.(*Error)
			if !ok {
				t.Fatalf("Resolve: %v (%T), want *Error", err, err)
			}
			if d := cmp.Diff(tc.want, pe); d != "" {
				t.Errorf("error (-want +got):\n%s", d)
			}
		})
	}
}

func TestResolveVolumes(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		volumes    []Volume
		mounts     []Mount
	}{{
		name: "secret volume: every key, stringData over data, default mode",
		spec: `
volumes: [{name: s, secret: {secretName: db}}]
containers: [{image: x, volumeMounts: [{name: s, mountPath: /etc/db/, readOnly: false}]}]`,
		volumes: []Volume{{Name: "s", Files: []File{{"1bad", []byte("x"), 0o644}, {"password", []byte("s3cret"), 0o644}, {"user", []byte("admin"), 0o644}}}},
		mounts:  []Mount{{Volume: "s", Path: "/etc/db", ReadOnly: true}},
	}, {
		name: "secret volume: items with paths and modes over defaultMode",
		spec: `
volumes: [{name: s, secret: {secretName: db, defaultMode: 0400, items: [{key: password, path: creds/pw, mode: 0600}, {key: user, path: u}, {key: nope, path: nope}], optional: true}}]
containers: [{image: x, volumeMounts: [{name: s, mountPath: /etc/db, readOnly: true}]}]`,
		volumes: []Volume{{Name: "s", Files: []File{{"creds/pw", []byte("s3cret"), 0o600}, {"u", []byte("admin"), 0o400}}}},
		mounts:  []Mount{{Volume: "s", Path: "/etc/db", ReadOnly: true}},
	}, {
		name: "optional secret and configMap that do not exist: empty volumes",
		spec: `
volumes: [{name: s, secret: {secretName: nope, optional: true}}, {name: c, configMap: {name: nope, optional: true}}]
containers: [{image: x, volumeMounts: [{name: c, mountPath: /c}, {name: s, mountPath: /s}]}]`,
		volumes: []Volume{{Name: "s"}, {Name: "c"}},
		mounts:  []Mount{{Volume: "c", Path: "/c", ReadOnly: true}, {Volume: "s", Path: "/s", ReadOnly: true}},
	}, {
		name: "configMap volume with subPath and subPathExpr",
		spec: `
volumes: [{name: c, configMap: {name: app, items: [{key: app.yaml, path: app.yaml}]}}]
containers:
- image: x
  env: [{name: F, value: app.yaml}]
  volumeMounts: [{name: c, mountPath: /etc/app.yaml, subPath: app.yaml}, {name: c, mountPath: /etc/expr.yaml, subPathExpr: "$(F)"}]`,
		volumes: []Volume{{Name: "c", Files: []File{{"app.yaml", []byte("a: 1\n"), 0o644}}}},
		mounts: []Mount{{Volume: "c", Path: "/etc/app.yaml", SubPath: "app.yaml", ReadOnly: true},
			{Volume: "c", Path: "/etc/expr.yaml", SubPath: "app.yaml", ReadOnly: true}},
	}, {
		name: "projected: secret, configMap and downwardAPI with the projected defaultMode",
		spec: `
volumes:
- name: p
  projected:
    defaultMode: 0440
    sources:
    - secret: {name: db, items: [{key: password, path: db/password}]}
    - configMap: {name: app, items: [{key: mode, path: mode, mode: 0600}]}
    - downwardAPI:
        items:
        - {path: labels, fieldRef: {fieldPath: metadata.labels}}
        - {path: annotations, fieldRef: {fieldPath: metadata.annotations}}
        - {path: name, fieldRef: {fieldPath: metadata.name}}
        - {path: app, fieldRef: {fieldPath: "metadata.labels['app']"}}
        - {path: mem, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
containers: [{name: app, image: x, resources: {limits: {memory: 256Mi}}, volumeMounts: [{name: p, mountPath: /p}]}]`,
		volumes: []Volume{{Name: "p", Files: []File{
			{"annotations", []byte(`note="hi"`), 0o440},
			{"app", []byte("hello"), 0o440},
			{"db/password", []byte("s3cret"), 0o440},
			{"labels", []byte("app=\"hello\"\ntier=\"web\""), 0o440},
			{"mem", []byte("256"), 0o440},
			{"mode", []byte("fast"), 0o600},
			{"name", []byte("hello-00001-abcde"), 0o440},
		}}},
		mounts: []Mount{{Volume: "p", Path: "/p", ReadOnly: true}},
	}, {
		name: "emptyDir: medium and size; writable unless the mount is readOnly; unmounted volumes left out",
		spec: `
volumes:
- {name: unused, hostPath: {path: /}}
- {name: tmp, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
- {name: cache, emptyDir: {}}
containers: [{image: x, volumeMounts: [{name: tmp, mountPath: /tmp}, {name: cache, mountPath: /cache, readOnly: true}]}]`,
		volumes: []Volume{{Name: "tmp", EmptyDir: true, Medium: "Memory", SizeLimit: 64 << 20}, {Name: "cache", EmptyDir: true}},
		mounts:  []Mount{{Volume: "tmp", Path: "/tmp"}, {Volume: "cache", Path: "/cache", ReadOnly: true}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Resolve(revision(t, tc.spec), 8080, testPod, testObjects)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if d := cmp.Diff(tc.volumes, c.Volumes); d != "" {
				t.Errorf("volumes (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.mounts, c.Mounts); d != "" {
				t.Errorf("mounts (-want +got):\n%s", d)
			}
		})
	}
}
