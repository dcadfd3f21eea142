package subscription

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"math"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewConfirmationTokenEncodesAllRandomBytes(t *testing.T) {
	random := bytes.Repeat([]byte{0xfb}, 32)
	token, hash, err := NewConfirmationToken(bytes.NewReader(random))
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.RawURLEncoding.EncodeToString(random); token != want {
		t.Errorf("token = %q, want %q", token, want)
	}
	if hash != HashConfirmationToken(token) {
		t.Errorf("hash = %q, want HashConfirmationToken(token) = %q", hash, HashConfirmationToken(token))
	}
}

func TestNewConfirmationTokenIsURLSafeAndDistinct(t *testing.T) {
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := make(map[string]bool)
	for range 100 {
		token, hash, err := NewConfirmationToken(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !urlSafe.MatchString(token) {
			t.Errorf("token %q is not 43 base64url characters", token)
		}
		if strings.Contains(hash, token) || hash == token {
			t.Errorf("hash %q reveals the token", hash)
		}
		if seen[token] {
			t.Fatalf("token %q drawn twice", token)
		}
		seen[token] = true
	}
}

func TestNewConfirmationTokenFailsOnShortRandomness(t *testing.T) {
	tests := map[string]io.Reader{
		"empty":  bytes.NewReader(nil),
		"short":  bytes.NewReader(make([]byte, 31)),
		"broken": iotest.ErrReader(errors.New("entropy source closed")),
	}
	for name, random := range tests {
		t.Run(name, func(t *testing.T) {
			token, hash, err := NewConfirmationToken(random)
			if err == nil {
				t.Fatalf("got token %q, hash %q; want an error", token, hash)
			}
			if token != "" || hash != "" {
				t.Errorf("got token %q, hash %q alongside error", token, hash)
			}
		})
	}
}

func TestHashConfirmationTokenIsSHA256Hex(t *testing.T) {
	// echo -n abc | sha256sum
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashConfirmationToken("abc"); got != want {
		t.Errorf("HashConfirmationToken(abc) = %s, want %s", got, want)
	}
}

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
)

func newTestSigner(t testing.TB, secret []byte) UnsubscribeSigner {
	t.Helper()
	s, err := NewUnsubscribeSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewUnsubscribeSignerRefusesShortSecrets(t *testing.T) {
	for _, n := range []int{0, 1, 16, 31} {
		if _, err := NewUnsubscribeSigner(make([]byte, n)); err == nil {
			t.Errorf("NewUnsubscribeSigner(%d bytes) succeeded, want an error", n)
		}
	}
	if _, err := NewUnsubscribeSigner(make([]byte, 32)); err != nil {
		t.Errorf("NewUnsubscribeSigner(32 bytes) = %v, want success", err)
	}
}

func TestUnsubscribeSignerKeepsItsOwnCopyOfTheSecret(t *testing.T) {
	secret := bytes.Clone(testSecret)
	s := newTestSigner(t, secret)
	token := s.Token(7)
	secret[0] ^= 0xff
	if _, ok := s.Verify(token); !ok {
		t.Error("changing the caller's secret slice invalidated the signer's tokens")
	}
}

func TestUnsubscribeTokenRoundTrips(t *testing.T) {
	s := newTestSigner(t, testSecret)
	urlSafe := regexp.MustCompile(`^-?[0-9]+\.[A-Za-z0-9_-]{22}$`)
	for _, id := range []int64{1, 2, 42, 1 << 40, math.MaxInt64, 0, -1, math.MinInt64} {
		token := s.Token(id)
		if !urlSafe.MatchString(token) {
			t.Errorf("Token(%d) = %q, not of the form id.mac in URL-safe characters", id, token)
		}
		if len(token) > maxUnsubscribeToken {
			t.Errorf("Token(%d) is %d characters, longer than the %d Verify accepts", id, len(token), maxUnsubscribeToken)
		}
		got, ok := s.Verify(token)
		if !ok || got != id {
			t.Errorf("Verify(Token(%d)) = %d, %t; want %d, true", id, got, ok, id)
		}
		if token != s.Token(id) {
			t.Errorf("Token(%d) is not deterministic", id)
		}
	}
}

func TestUnsubscribeVerifyRefusesForgeries(t *testing.T) {
	s := newTestSigner(t, testSecret)
	token := s.Token(42)
	id, mac, _ := strings.Cut(token, ".")
	other := newTestSigner(t, otherSecret)

	flipped := []byte(mac)
	flipped[0] = otherBase64Char(flipped[0])
	// The last character of 22 carries 2 MAC bits and 4 padding bits; a
	// different character with the same 2 bits decodes to the same MAC
	// unless decoding is strict.
	lastIndex := strings.IndexByte(base64URLAlphabet, mac[len(mac)-1])
	samePrefix := []byte(mac)
	samePrefix[len(samePrefix)-1] = base64URLAlphabet[lastIndex^1]

	tests := map[string]string{
		"empty":                     "",
		"id only":                   id,
		"mac only":                  mac,
		"no id":                     "." + mac,
		"no mac":                    id + ".",
		"other id, same mac":        "43." + mac,
		"leading zero":              "042." + mac,
		"plus sign":                 "+42." + mac,
		"negative zero spelling":    "-0." + s.Token(0)[2:],
		"spaces":                    " 42." + mac,
		"truncated mac":             id + "." + mac[:21],
		"extended mac":              id + "." + mac + "A",
		"padded mac":                id + "." + mac + "==",
		"two dots":                  id + ".." + mac,
		"trailing dot":              token + ".",
		"altered mac":               id + "." + string(flipped),
		"non-canonical last char":   id + "." + string(samePrefix),
		"other secret":              other.Token(42),
		"over-long":                 strings.Repeat("9", 1000) + "." + mac,
		"id overflowing int64":      "9223372036854775808." + mac,
		"whole MAC instead of half": id + "." + base64.RawURLEncoding.EncodeToString(fullMAC(s, id)),
	}
	for name, forged := range tests {
		t.Run(name, func(t *testing.T) {
			if forged == token {
				t.Fatalf("test case %q is the genuine token", forged)
			}
			if got, ok := s.Verify(forged); ok {
				t.Errorf("Verify(%q) = %d, true; want refused", forged, got)
			}
		})
	}
}

func TestUnsubscribeMACIsDomainSeparated(t *testing.T) {
	// The MAC must not be a bare HMAC of the decimal id, which another
	// feature signing ids with the same secret could produce.
	s := newTestSigner(t, testSecret)
	bare := hmacSHA256(testSecret, "42")[:unsubscribeMACBytes]
	if s.Token(42) == "42."+base64.RawURLEncoding.EncodeToString(bare) {
		t.Error("the unsubscribe MAC is the bare HMAC of the id")
	}
}

func TestZeroUnsubscribeSignerPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Token on a zero UnsubscribeSigner did not panic")
		}
	}()
	var s UnsubscribeSigner
	s.Token(1)
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func hmacSHA256(key []byte, message string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(message))
	return h.Sum(nil)
}

