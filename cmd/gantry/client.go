package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gantry-dev/gantry/apiserver/wire"
)

// client talks to the API that `gantry up` serves on --ui-addr.
type client struct {
	server string
	http   *http.Client
}

func defaultServer() string {
	if s := os.Getenv("GANTRY_SERVER"); s != "" {
		return s
	}
	return "http://127.0.0.1:8090"
}

func newClient(server string) *client {
	return &client{server: strings.TrimRight(server, "/"), http: &http.Client{Timeout: 30 * time.Second}}
}

// do sends a request and decodes a JSON answer into out; API errors come back
// as one line.
func (c *client) do(ctx context.Context, method, path string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/yaml")
	}
	if tok := os.Getenv(wire.TokenEnv); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach gantry at %s (is `gantry up` running? set --server or GANTRY_SERVER): %v", c.server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read answer from %s: %w", c.server, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return &statusError{code: resp.StatusCode, msg: e.Error}
		}
		return &statusError{code: resp.StatusCode, msg: fmt.Sprintf("%s %s: %s", method, path, resp.Status)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// statusError is an API error answer: its message, and the status for
// callers that tell "not found" from a failure.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// isNotFound tells an API 404 (a missing object) from any other failure.
func isNotFound(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusNotFound
}

// isConflict tells a stale resourceVersion (409).
func isConflict(err error) bool {
	var se *statusError
	return errors.As(err, &se) && se.code == http.StatusConflict
}

func runApply(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	file := fs.String("f", "", "manifest file (YAML or JSON, several documents), or - for standard input")
	server := fs.String("server", defaultServer(), "address of `gantry up`'s API")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" {
		return errors.New("missing -f FILE (use -f - for standard input)")
	}
	var data []byte
	var err error
	if *file == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", *file, err)
	}
	var res struct {
		Results []struct {
			Kind, Namespace, Name, Result string
		} `json:"results"`
	}
	if err := newClient(*server).do(ctx, http.MethodPost, "/api/v1/apply", bytes.NewReader(data), &res); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	for _, r := range res.Results {
		fmt.Printf("%s.%s/%s %s (namespace %s)\n", strings.ToLower(r.Kind), "serving.knative.dev", r.Name, r.Result, r.Namespace)
	}
	return nil
}

func runDelete(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("delete", flag.ContinueOnError)
	ns := fs.String("n", "default", "namespace")
	server := fs.String("server", defaultServer(), "address of `gantry up`'s API")
	if err := fs.Parse(reorder(args, map[string]bool{"n": true, "server": true})); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("usage: gantry delete KIND NAME [-n NS]")
	}
	path := "/api/v1/" + url.PathEscape(fs.Arg(0)) + "/" + url.PathEscape(*ns) + "/" + url.PathEscape(fs.Arg(1))
	if err := newClient(*server).do(ctx, http.MethodDelete, path, nil, nil); err != nil {
		return err
	}
	fmt.Printf("%s %s/%s deleted\n", fs.Arg(0), *ns, fs.Arg(1))
	return nil
}

// reorder moves flags after positional arguments to the front, so
// `gantry get services hello -n prod` works like kubectl.
func reorder(args []string, takesValue map[string]bool) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}
