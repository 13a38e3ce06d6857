package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeFile puts data in a file of the test's own and returns its path.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func edKeySet(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"site-1","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}]}`
}

const goodSecret = "0123456789abcdef0123456789abcdef" // 32 bytes

// TestIdentityAndProxyConfig: the IDENTITY_* and TRUSTED_PROXIES variables give
// a verifier and proxy ranges, or an error naming the variable that is wrong.
func TestIdentityAndProxyConfig(t *testing.T) {
	t.Parallel()
	good := writeFile(t, "jwks.json", edKeySet(t))
	private := writeFile(t, "private.json", `{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)
	notJSON := writeFile(t, "pem.json", "-----BEGIN PUBLIC KEY-----\n")
	cases := []struct {
		name    string
		env     map[string]string
		check   func(c Config) bool
		wantErr string // the variable the error must name
	}{
		{name: "none", check: func(c Config) bool { return c.Identity == nil && len(c.TrustedProxies) == 0 }},
		{name: "HS256 secret", env: map[string]string{"IDENTITY_JWT_SECRET": goodSecret},
			check: func(c Config) bool { return c.Identity != nil && strings.Join(c.Identity.Algorithms(), ",") == "HS256" }},
		{name: "key set with issuer and audience", env: map[string]string{"IDENTITY_JWKS_FILE": good, "IDENTITY_JWT_ISSUER": "https://login.example.com/", "IDENTITY_JWT_AUDIENCE": "concertd"},
			check: func(c Config) bool { return c.Identity != nil && strings.Join(c.Identity.Algorithms(), ",") == "EdDSA" }},
		{name: "both", env: map[string]string{"IDENTITY_JWT_SECRET": goodSecret, "IDENTITY_JWKS_FILE": good},
			check: func(c Config) bool { return strings.Join(c.Identity.Algorithms(), ",") == "EdDSA,HS256" }},
		{name: "short secret", env: map[string]string{"IDENTITY_JWT_SECRET": "too-short"}, wantErr: "IDENTITY_JWT_SECRET"},
		{name: "missing key set", env: map[string]string{"IDENTITY_JWKS_FILE": filepath.Join(t.TempDir(), "nope.json")}, wantErr: "IDENTITY_JWKS_FILE"},
		{name: "key set of a symmetric key", env: map[string]string{"IDENTITY_JWKS_FILE": private}, wantErr: "IDENTITY_JWKS_FILE"},
		{name: "key set not JSON", env: map[string]string{"IDENTITY_JWKS_FILE": notJSON}, wantErr: "IDENTITY_JWKS_FILE"},
		{name: "issuer without a key", env: map[string]string{"IDENTITY_JWT_ISSUER": "https://login.example.com/"}, wantErr: "IDENTITY_JWT_ISSUER"},
		{name: "proxies", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, fd00::/8"},
			check: func(c Config) bool {
				return len(c.TrustedProxies) == 2 && c.TrustedProxies[0].String() == "10.0.0.0/8" && c.TrustedProxies[1].String() == "fd00::/8"
			}},
		{name: "proxies not CIDRs", env: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8 fd00::/8"}, wantErr: "TRUSTED_PROXIES"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"ADMIN_KEY": testAdminKey, "TOKEN_SECRET": testTokenSecret}
			for k, v := range tc.env {
				env[k] = v
			}
			c, err := configFromEnv(func(k string) string { return env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line naming %s", err, tc.wantErr)
				}
				if s := env["IDENTITY_JWT_SECRET"]; s != "" && strings.Contains(err.Error(), s) {
					t.Errorf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

// TestBadIdentityConfigExits: the binary itself answers a bad identity setting
// with one line and exit status 1, before it touches any service. The test
// binary runs main() in a child process for it.
func TestBadIdentityConfigExits(t *testing.T) {
	if os.Getenv("CONCERTD_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	t.Parallel()
	for _, tc := range []struct{ env, want string }{
		{"IDENTITY_JWT_SECRET=short", "concertd: IDENTITY_JWT_SECRET is 5 bytes"},
		{"IDENTITY_JWKS_FILE=" + writeFile(t, "bad.json", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`), "concertd: IDENTITY_JWKS_FILE="},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBadIdentityConfigExits$")
		cmd.Env = append(os.Environ(), "CONCERTD_TEST_RUN_MAIN=1",
			"ADMIN_KEY="+goodSecret, "TOKEN_SECRET="+goodSecret,
			// Nothing listens here: were the config accepted, the start would fail
			// on Redis instead, with another message.
			"REDIS_URL=redis://127.0.0.1:1/0", tc.env)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("%s: err %v, want exit status 1; output:\n%s", tc.env, err, out)
		}
		if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("%s: output %q, want one line starting %q", tc.env, out, tc.want)
		}
	}
}
