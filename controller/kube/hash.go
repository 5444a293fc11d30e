package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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
