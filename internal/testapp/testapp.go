// Package testapp holds apps that tests of both proxies put behind them.
package testapp

import "net/http"

// Echo answers at once and writes back the request body as it reads it
// (full duplex): a proxy that sends the whole body before it reads the
// answer deadlocks on it once the body outgrows the sockets' buffers.
func Echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
}
