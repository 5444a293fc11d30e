package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// hashOf is a short, stable hash of the JSON of vs.
func hashOf(vs ...any) string {
	h := sha256.New()
	for _, v := range vs {
		b, _ := json.Marshal(v)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// parseSeconds reads "600s", "10m" or a plain number of seconds.
func parseSeconds(v string) (int32, error) {
	v = strings.TrimSpace(v)
	if n, err := strconv.Atoi(v); err == nil {
		return int32(n), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, err
	}
	return int32(d / time.Second), nil
}
