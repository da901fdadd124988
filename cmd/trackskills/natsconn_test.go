package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"

	"github.com/trackskills/trackskills/embeddednats"
	"github.com/trackskills/trackskills/testkit"
)

// mustRunServer runs a plain nats-server with opts (a server of your own,
// not the embedded one) on a free loopback port; Cleanup stops it.
func mustRunServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", -1, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// writeFile writes b to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsFiles are a CA and a server and a client certificate it signed, in
// PEM files.
type tlsFiles struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// mustTLSFiles makes a CA, and certificates it signed for 127.0.0.1 and a
// client, in dir.
func mustTLSFiles(t *testing.T, dir string) tlsFiles {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) (certPath, keyPath string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, dir, name+".pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
			writeFile(t, dir, name+"-key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	}
	f := tlsFiles{ca: writeFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))}
	f.serverCert, f.serverKey = leaf("server", 2, x509.ExtKeyUsageServerAuth)
	f.clientCert, f.clientKey = leaf("client", 3, x509.ExtKeyUsageClientAuth)
	return f
}

// Ensure every way to log in that the NATS flags offer connects to a
// server that wants it (a list of URLs whose first is down included), and
// that a wrong secret does not.
func TestNATSAuth_Logins(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := user.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	seed, err := user.Seed()
	if err != nil {
		t.Fatal(err)
	}
	seedFile := writeFile(t, dir, "ingest.nk", seed)
	tf := mustTLSFiles(t, dir)
	cert, err := tls.LoadX509KeyPair(tf.serverCert, tf.serverKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(tf.ca)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(caPEM)

	tokenSrv := mustRunServer(t, &server.Options{Authorization: "t0ken"})
	userSrv := mustRunServer(t, &server.Options{Users: []*server.User{{Username: "ingest", Password: "pa55"}}})
	nkeySrv := mustRunServer(t, &server.Options{Nkeys: []*server.NkeyUser{{Nkey: pub}}})
	tlsSrv := mustRunServer(t, &server.Options{TLS: true, TLSVerify: true, TLSTimeout: 2, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	}})
	down := "nats://" + testkit.MustFreeAddr(t)
	for _, tc := range []struct {
		name string
		url  string
		conn natsConnOptions
		ok   bool
	}{
		{"Token", tokenSrv.ClientURL(), natsConnOptions{token: "t0ken"}, true},
		{"ErrToken", tokenSrv.ClientURL(), natsConnOptions{token: "wrong"}, false},
		{"UserPassword", userSrv.ClientURL(), natsConnOptions{user: "ingest", password: "pa55"}, true},
		{"ErrPassword", userSrv.ClientURL(), natsConnOptions{user: "ingest", password: "wrong"}, false},
		{"NKey", nkeySrv.ClientURL(), natsConnOptions{nkey: seedFile}, true},
		{"SeveralURLs", down + "," + tokenSrv.ClientURL(), natsConnOptions{token: "t0ken"}, true},
		{"TLSClientCert", "tls://" + strings.TrimPrefix(tlsSrv.ClientURL(), "nats://"), natsConnOptions{tlsCA: tf.ca, tlsCert: tf.clientCert, tlsKey: tf.clientKey}, true},
		{"ErrTLSNoClientCert", "tls://" + strings.TrimPrefix(tlsSrv.ClientURL(), "nats://"), natsConnOptions{tlsCA: tf.ca}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := defaultOptions()
			o.dataDir, o.natsConn = t.TempDir(), tc.conn
			opts, err := o.natsAuth(embeddednats.UserIngest)
			if err != nil {
				t.Fatal(err)
			}
			var logs testkit.LockedBuffer
			nc, err := connectNATS(tc.url, "test", slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if tc.ok {
				testkit.Eventually(t, 10*time.Second, func() error {
					if !nc.IsConnected() {
						return nc.LastError()
					}
					return nil
				})
				return
			}
			time.Sleep(500 * time.Millisecond) // a few attempts
			if nc.IsConnected() {
				t.Fatal("connected, want the login refused")
			}
			if !strings.Contains(logs.String(), "refused the login") && !strings.Contains(logs.String(), "disconnected") && !strings.HasPrefix(tc.name, "ErrTLS") {
				t.Fatalf("log says nothing of the refused login: %s", logs.String())
			}
			for _, secret := range []string{"wrong", "pa55", "t0ken"} {
				if strings.Contains(logs.String(), secret) {
					t.Fatalf("log shows a secret: %s", logs.String())
				}
			}
		})
	}
}

// Ensure the NATS login flags refuse two ways to log in at once, a
// password without a user, and a client certificate without its key.
func TestNATSConnOptions_Validate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		creds string
		conn  natsConnOptions
		want  string
	}{
		{"None", "", natsConnOptions{}, ""},
		{"TLSOnly", "", natsConnOptions{tlsCA: "ca.pem"}, ""},
		{"ErrTokenAndNKey", "", natsConnOptions{token: "t", nkey: "k.nk"}, "give one"},
		{"ErrCredsAndUser", "x.creds", natsConnOptions{user: "u", password: "p"}, "give one"},
		{"ErrPasswordNoUser", "", natsConnOptions{password: "p"}, "needs --nats-user"},
		{"ErrUserNoPassword", "", natsConnOptions{user: "u"}, "needs --nats-password"},
		{"ErrCertNoKey", "", natsConnOptions{tlsCert: "c.pem"}, "go together"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.conn.validate(tc.creds)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err=%v, want it to say %q", err, tc.want)
			}
		})
	}
}

// Ensure redactURLs hides passwords and tokens of every URL in a list.
func TestRedactURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://u:s3cret@a:4222,nats://b:4222", "nats://u:xxxxx@a:4222,nats://b:4222"},
		{"nats://t0ken@a:4222", "nats://%2A%2A%2A@a:4222"},
		{"nats://u:s3cret@a:4222 , tls://v:s3cret@b:4222", "nats://u:xxxxx@a:4222,tls://v:xxxxx@b:4222"},
	} {
		if got := redactURLs(tc.in); got != tc.want {
			t.Errorf("redactURLs(%q)=%q, want %q", tc.in, got, tc.want)
		}
	}
}

// Ensure --help shows no NATS password or token given through the
// environment, in their flags or in a URL.
func TestNATSConnFlags_HelpHidesSecrets(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"TRACKSKILLS_NATS_URL":      "nats://ingest:s3cret@127.0.0.1:4222",
		"TRACKSKILLS_NATS_USER":     "ingest",
		"TRACKSKILLS_NATS_PASSWORD": "s3cret",
		"TRACKSKILLS_NATS_TOKEN":    "s3cret",
	}
	for _, cmd := range []string{"ingest", "consumer", "analytics", "status", "replay", "rebuild"} {
		var out testkit.LockedBuffer
		_ = run(context.Background(), []string{cmd, "--help"}, func(k string) string { return env[k] }, &out, &out)
		if !strings.Contains(out.String(), "--nats-password") {
			t.Fatalf("%s --help lists no --nats-password:\n%s", cmd, out.String())
		}
		if strings.Contains(out.String(), "s3cret") {
			t.Fatalf("%s --help shows a secret:\n%s", cmd, out.String())
		}
	}
}
