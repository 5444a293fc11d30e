package podspec

import (
	"fmt"
	"os"
	"path"

	"strings"

	"github.com/gantry-dev/gantry/api"
	corev1 "k8s.io/api/core/v1"
)

// defaultMode is Kubernetes' default file mode in secret, configMap,
// projected and downwardAPI volumes.
const defaultMode = 0o644

// mountError is how the kubelet reports a volume it cannot set up.
func mountError(volume, format string, a ...any) *Error {
	return &Error{Reason: "FailedMount", Message: fmt.Sprintf("MountVolume.SetUp failed for volume %q : %s", volume, fmt.Sprintf(format, a...))}
}

// resolveVolumes fills out.Volumes (in the pod's order, each once) and
// out.Mounts (in the container's order) for the volumes c mounts.
func resolveVolumes(rev *api.Revision, c *corev1.Container, out *Container, pod Pod, lk Lookup) error {
	byName := make(map[string]*corev1.Volume, len(rev.Spec.Volumes))
	for i := range rev.Spec.Volumes {
		byName[rev.Spec.Volumes[i].Name] = &rev.Spec.Volumes[i]
	}
	used := map[string]bool{}
	for _, m := range c.VolumeMounts {
		v, ok := byName[m.Name]
		if !ok {
			return configError("cannot find volume %q to mount into container %q", m.Name, c.Name)
		}
		used[m.Name] = true
		sub := m.SubPath
		if m.SubPathExpr != "" {
			sub = Expand(m.SubPathExpr, EnvMap(out.Env))
		}
		if sub != "" && !relativePath(sub) {
			return configError("volume mount %q: subPath %q must be a relative path without '..'", m.Name, sub)
		}
		if !path.IsAbs(m.MountPath) {
			return configError("volume mount %q: mountPath %q must be an absolute path", m.Name, m.MountPath)
		}
		s := v.VolumeSource
		// The kubelet mounts these read-only whatever the mount says.
		ro := m.ReadOnly || s.Secret != nil || s.ConfigMap != nil || s.Projected != nil || s.DownwardAPI != nil
		out.Mounts = append(out.Mounts, Mount{Volume: m.Name, Path: path.Clean(m.MountPath), SubPath: sub, ReadOnly: ro})
	}
	for i := range rev.Spec.Volumes {
		v := &rev.Spec.Volumes[i]
		if !used[v.Name] {
			continue
		}
		vol, err := resolveVolume(rev, c, v, pod, lk)
		if err != nil {
			return err
		}
		out.Volumes = append(out.Volumes, vol)
	}
	return nil
}

// relativePath reports whether p stays inside the folder it is joined to.
func relativePath(p string) bool {
	if p == "" || path.IsAbs(p) {
		return false
	}
	for _, el := range strings.Split(p, "/") {
		if el == ".." {
			return false
		}
	}
	return true
}

func resolveVolume(rev *api.Revision, c *corev1.Container, v *corev1.Volume, pod Pod, lk Lookup) (Volume, error) {
	out := Volume{Name: v.Name}
	files := map[string]File{}
	s := v.VolumeSource
	var err error
	switch {
	case s.EmptyDir != nil:
		out.EmptyDir, out.Medium = true, string(s.EmptyDir.Medium)
		if s.EmptyDir.SizeLimit != nil {
			out.SizeLimit = s.EmptyDir.SizeLimit.Value()
		}
		return out, nil
	case s.Secret != nil:
		err = secretFiles(rev.Namespace, v.Name, s.Secret.SecretName, s.Secret.Items, s.Secret.DefaultMode, isTrue(s.Secret.Optional), lk, files)
	case s.ConfigMap != nil:
		err = configMapFiles(rev.Namespace, v.Name, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.DefaultMode, isTrue(s.ConfigMap.Optional), lk, files)
	case s.DownwardAPI != nil:
		err = downwardFiles(rev, c, v.Name, s.DownwardAPI.Items, s.DownwardAPI.DefaultMode, pod, files)
	case s.Projected != nil:
		err = projectedFiles(rev, c, v.Name, s.Projected, pod, lk, files)
	default:
		return out, &Error{Reason: "UnsupportedVolume", Message: fmt.Sprintf(
			"volume %q: %s volumes cannot be provided on one machine (secret, configMap, projected, downwardAPI and emptyDir can)", v.Name, volumeType(s))}
	}
	if err != nil {
		return out, err
	}
	for _, p := range sortedKeys(files) {
		out.Files = append(out.Files, files[p])
	}
	return out, nil
}

// volumeType names the source set in s, for messages.
func volumeType(s corev1.VolumeSource) string {
	for _, t := range []struct {
		name string
		set  bool
	}{{"hostPath", s.HostPath != nil}, {"persistentVolumeClaim", s.PersistentVolumeClaim != nil},
		{"csi", s.CSI != nil}, {"ephemeral", s.Ephemeral != nil}, {"image", s.Image != nil},
		{"nfs", s.NFS != nil}, {"iscsi", s.ISCSI != nil}, {"gitRepo", s.GitRepo != nil}} {
		if t.set {
			return t.name
		}
	}
	return "this type of"
}

