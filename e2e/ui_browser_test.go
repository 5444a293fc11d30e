package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumBinary finds Debian's chromium, failing when tools are required.
func chromiumBinary(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("GANTRY_REQUIRE_TOOLS") == "1" {
		t.Fatalf("chromium not found (Debian package chromium; ./test.sh installs it)")
	}
	t.Skip("chromium not installed; run ./test.sh")
	return ""
}

// browser starts a headless Chromium with an empty profile and nothing that
// phones home, and returns a context to run chromedp actions in.
func browser(t *testing.T) context.Context {
	bin := chromiumBinary(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000), // the services table must fit 1280 px
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// eval navigates to url (when not empty) and evaluates js there.
func eval[T any](t *testing.T, ctx context.Context, url, js string) (T, error) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if url != "" {
		if err := chromedp.Do(cctx, chromedp.Navigate(url)); err != nil {
			var zero T
			return zero, err
		}
	}
	return chromedp.Run(cctx, chromedp.Evaluate[T](js))
}

// screenshot saves the page at url as name under $GANTRY_UI_SCREENSHOTS (the
// README's images: GANTRY_UI_SCREENSHOTS=$PWD/docs GANTRY_UI_SCREENSHOT_DELAY=4m
// go test ./e2e -run TestUIInBrowser), or a temporary directory.
func screenshot(t *testing.T, ctx context.Context, dir, url, name string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if url != "" {
		if err := chromedp.Do(cctx, chromedp.Navigate(url)); err != nil {
			t.Fatalf("navigate %s: %v", url, err)
		}
	}
	png, err := chromedp.Run(cctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", url, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// pollPage reloads url until js evaluates to "" (all is well), or fails with
// the last message js returned.
func pollPage(t *testing.T, ctx context.Context, timeout time.Duration, url, js string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		msg, err := eval[string](t, ctx, url, js)
		if err == nil && msg == "" {
			return
		}
		if err != nil {
			msg = err.Error()
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("%s after %s: %s", url, timeout, last)
		}
		time.Sleep(2 * time.Second)
	}
}

// TestUIInBrowser is issue 7's browser acceptance: headless Chromium against
// `gantry up --demo` with load running.
func TestUIInBrowser(t *testing.T) {
	ctx := browser(t)
	shots := os.Getenv("GANTRY_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	s := startStack(t, "", "--demo", "--scrape-interval", "1s", "--rule-interval", "1s", "--alert-for", "-1s")
	base := "http://" + s.ui

	// The first minute, as a newcomer: the services page is open (auto-refresh
	// at its default) when a new service gets its first requests; its request
	// and success rates show within 15 s, with no reload.
	if _, err := eval[string](t, ctx, base+"/", `document.title`); err != nil {
		t.Fatal(err)
	}
	if refresh, err := eval[string](t, ctx, "", `document.querySelector('[data-refresh]').value`); err != nil || refresh != "5" {
		t.Errorf("auto-refresh defaults to %q (%v), want 5 s", refresh, err)
	}
	s.mustGantry("", "service", "create", "fresh", "--image", "gantry/sample-app", "--no-wait")
	first := time.Now()
	s.waitServing("fresh.default.localhost", "fresh-00001")
	lctx0, stop0 := context.WithCancel(context.Background())
	var wg0 sync.WaitGroup
	t.Cleanup(func() { stop0(); wg0.Wait() })
	wg0.Add(1)
	go func() {
		defer wg0.Done()
		for lctx0.Err() == nil {
			s.request("fresh.default.localhost", "/")
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for {
		msg, err := eval[string](t, ctx, "", `(() => {
			const r = document.querySelector('tr[data-name="default/fresh"]');
			if (!r) return 'no row for default/fresh';
			const [rate, success] = [...r.querySelectorAll('td.num')].map(td => td.getAttribute('data-v'));
			if (!(parseFloat(rate) > 0)) return 'no request rate yet';
			if (!(parseFloat(success) > 0)) return 'no success rate yet';
			return '';
		})()`)
		if err == nil && msg == "" {
			took := time.Since(first)
			t.Logf("live numbers %.1f s after the first requests", took.Seconds())
			if took > 15*time.Second {
				t.Errorf("request and success rates showed %.1f s after the first requests, want within 15 s", took.Seconds())
			}
			break
		}
		if time.Since(first) > time.Minute {
			t.Fatalf("no live numbers a minute after the first requests: %v %s", err, msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: checkout
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
`, "apply", "-f", "-")
	s.waitServing("hello.default.localhost", "Hello")
	s.waitServing("checkout.default.localhost", "checkout-00001")

	// Load on hello and checkout for the rest of the test (the demo adds its own).
	lctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	for _, host := range []string{"hello.default.localhost", "checkout.default.localhost"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for lctx.Err() == nil {
				req, _ := http.NewRequestWithContext(lctx, http.MethodGet, "http://"+s.gateway+"/?sleep=5&cpu=2", nil)
				req.Host = host
				if resp, err := client.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}

	// GANTRY_UI_SCREENSHOT_DELAY=4m gives the sparklines some history before
	// the screenshots (for the README's images).
	if d, err := time.ParseDuration(os.Getenv("GANTRY_UI_SCREENSHOT_DELAY")); err == nil && d > 0 {
		time.Sleep(d)
	}

	// The page is accessible: every control has a label, the table headers
	// are scoped, and keyboard focus lands on the first link after "skip".
	a11y, err := eval[string](t, ctx, base+"/", `(() => {
		const bad = [...document.querySelectorAll('input:not([type=hidden]), select')].filter(e => !e.labels || e.labels.length === 0);
		if (bad.length) return 'unlabelled: ' + bad.map(e => e.outerHTML).join(' ');
		if (document.querySelectorAll('th:not([scope])').length) return 'th without scope';
		if (!document.documentElement.lang) return 'no lang';
		return '';
	})()`)
	if err != nil || a11y != "" {
		t.Errorf("services page accessibility: %v %s", err, a11y)
	}

	// Services page: hello has a request rate, a success rate, a p99 latency
	// and CPU per request. The metric columns need the metrics engine wired
	// into the UI (ui.Options.Querier).
	pollPage(t, ctx, 2*time.Minute, base+"/", `(() => {
		const r = document.querySelector('tr[data-name="default/hello"]');
		if (!r) return 'no row for default/hello';
		const v = [...r.querySelectorAll('td.num')].map(td => td.getAttribute('data-v'));
		const text = [...r.querySelectorAll('td.num .v')].map(e => e.textContent);
		const [rate, success, p50, p95, p99, errs, inst, cpu, cost] = v;
		if (!(parseFloat(rate) > 0)) return 'request rate ' + text[0];
		if (success === '' || !(parseFloat(success) > 0)) return 'success rate ' + text[1];
		if (!(parseFloat(p99) > 0)) return 'p99 ' + text[4];
		if (!(parseFloat(cpu) > 0)) return 'CPU per request ' + text[7];
		if (!r.querySelector('svg.spark path')) return 'no sparkline';
		return '';
	})()`)
	screenshot(t, ctx, shots, "", "ui-services.png")
	fits(t, ctx)
	if picked, err := eval[string](t, ctx, "", `[...document.querySelectorAll('nav.ranges a')].map(a => a.textContent).join(' ')`); err != nil || picked != "5m 15m 1h 6h 24h" {
		t.Errorf("services page range picker %q (%v)", picked, err)
	}

	// The client-side filter hides rows without a reload.
	filtered, err := eval[string](t, ctx, "", `(() => {
		const q = document.querySelector('[data-filter]');
		q.value = 'checkout'; q.dispatchEvent(new Event('input'));
		const shown = [...document.querySelectorAll('tbody tr')].filter(r => !r.hidden).map(r => r.dataset.name);
		q.value = ''; q.dispatchEvent(new Event('input'));
		return shown.join(',');
	})()`)
	if err != nil || filtered != "default/checkout" {
		t.Errorf("filter 'checkout' shows %q (%v)", filtered, err)
	}

	// Service page: all its charts render, with data.
	pollPage(t, ctx, time.Minute, base+"/services/default/hello", `(() => {
		const figs = [...document.querySelectorAll('figure.chart-box')];
		if (figs.length < 8) return figs.length + ' charts';
		for (const f of figs) {
			const svg = f.querySelector('svg.chart');
			if (!svg || svg.getBoundingClientRect().width < 200) return 'chart ' + f.id + ' not drawn';
		}
		for (const id of ['requests', 'latency', 'pods']) {
			const d = [...document.querySelectorAll('#chart-' + id + ' path.line')].map(p => p.getAttribute('d')).join('');
			if (!d) return 'no data in chart ' + id;
		}
		if (!document.querySelector('a[href="/revisions/default/hello-00001"]')) return 'no revision link';
		const picked = [...document.querySelectorAll('nav.ranges a')].map(a => a.textContent).join(' ');
		if (picked !== '5m 15m 1h 6h 24h') return 'range picker: ' + picked;
		return '';
	})()`)
	screenshot(t, ctx, shots, "", "ui-service.png")

	// Revision page: its instances and autoscaler state.
	pollPage(t, ctx, 30*time.Second, base+"/revisions/default/hello-00001", `(() => {
		const body = document.body.textContent;
		if (!/ready/.test(document.querySelector('#inst-h').parentNode.textContent)) return 'no ready instance';
		if (!document.querySelector('details.log')) return 'no log tail';
		if (!/stable concurrency/.test(body)) return 'no autoscaler state';
		return '';
	})()`)
	screenshot(t, ctx, shots, "", "ui-revision.png")

	// A new revision of checkout fails half its requests: its alert shows up
	// on the alerts page and marks the service's row.
	s.mustGantry(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: checkout
spec:
  template:
    spec:
      containers:
        - image: gantry/sample-app
          env: [{name: ERROR_RATE, value: "0.5"}]
`, "apply", "-f", "-")
	pollPage(t, ctx, 2*time.Minute, base+"/alerts", `(() => {
		const rows = [...document.querySelectorAll('table.alerts tbody tr')];
		const hit = rows.find(r => /GantryRevisionHigh5xxRatio/.test(r.textContent) && /checkout-00002/.test(r.textContent) && r.querySelector('.badge.firing'));
		return hit ? '' : 'no firing GantryRevisionHigh5xxRatio for checkout-00002 among ' + rows.length + ' alerts';
	})()`)
	screenshot(t, ctx, shots, "", "ui-alerts.png")
	marked, err := eval[bool](t, ctx, base+"/", `!!document.querySelector('tr.alerting[data-name="default/checkout"] .badge.firing')`)
	if err != nil || !marked {
		t.Errorf("services page does not mark checkout as alerting (%v)", err)
	}
	// One badge per alert: the burn-rate alert fires with two severities.
	dups, err := eval[string](t, ctx, "", `(() => {
		const seen = {}, dup = [];
		for (const b of document.querySelectorAll('tr[data-name="default/checkout"] .badge')) {
			const k = b.textContent.replace(/^\w+: /, '');
			if (seen[k]) dup.push(b.textContent);
			seen[k] = true;
		}
		return dup.join(', ');
	})()`)
	if err != nil || dups != "" {
		t.Errorf("checkout shows the same alert twice: %q (%v)", dups, err)
	}
	fits(t, ctx)
	if testing.Verbose() {
		fmt.Fprintln(os.Stderr, "screenshots in", shots)
	}
}

// fits checks that the services table, on the open page, fits the window
// (1280 px) with no sideways scroll and the cost column in view.
func fits(t *testing.T, ctx context.Context) {
	t.Helper()
	msg, err := eval[string](t, ctx, "", `(() => {
		const box = document.querySelector('div.scroll:has(table.services)');
		if (!box) return 'no services table';
		const cost = [...document.querySelectorAll('table.services thead th')].pop();
		const widths = [...document.querySelectorAll('table.services thead th')].map(th => th.textContent.trim().split(' ')[0] + '=' + Math.round(th.getBoundingClientRect().width)).join(' ');
		if (box.scrollWidth > box.clientWidth + 1) return 'table ' + box.scrollWidth + ' px wide in ' + box.clientWidth + ' px: ' + widths;
		if (cost.getBoundingClientRect().right > window.innerWidth) return 'cost column ends at ' + cost.getBoundingClientRect().right + ' px of ' + window.innerWidth + ': ' + widths;
		return '';
	})()`)
	if err != nil || msg != "" {
		t.Errorf("services table at 1280 px: %s (%v)", msg, err)
	}
}
