package wire

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8090", "", true},
		{"[::1]:8090", "", true},
		{"localhost:8090", "", true},
		{"127.0.0.2:0", "", true},
		{"0.0.0.0:8090", "", false},
		{":8090", "", false},
		{"192.168.1.5:8090", "", false},
		{"[::]:8090", "", false},
		{"example.com:8090", "", false},
		{"0.0.0.0:8090", "s3cret", true},
		{"nonsense", "s3cret", false},
	} {
		err := CheckAddr(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckAddr(%q, %q) = %v, want ok=%v", c.addr, c.token, err, c.ok)
		}
		if err != nil && c.token == "" && !errors.Is(err, ErrNeedToken) {
			t.Errorf("CheckAddr(%q) = %v, want ErrNeedToken", c.addr, err)
		}
	}
	if err := CheckAddr("0.0.0.0:8090", ""); !strings.Contains(err.Error(), "--ui-addr 0.0.0.0:8090") || !strings.Contains(err.Error(), "--auth-token") {
		t.Errorf("message = %q", err)
	}
}
