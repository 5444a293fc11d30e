package docker

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/gantry-dev/gantry/api"
	"github.com/google/go-containerregistry/pkg/authn"
)

// Secret types and keys of registry credentials, as in Kubernetes.
const (
	secretDockerConfigJSON = "kubernetes.io/dockerconfigjson"
	keyDockerConfigJSON    = ".dockerconfigjson"
	secretDockercfg        = "kubernetes.io/dockercfg"
	keyDockercfg           = ".dockercfg"
)

// keychain is where credentials for rev's images come from: its
// imagePullSecrets first (as the kubelet tries them), then the Docker
// config file (credential helpers included).
func (b *Backend) keychain(rev *api.Revision) authn.Keychain {
	var kcs []authn.Keychain
	for _, ref := range rev.Spec.ImagePullSecrets {
		if b.o.Lookup == nil {
			break
		}
		s, ok := b.o.Lookup.Secret(rev.Namespace, ref.Name)
		if !ok {
			b.log.Warn("imagePullSecret not found", "namespace", rev.Namespace, "secret", ref.Name, "revision", rev.Name)
			continue
		}
		kc, err := secretKeychain(s)
		if err != nil {
			b.log.Warn("imagePullSecret unusable", "namespace", rev.Namespace, "secret", ref.Name, "err", err)
			continue
		}
		kcs = append(kcs, kc)
	}
	if b.o.DockerConfigDir != "" {
		kcs = append(kcs, configDirKeychain{b.o.DockerConfigDir})
	} else {
		kcs = append(kcs, authn.DefaultKeychain)
	}
	return authn.NewMultiKeychain(kcs...)
}

// dockerConfig is the auths part of a Docker config file.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

// secretKeychain reads a kubernetes.io/dockerconfigjson (or legacy
// dockercfg) Secret.
func secretKeychain(s *api.Secret) (authn.Keychain, error) {
	get := func(k string) []byte {
		if v, ok := s.StringData[k]; ok {
			return []byte(v)
		}
		return s.Data[k]
	}
	var cfg dockerConfig
	switch s.Type {
	case secretDockerConfigJSON:
		if err := json.Unmarshal(get(keyDockerConfigJSON), &cfg); err != nil {
			return nil, fmt.Errorf("secret %s: %s: %w", s.Name, keyDockerConfigJSON, err)
		}
	case secretDockercfg:
		if err := json.Unmarshal(get(keyDockercfg), &cfg.Auths); err != nil {
			return nil, fmt.Errorf("secret %s: %s: %w", s.Name, keyDockercfg, err)
		}
	default:
		return nil, fmt.Errorf("secret %s has type %q, want %s", s.Name, s.Type, secretDockerConfigJSON)
	}
	return authsKeychain(cfg.Auths), nil
}

// authsKeychain answers from a map of registry to credentials.
type authsKeychain map[string]dockerAuth

func (a authsKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	reg := r.RegistryStr()
	for k, v := range a {
		if registryHost(k) != reg {
			continue
		}
		cfg := authn.AuthConfig{Username: v.Username, Password: v.Password}
		if v.Auth != "" && cfg.Username == "" {
			raw, err := base64.StdEncoding.DecodeString(v.Auth)
			if err != nil {
				return nil, fmt.Errorf("auth for %s: %w", k, err)
			}
			cfg.Username, cfg.Password, _ = strings.Cut(string(raw), ":")
		}
		return authn.FromConfig(cfg), nil
	}
	return authn.Anonymous, nil
}

// registryHost normalizes a config key ("https://index.docker.io/v1/",
// "127.0.0.1:5000") to the registry name go-containerregistry uses.
func registryHost(k string) string {
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k, _, _ = strings.Cut(k, "/")
	switch k {
	case "docker.io", "registry-1.docker.io", "index.docker.io":
		return "index.docker.io"
	}
	return k
}

// configDirKeychain reads DIR/config.json (tests; users get DefaultKeychain,
// which also runs credential helpers).
type configDirKeychain struct{ dir string }

func (c configDirKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	cfg, err := readDockerConfig(c.dir)
	if err != nil {
		return nil, err
	}
	return authsKeychain(cfg.Auths).Resolve(r)
}

func readDockerConfig(dir string) (dockerConfig, error) {
	var cfg dockerConfig
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, nil
	}
	if err != nil {
		return cfg, fmt.Errorf("docker config: %w", err)
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return cfg, fmt.Errorf("docker config %s: %w", filepath.Join(dir, "config.json"), err)
	}
	return cfg, nil
}
