package docker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/podspec"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/gantry-dev/gantry/controller/runtime"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"
	corev1 "k8s.io/api/core/v1"
)

// Failed preparations are retried by the supervisor's back-off; a success is
// kept for the revision's life.
const prepareRetryAfter = time.Second

// Prepare implements runtime.Backend: the image is resolved to a digest once
// per revision (unless its registry skips tag resolution, or the revision's
// status already names a digest) and pulled as the pull policy says. Every
// instance of the revision then runs the same image ID.
func (b *Backend) Prepare(ctx context.Context, rev *api.Revision, c *podspec.Container, progress func(string)) (runtime.Prepared, error) {
	k := rev.Namespace + "/" + rev.Name + "|" + string(rev.UID) + "|" + c.Image
	b.mu.Lock()
	call := b.prepared[k]
	if call != nil {
		select {
		case <-call.done:
			if call.err != nil && time.Since(call.at) > prepareRetryAfter {
				call = nil // try again
			}
		default:
		}
	}
	if call == nil {
		call = &prepareCall{done: make(chan struct{})}
		b.prepared[k] = call
		b.mu.Unlock()
		call.res, call.err = b.prepare(ctx, rev, c, progress)
		call.at = time.Now()
		close(call.done)
		return call.res, call.err
	}
	b.mu.Unlock()
	select {
	case <-call.done:
		return call.res, call.err
	case <-ctx.Done():
		return runtime.Prepared{}, ctx.Err()
	}
}

// Forget drops what Prepare kept for revisions not in keep ("ns/name").
func (b *Backend) Forget(keep map[string]bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.prepared {
		if !keep[k[:strings.IndexByte(k, '|')]] {
			delete(b.prepared, k)
		}
	}
}

func (b *Backend) prepare(ctx context.Context, rev *api.Revision, c *podspec.Container, progress func(string)) (runtime.Prepared, error) {
	if c.Image == "" {
		return runtime.Prepared{}, &runtime.Error{Reason: "NoImage", Permanent: true,
			Message: "container " + c.Name + " has no image: the docker runtime runs images (gantry up --runtime process runs commands)"}
	}
	if isSampleAppImage(c.Image) {
		return b.sampleAppImage(ctx, progress)
	}
	ref, err := name.ParseReference(c.Image)
	if err != nil {
		return runtime.Prepared{}, &runtime.Error{Reason: "InvalidImageName", Permanent: true,
			Message: fmt.Sprintf("image %q: %v", c.Image, err)}
	}
	kc := b.keychain(rev)
	policy := c.ImagePullPolicy
	var out runtime.Prepared

	// A digest resolved earlier (kept in the revision's status) wins: every
	// instance, also after a restart, runs the same image.
	digest := knownDigest(rev, c.Name)
	if _, isDigest := ref.(name.Digest); isDigest {
		digest = ref.String()
	}

	// IfNotPresent and Never use a local image as it is, so that an image
	// built with `docker build` and never pushed runs.
	if policy != corev1.PullAlways {
		if img, err := b.cli.ImageInspect(ctx, orElse(digest, c.Image)); err == nil {
			out.Image = img.ID
			out.Digest = orElse(digest, repoDigest(img.RepoDigests, ref))
			if out.Digest == "" {
				out.Notes = append(out.Notes, fmt.Sprintf("image %s is local with no registry digest; instances run image %s", c.Image, shortID(img.ID)))
			}
			return out, nil
		} else if !cerrdefs.IsNotFound(err) {
			return out, engineError(err)
		}
		if policy == corev1.PullNever {
			return out, &runtime.Error{Reason: "ErrImageNeverPull", Permanent: true,
				Message: fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)}
		}
	}

	pullRef := c.Image
	switch {
	case digest != "":
		pullRef = digest
	case b.o.Deployment().RegistriesSkippingTagResolving[ref.Context().RegistryStr()]:
		// Knative runs such images by tag.
	default:
		rctx, cancel := context.WithTimeout(ctx, b.o.Deployment().DigestResolutionTimeout)
		desc, err := remote.Head(ref, remote.WithAuthFromKeychain(kc), remote.WithContext(rctx))
		cancel()
		if err != nil {
			return out, &runtime.Error{Reason: "ContainerMissing", Err: err,
				Message: fmt.Sprintf("Unable to fetch image %q: failed to resolve image to digest: %v", c.Image, registryError(err))}
		}
		digest = ref.Context().Digest(desc.Digest.String()).String()
		pullRef = digest
	}
	if err := b.pull(ctx, pullRef, ref, kc, progress); err != nil {
		return out, err
	}
	img, err := b.cli.ImageInspect(ctx, pullRef)
	if err != nil {
		return out, engineError(err)
	}
	out.Image, out.Digest = img.ID, digest
	return out, nil
}

