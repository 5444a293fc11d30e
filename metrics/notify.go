package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/prometheus/notifier"
)

const (
	maxQueuedAlerts = 10000
	maxAlertBatch   = 256
	notifyTimeout   = 10 * time.Second
)

// sender posts alerts to an Alertmanager or webhook in the Alertmanager v2
// JSON alerts format (a list of {labels, annotations, startsAt, endsAt,
// generatorURL}), from a bounded queue, so rule evaluation never waits on
// the network. Failed posts are logged and dropped: the rules manager sends
// firing alerts again every ResendDelay.
type sender struct {
	url    string
	client *http.Client
	log    *slog.Logger

	mu    sync.Mutex
	queue []*notifier.Alert
	wake  chan struct{}
}

var _ interface{ Send(...*notifier.Alert) } = (*sender)(nil)

func newSender(raw string, log *slog.Logger) (*sender, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("metrics: notify url %q: want http(s)://host[:port][/path]", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/api/v2/alerts" // an Alertmanager's base URL
	}
	return &sender{url: u.String(), client: &http.Client{Timeout: notifyTimeout}, log: log, wake: make(chan struct{}, 1)}, nil
}

// Send queues alerts; it never blocks.
func (s *sender) Send(alerts ...*notifier.Alert) {
	s.mu.Lock()
	s.queue = append(s.queue, alerts...)
	if over := len(s.queue) - maxQueuedAlerts; over > 0 {
		s.queue = s.queue[over:]
		s.log.Warn("alert queue full, oldest alerts dropped", "dropped", over)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *sender) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			s.flush(fctx)
			cancel()
			return
		case <-s.wake:
			s.flush(ctx)
		}
	}
}

func (s *sender) flush(ctx context.Context) {
	for {
		s.mu.Lock()
		n := min(len(s.queue), maxAlertBatch)
		batch := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.mu.Unlock()
		if n == 0 {
			return
		}
		if err := s.post(ctx, batch); err != nil {
			s.log.Warn("send alerts", "url", s.url, "alerts", n, "err", err)
		}
	}
}

func (s *sender) post(ctx context.Context, alerts []*notifier.Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "gantry-metrics")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP status %s", resp.Status)
	}
	return nil
}