func otherBase64Char(c byte) byte {
	if c == 'A' {
		return 'B'
	}
	return 'A'
}

func fullMAC(s UnsubscribeSigner, id string) []byte {
	return hmacSHA256(s.key, unsubscribeDomain+id)
}

func FuzzVerifyUnsubscribeToken(f *testing.F) {
	s := newTestSigner(f, testSecret)
	for _, id := range []int64{0, 1, 42, math.MaxInt64, math.MinInt64} {
		f.Add(s.Token(id), id)
	}
	f.Add("", int64(7))
	f.Add("042."+s.Token(42)[3:], int64(42))
	f.Add(s.Token(1)+"=", int64(1))
	f.Fuzz(func(t *testing.T, token string, id int64) {
		if got, ok := s.Verify(token); ok && s.Token(got) != token {
			t.Errorf("Verify(%q) accepted a token that Token(%d) = %q did not make", token, got, s.Token(got))
		}
		if got, ok := s.Verify(s.Token(id)); !ok || got != id {
			t.Errorf("Verify(Token(%d)) = %d, %t", id, got, ok)
		}
	})
}

func TestParseConfirmationToken(t *testing.T) {
	secret, _, err := NewConfirmationToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		id    int64
		ok    bool
	}{
		{"as made", ConfirmationLinkToken(42, secret), 42, true},
		{"no dot", "42" + secret, 0, false},
		{"no id", "." + secret, 0, false},
		{"zero id", "0." + secret, 0, false},
		{"negative id", "-4." + secret, 0, false},
		{"leading zero", "042." + secret, 0, false},
		{"plus sign", "+42." + secret, 0, false},
		{"short secret", "42." + secret[1:], 0, false},
		{"long secret", "42." + secret + "A", 0, false},
		{"not base64url", "42." + strings.Repeat("*", len(secret)), 0, false},
		{"empty", "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, got, ok := ParseConfirmationToken(tc.token)
			if ok != tc.ok || id != tc.id || (ok && got != secret) {
				t.Fatalf("ParseConfirmationToken(%q) = %d, %q, %v; want %d, %v", tc.token, id, got, ok, tc.id, tc.ok)
			}
		})
	}
}

// FuzzParseConfirmationToken: parsing never panics, and whatever parses is
// exactly what ConfirmationLinkToken makes of its parts.
func FuzzParseConfirmationToken(f *testing.F) {
	f.Add("1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("9223372036854775807.abcdefghijklmnopqrstuvwxyz0123456789-_ABCDEFG")
	f.Add("")
	f.Add("1..")
	f.Fuzz(func(t *testing.T, token string) {
		id, secret, ok := ParseConfirmationToken(token)
		if ok && ConfirmationLinkToken(id, secret) != token {
			t.Fatalf("%q parsed as %d, %q, which makes %q", token, id, secret, ConfirmationLinkToken(id, secret))
		}
	})
}