// pull pulls ref through the engine with the registry's credentials,
// reporting progress at most twice a second.
func (b *Backend) pull(ctx context.Context, pullRef string, ref name.Reference, kc authn.Keychain, progress func(string)) error {
	auth, err := registryAuth(ref, kc)
	if err != nil {
		return &runtime.Error{Reason: "ErrImagePull", Message: fmt.Sprintf("credentials for %s: %v", ref.Context().RegistryStr(), err), Err: err}
	}
	b.log.Info("pulling image", "image", pullRef)
	resp, err := b.cli.ImagePull(ctx, pullRef, client.ImagePullOptions{RegistryAuth: auth})
	if err != nil {
		return &runtime.Error{Reason: "ErrImagePull", Err: err, Message: fmt.Sprintf("pull %s: %v", pullRef, err)}
	}
	defer resp.Close()
	last := time.Time{}
	for m, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return &runtime.Error{Reason: "ErrImagePull", Err: err, Message: fmt.Sprintf("pull %s: %v", pullRef, err)}
		}
		if m.Error != nil {
			return &runtime.Error{Reason: "ErrImagePull", Message: fmt.Sprintf("pull %s: %s", pullRef, m.Error.Message)}
		}
		if progress != nil && time.Since(last) > 500*time.Millisecond {
			line := strings.TrimSpace(m.ID + " " + m.Status)
			if m.Progress != nil && m.Progress.Total > 0 {
				line += fmt.Sprintf(" %d/%d MB", m.Progress.Current>>20, m.Progress.Total>>20)
			}
			progress(pullRef + ": " + line)
			b.log.Info("pull progress", "image", pullRef, "status", line)
			last = time.Now()
		}
	}
	return nil
}

// registryAuth is the engine's X-Registry-Auth for ref's registry.
func registryAuth(ref name.Reference, kc authn.Keychain) (string, error) {
	a, err := kc.Resolve(ref.Context())
	if err != nil || a == authn.Anonymous {
		return "", err
	}
	cfg, err := a.Authorization()
	if err != nil {
		return "", err
	}
	return authconfig.Encode(registry.AuthConfig{Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
		IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken, ServerAddress: ref.Context().RegistryStr()})
}

// knownDigest is the digest the revision's status names for container, if any.
func knownDigest(rev *api.Revision, container string) string {
	for _, s := range rev.Status.ContainerStatuses {
		if s.Name == container && reconcile.IsDigest(s.ImageDigest) {
			return s.ImageDigest
		}
	}
	return ""
}

// repoDigest picks the repo digest of ref's repository.
func repoDigest(digests []string, ref name.Reference) string {
	repo := ref.Context().Name()
	for _, d := range digests {
		r, err := name.NewDigest(d)
		if err == nil && r.Context().Name() == repo {
			return r.String()
		}
	}
	return ""
}

func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// registryError shortens what go-containerregistry says of a failed request.
func registryError(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "UNAUTHORIZED"), strings.Contains(s, "401"):
		return "unauthorized: the registry refused the credentials (check ~/.docker/config.json or the revision's imagePullSecrets): " + s
	case strings.Contains(s, "MANIFEST_UNKNOWN"), strings.Contains(s, "NAME_UNKNOWN"), strings.Contains(s, "404"):
		return "not found: " + s
	case strings.Contains(s, "connection refused"), strings.Contains(s, "no such host"), strings.Contains(s, "i/o timeout"),
		errors.Is(err, context.DeadlineExceeded):
		return "registry unreachable: " + s
	}
	return s
}

// engineError wraps an Engine API failure.
func engineError(err error) error {
	return &runtime.Error{Reason: "RuntimeError", Err: err, Message: fmt.Sprintf("docker engine: %v", err)}
}

func isNotFound(err error) bool { return cerrdefs.IsNotFound(err) }
