package exporters

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// maxOTLPBody bounds one OTLP/HTTP export request.
const maxOTLPBody = 16 << 20

// ReceiverHandler is an OTLP/HTTP traces receiver (POST /v1/traces, protobuf
// or JSON, optionally gzip) that stores what it receives: gantry up mounts it
// so the queue-proxies' spans land in the same store as the gateway's.
func (s *Store) ReceiverHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST an OTLP ExportTraceServiceRequest", http.StatusMethodNotAllowed)
			return
		}
		var body io.Reader = http.MaxBytesReader(w, r.Body, maxOTLPBody)
		if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
			zr, err := gzip.NewReader(body)
			if err != nil {
				http.Error(w, "gzip: "+err.Error(), http.StatusBadRequest)
				return
			}
			defer zr.Close()
			body = io.LimitReader(zr, maxOTLPBody)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		var req coltracepb.ExportTraceServiceRequest
		json := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")
		if json {
			err = protojson.Unmarshal(b, &req)
		} else {
			err = proto.Unmarshal(b, &req)
		}
		if err != nil {
			http.Error(w, "decode ExportTraceServiceRequest: "+err.Error(), http.StatusBadRequest)
			return
		}
		s.Add(fromOTLP(req.GetResourceSpans())...)
		var out []byte
		if json {
			w.Header().Set("Content-Type", "application/json")
			out, _ = protojson.Marshal(&coltracepb.ExportTraceServiceResponse{})
		} else {
			w.Header().Set("Content-Type", "application/x-protobuf")
			out, _ = proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		}
		w.Write(out)
	})
}