// fileMode is mode (an item's, else the volume's default, else 0644),
// checked as the API server checks it.
func fileMode(volume string, mode, def *int32) (os.FileMode, error) {
	m := int32(defaultMode)
	if def != nil {
		m = *def
	}
	if mode != nil {
		m = *mode
	}
	if m < 0 || m > 0o777 {
		return 0, mountError(volume, "file mode %#o must be between 0 and 0777", m)
	}
	return os.FileMode(m), nil
}

// keyFiles adds data's keys to files: all of them, or the items, each at
// its path. A missing item key fails unless optional, with missingKey's
// wording.
func keyFiles(volume string, data map[string][]byte, items []corev1.KeyToPath, def *int32, optional bool, missingKey string, files map[string]File) error {
	if len(items) == 0 {
		mode, err := fileMode(volume, nil, def)
		if err != nil {
			return err
		}
		for k, d := range data {
			if !relativePath(k) {
				return mountError(volume, "key %q is not a file name", k)
			}
			files[k] = File{Path: k, Data: d, Mode: mode}
		}
		return nil
	}
	for _, it := range items {
		d, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return mountError(volume, "%s: %s", missingKey, it.Key)
		}
		if !relativePath(it.Path) {
			return mountError(volume, "item path %q must be a relative path without '..'", it.Path)
		}
		mode, err := fileMode(volume, it.Mode, def)
		if err != nil {
			return err
		}
		p := path.Clean(it.Path)
		files[p] = File{Path: p, Data: d, Mode: mode}
	}
	return nil
}

func secretFiles(ns, volume, name string, items []corev1.KeyToPath, def *int32, optional bool, lk Lookup, files map[string]File) error {
	s, ok := lk.Secret(ns, name)
	if !ok {
		if optional {
			return nil
		}
		return mountError(volume, "%s", secretNotFound(name))
	}
	return keyFiles(volume, SecretData(s), items, def, optional, "references non-existent secret key", files)
}

func configMapFiles(ns, volume, name string, items []corev1.KeyToPath, def *int32, optional bool, lk Lookup, files map[string]File) error {
	cm, ok := lk.ConfigMap(ns, name)
	if !ok {
		if optional {
			return nil
		}
		return mountError(volume, "%s", configMapNotFound(name))
	}
	data := make(map[string][]byte, len(cm.Data))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	return keyFiles(volume, data, items, def, optional, "configmap references non-existent config key", files)
}

func downwardFiles(rev *api.Revision, c *corev1.Container, volume string, items []corev1.DownwardAPIVolumeFile, def *int32, pod Pod, files map[string]File) error {
	for _, it := range items {
		if !relativePath(it.Path) {
			return mountError(volume, "item path %q must be a relative path without '..'", it.Path)
		}
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = fieldValue(it.FieldRef.FieldPath, pod, false)
		case it.ResourceFieldRef != nil:
			v, err = resourceValue(rev, c, it.ResourceFieldRef, pod)
		default:
			err = fmt.Errorf("item %q names neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return mountError(volume, "%v", err)
		}
		mode, err := fileMode(volume, it.Mode, def)
		if err != nil {
			return err
		}
		p := path.Clean(it.Path)
		files[p] = File{Path: p, Data: []byte(v), Mode: mode}
	}
	return nil
}

func projectedFiles(rev *api.Revision, c *corev1.Container, volume string, p *corev1.ProjectedVolumeSource, pod Pod, lk Lookup, files map[string]File) error {
	def := p.DefaultMode
	for _, src := range p.Sources {
		var err error
		switch {
		case src.Secret != nil:
			err = secretFiles(rev.Namespace, volume, src.Secret.Name, src.Secret.Items, def, isTrue(src.Secret.Optional), lk, files)
		case src.ConfigMap != nil:
			err = configMapFiles(rev.Namespace, volume, src.ConfigMap.Name, src.ConfigMap.Items, def, isTrue(src.ConfigMap.Optional), lk, files)
		case src.DownwardAPI != nil:
			err = downwardFiles(rev, c, volume, src.DownwardAPI.Items, def, pod, files)
		case src.ServiceAccountToken != nil:
			// An empty or made-up token would fail later, far from here.
			return &Error{Reason: "UnsupportedVolume", Message: fmt.Sprintf(
				"volume %q: a projected serviceAccountToken is issued by a Kubernetes API server, and there is none on one machine", volume)}
		case src.ClusterTrustBundle != nil:
			return &Error{Reason: "UnsupportedVolume", Message: fmt.Sprintf(
				"volume %q: a projected clusterTrustBundle needs a Kubernetes API server, and there is none on one machine", volume)}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
