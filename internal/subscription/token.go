package subscription

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// confirmationTokenBytes is the entropy of a confirmation token: 256 bits,
// twice the 128 that make guessing hopeless, for the price of 11 characters.
const confirmationTokenBytes = 32

// NewConfirmationToken draws the secret of a confirmation link from random
// (crypto/rand.Reader in production) and returns it with its hash. The
// secret goes into the e-mail's link and nowhere else; only the hash is
// stored, so a copy of the database cannot be used to confirm anyone.
func NewConfirmationToken(random io.Reader) (secret, hash string, err error) {
	var raw [confirmationTokenBytes]byte
	if _, err := io.ReadFull(random, raw[:]); err != nil {
		return "", "", fmt.Errorf("draw confirmation token: %w", err)
	}
	secret = base64.RawURLEncoding.EncodeToString(raw[:])
	return secret, HashConfirmationToken(secret), nil
}

// HashConfirmationToken returns the hex SHA-256 of a confirmation secret:
// the form under which it is stored. A plain hash suffices because the
// secret itself carries 256 random bits.
func HashConfirmationToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ConfirmationLinkToken is the token in a confirmation link: the
// subscriber's id, which says where to look, and the secret, which proves
// the link was mailed to the address.
func ConfirmationLinkToken(subscriberID int64, secret string) string {
	return strconv.FormatInt(subscriberID, 10) + "." + secret
}

// ParseConfirmationToken splits a link token into the subscriber's id and
// the secret; ok is false for anything ConfirmationLinkToken cannot have made.
func ParseConfirmationToken(token string) (subscriberID int64, secret string, ok bool) {
	idText, secret, found := strings.Cut(token, ".")
	if !found || len(secret) != base64.RawURLEncoding.EncodedLen(confirmationTokenBytes) {
		return 0, "", false
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id < 1 || strconv.FormatInt(id, 10) != idText {
		return 0, "", false
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(secret); err != nil {
		return 0, "", false
	}
	return id, secret, true
}

const (
	// MinSecretLength is the shortest secret NewUnsubscribeSigner accepts.
	MinSecretLength = 32

	// unsubscribeDomain separates these MACs from any other value signed
	// with the same secret; the NUL ends it so that no id can extend it.
	unsubscribeDomain = "alertd/unsubscribe/v1\x00"
	// unsubscribeMACBytes keeps 128 bits of the MAC: forging one is as
	// hard as guessing a 128-bit key, and the link stays short.
	unsubscribeMACBytes = 16
	// A token is a decimal int64 (at most 20 characters with its sign),
	// a dot, and the MAC in unpadded base64url.
	unsubscribeMACLength = (unsubscribeMACBytes*8 + 5) / 6
	maxUnsubscribeToken  = 20 + 1 + unsubscribeMACLength
)

// UnsubscribeSigner makes and checks unsubscribe tokens: one per subscriber,
// valid for as long as the secret is, and verified without a lookup table so
// that an unsubscribe link keeps working in every digest ever sent. Make one
// with NewUnsubscribeSigner; the zero value has no key and panics on use.
type UnsubscribeSigner struct {
	key []byte
}

// NewUnsubscribeSigner returns a signer keyed with secret, which must be at
// least MinSecretLength bytes. Changing the secret invalidates every
// unsubscribe link already sent.
func NewUnsubscribeSigner(secret []byte) (UnsubscribeSigner, error) {
	if len(secret) < MinSecretLength {
		return UnsubscribeSigner{}, fmt.Errorf("unsubscribe secret is %d bytes, want at least %d: set security.secret to a longer random value, or leave it empty to have one generated", len(secret), MinSecretLength)
	}
	return UnsubscribeSigner{key: append([]byte(nil), secret...)}, nil
}

// Token returns the unsubscribe token of a subscriber: the decimal id, a
// dot, and a MAC in base64url. Every character is safe in a URL path
// segment. Each id has exactly one token.
func (s UnsubscribeSigner) Token(subscriberID int64) string {
	id := strconv.FormatInt(subscriberID, 10)
	return id + "." + base64.RawURLEncoding.EncodeToString(s.mac(id))
}

// Verify returns the subscriber id that token was made for, and whether the
// token is genuine. Anything but the exact string Token returns is refused:
// other secrets, altered ids, truncated or extended MACs, leading zeros, and
// other spellings of the same bytes.
func (s UnsubscribeSigner) Verify(token string) (subscriberID int64, ok bool) {
	if len(token) > maxUnsubscribeToken {
		return 0, false
	}
	id, encodedMAC, found := strings.Cut(token, ".")
	if !found || len(encodedMAC) != unsubscribeMACLength {
		return 0, false
	}
	subscriberID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || strconv.FormatInt(subscriberID, 10) != id {
		return 0, false
	}
	// Strict refuses non-zero padding bits, which would otherwise let
	// several strings decode to the same MAC.
	got, err := base64.RawURLEncoding.Strict().DecodeString(encodedMAC)
	if err != nil || !hmac.Equal(got, s.mac(id)) {
		return 0, false
	}
	return subscriberID, true
}

func (s UnsubscribeSigner) mac(decimalID string) []byte {
	if len(s.key) == 0 {
		panic("subscription: UnsubscribeSigner used without NewUnsubscribeSigner")
	}
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(unsubscribeDomain))
	h.Write([]byte(decimalID))
	return h.Sum(nil)[:unsubscribeMACBytes]
}
