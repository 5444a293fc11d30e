package queueproxy

import (
	"strings"
	"testing"
)

func TestSmokeProxyAndProbe(t *testing.T) {
	q := startQP(t, testEnv(startApp(t)))
	waitReady(t, q)
	code, body := get(t, nil, q.url(q.HTTP, "/?status=201"))
	if code != 201 || !strings.Contains(body, "Hello test!") {
		t.Fatalf("got %d %q", code, body)
	}
	code, body = get(t, nil, q.url(q.HTTP, "/"), "K-Network-Probe", "queue")
	if code != 200 || body != "queue" {
		t.Fatalf("probe: got %d %q", code, body)
	}
	q.stop(t)
}
