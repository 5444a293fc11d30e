package queueproxy

import "testing"

func TestGoDebug(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "schedtrace=2147483647"},
		{" ", "schedtrace=2147483647"},
		{"http2debug=1", "http2debug=1,schedtrace=2147483647"},
		// The operator's own schedtrace wins.
		{"schedtrace=1000", "schedtrace=1000"},
		{"gctrace=1, schedtrace=5", "gctrace=1, schedtrace=5"},
	} {
		if got := GoDebug(tc.in); got != tc.want {
			t.Errorf("GoDebug(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
