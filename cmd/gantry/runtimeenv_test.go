package main

import (
	"slices"
	"testing"
)

func TestGatewayEnv(t *testing.T) {
	for _, tc := range []struct {
		in    []string
		want  []string
		again bool
	}{
		{[]string{"HOME=/root"}, []string{"HOME=/root", "GODEBUG=schedtrace=2147483647"}, true},
		{[]string{"GODEBUG=http2debug=1", "A=b"}, []string{"A=b", "GODEBUG=http2debug=1,schedtrace=2147483647"}, true},
		// Started again already, or the user chose: no second exec.
		{[]string{"GODEBUG=schedtrace=2147483647"}, []string{"GODEBUG=schedtrace=2147483647"}, false},
		{[]string{"GODEBUG=schedtrace=1000"}, []string{"GODEBUG=schedtrace=1000"}, false},
	} {
		got, again := gatewayEnv(tc.in)
		if !slices.Equal(got, tc.want) || again != tc.again {
			t.Errorf("gatewayEnv(%q) = %q, %v; want %q, %v", tc.in, got, again, tc.want, tc.again)
		}
	}
}
