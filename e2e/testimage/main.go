// Command testimage is the app of the Docker runtime's end-to-end tests,
// built static and run FROM scratch (no base image can be pulled). It
// answers on $PORT and reports what its container gives it.
//
//	/            Hello $TARGET! (version $VERSION, revision $K_REVISION)
//	/env         the environment, as JSON
//	/file?path=  a file's contents
//	/write?path= writes a file (405 when the file system refuses)
//	/id          uid and gid
//	/args        os.Args, as JSON
//	/cwd         the working directory
//	/alloc?mb=N  allocates and touches N MiB (for OOM kills)
//	/cpu?ms=N    burns N ms of CPU
//	/exit?code=N exits
//
// `testimage check FILE` exits 0 when FILE exists (exec probes).
// TESTAPP_EXIT=N exits at once; TESTAPP_NO_LISTEN=1 never opens the port.
package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"
)

// version is set with -ldflags "-X main.version=..." so that two builds differ.
var version = "1"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "check" {
		if _, err := os.Stat(os.Args[2]); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	// One stream: the engine keeps no order between stdout and stderr, and
	// the tests read the last line.
	fmt.Fprintln(os.Stderr, "testimage starting, version", version, "args", os.Args[1:])
	if c := os.Getenv("TESTAPP_EXIT"); c != "" {
		n, _ := strconv.Atoi(c)
		fmt.Fprintln(os.Stderr, "exiting at once with", n)
		os.Exit(n)
	}
	if os.Getenv("TESTAPP_NO_LISTEN") != "" {
		for {
			time.Sleep(time.Hour)
		}
	}
	var hold [][]byte
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "Hello %s! (version %s, revision %s)\n", os.Getenv("TARGET"), version, os.Getenv("K_REVISION"))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(os.Environ()) })
	mux.HandleFunc("/args", func(w http.ResponseWriter, r *http.Request) { json.NewEncoder(w).Encode(os.Args) })
	mux.HandleFunc("/cwd", func(w http.ResponseWriter, r *http.Request) { d, _ := os.Getwd(); fmt.Fprint(w, d) })
	mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%d:%d", os.Getuid(), os.Getgid()) })
	mux.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
		b, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Write(b)
	})
	mux.HandleFunc("/write", func(w http.ResponseWriter, r *http.Request) {
		if err := os.WriteFile(r.URL.Query().Get("path"), []byte("x"), 0o644); err != nil {
			http.Error(w, err.Error(), http.StatusMethodNotAllowed)
			return
		}
		fmt.Fprint(w, "written")
	})
	mux.HandleFunc("/alloc", func(w http.ResponseWriter, r *http.Request) {
		mb, _ := strconv.Atoi(r.URL.Query().Get("mb"))
		for i := 0; i < mb; i++ {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(j)
			}
			hold = append(hold, b)
		}
		fmt.Fprintf(w, "holding %d MiB", len(hold))
	})
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		end := time.Now().Add(time.Duration(ms) * time.Millisecond)
		n := 0
		for time.Now().Before(end) {
			n++
		}
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/exit", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("code"))
		os.Exit(n)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := http.ListenAndServe(":"+port, mux); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
