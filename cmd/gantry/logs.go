package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/api"
)

// runLogs prints a revision's container logs, as `kubectl logs` does for a
// pod: gantry logs REVISION [-n NS] [-f] [--instance ID].
func runLogs(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("logs", flag.ContinueOnError)
	ns := fs.String("n", "default", "namespace")
	follow := fs.Bool("f", false, "follow: keep printing new lines (also of instances started later)")
	instance := fs.String("instance", "", "only this instance (see `gantry get revisions NAME -o yaml` or the UI)")
	queueProxy := fs.Bool("queue-proxy", false, "the queue-proxy's log instead of the app's")
	server := fs.String("server", defaultServer(), "address of `gantry up`'s API")
	stateDir := fs.String("state-dir", "", "read the logs from this state dir instead of asking the API")
	if err := fs.Parse(reorder(args, map[string]bool{"n": true, "instance": true, "server": true, "state-dir": true})); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: gantry logs REVISION [-n NS] [-f] [--instance ID] [--queue-proxy]")
	}
	rev := fs.Arg(0)
	dir := ""
	if *stateDir != "" {
		dir = filepath.Join(*stateDir, "logs", *ns, rev)
	} else {
		var r api.Revision
		if err := newClient(*server).do(ctx, http.MethodGet, "/api/v1/revisions/"+url.PathEscape(*ns)+"/"+url.PathEscape(rev), nil, &r); err != nil {
			return err
		}
		u, err := url.Parse(r.Status.LogURL)
		if err != nil || u.Scheme != "file" {
			return fmt.Errorf("revision %s/%s: its logs are not on this machine (logUrl %q)", *ns, rev, r.Status.LogURL)
		}
		dir = u.Path
	}
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("revision %s/%s has no logs yet (%s)", *ns, rev, dir)
	}
	lf := logFiles{dir: dir, instance: *instance, queueProxy: *queueProxy, offsets: map[string]int64{}}
	if err := lf.print(os.Stdout); err != nil {
		return err
	}
	if *instance != "" && len(lf.offsets) == 0 {
		return fmt.Errorf("revision %s/%s has no instance %q", *ns, rev, *instance)
	}
	if !*follow {
		return nil
	}
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := lf.print(os.Stdout); err != nil {
			return err
		}
	}
}

// logFiles prints what was appended to a revision's log files since the
// last call.
type logFiles struct {
	dir, instance string
	queueProxy    bool
	offsets       map[string]int64
}

func (l *logFiles) print(w io.Writer) error {
	paths, err := filepath.Glob(filepath.Join(l.dir, "*.log"))
	if err != nil {
		return err
	}
	sort.Strings(paths)
	var mine []string
	for _, p := range paths {
		base := strings.TrimSuffix(filepath.Base(p), ".log")
		isQP := strings.HasSuffix(base, ".queue-proxy")
		if isQP != l.queueProxy {
			continue
		}
		if l.instance != "" && strings.TrimSuffix(base, ".queue-proxy") != l.instance {
			continue
		}
		mine = append(mine, p)
	}
	for _, p := range mine {
		off := l.offsets[p]
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("logs: %w", err)
		}
		var dst io.Writer = w
		if len(mine) > 1 {
			name := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(p), ".log"), ".queue-proxy")
			dst = &prefixWriter{w: w, prefix: "[" + name + "] ", bol: true}
		}
		n, err := io.Copy(dst, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("logs: %w", err)
		}
		l.offsets[p] = off + n
	}
	return nil
}

// prefixWriter starts every line with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	bol    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	for i, c := range b {
		if p.bol {
			if _, err := io.WriteString(p.w, p.prefix); err != nil {
				return i, err
			}
			p.bol = false
		}
		if _, err := p.w.Write([]byte{c}); err != nil {
			return i, err
		}
		p.bol = c == '\n'
	}
	return len(b), nil
}
