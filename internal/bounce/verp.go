package bounce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
)

const (
	// verpDomain separates these MACs from any other value signed with the
	// same secret (the unsubscribe tokens), so a token of one kind is never
	// valid as the other; the NUL ends it so that no id can extend it.
	verpDomain = "alertd/verp/v1\x00"
	// verpMACBytes keeps 80 bits of the MAC: a forger has to guess it per
	// message id, and the reference stays short in an address's local part.
	verpMACBytes = 10
	// verpLocalPrefix starts the local part of every VERP address.
	verpLocalPrefix = "bounces+"
)

// base32 in lower case without padding: only letters and digits, which
// survive an MTA that changes the case of the local part.
var verpEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Signer makes and checks the signed references to outbox messages that
// VERP envelope senders carry. Make one with NewSigner.
type Signer struct {
	key []byte
}

// NewSigner returns a signer keyed with secret (security.secret).
func NewSigner(secret []byte) (Signer, error) {
	if len(secret) == 0 {
		return Signer{}, fmt.Errorf("bounce reference secret is empty")
	}
	return Signer{key: append([]byte(nil), secret...)}, nil
}

// Ref returns the reference to an outbox message: its decimal id, a dash
// and the MAC in lower-case base32.
func (s Signer) Ref(messageID int64) string {
	id := strconv.FormatInt(messageID, 10)
	return id + "-" + verpEncoding.EncodeToString(s.mac(id))
}

// Verify returns the message id a reference was made for and whether it is
// genuine. It ignores case, as MTAs may not keep it.
func (s Signer) Verify(ref string) (messageID int64, ok bool) {
	if len(ref) > 64 {
		return 0, false
	}
	ref = strings.ToLower(ref)
	id, encodedMAC, found := strings.Cut(ref, "-")
	if !found {
		return 0, false
	}
	messageID, err := strconv.ParseInt(id, 10, 64)
	if err != nil || messageID < 1 || strconv.FormatInt(messageID, 10) != id {
		return 0, false
	}
	// Comparing encodings, not decoded bytes, refuses the other spellings
	// of the same MAC (non-zero padding bits, another length).
	if !hmac.Equal([]byte(encodedMAC), []byte(verpEncoding.EncodeToString(s.mac(id)))) {
		return 0, false
	}
	return messageID, true
}

// Address is the VERP envelope sender of a message:
// bounces+{ref}@{domain}.
func (s Signer) Address(messageID int64, domain string) string {
	return verpLocalPrefix + s.Ref(messageID) + "@" + domain
}

// AddressMessage returns the message a VERP address names, when its
// reference verifies. The address may come with angle brackets or a
// display name's remains around it and in any case; the domain is not
// checked, since the reference alone proves the message was alertd's.
func (s Signer) AddressMessage(address string) (messageID int64, ok bool) {
	address = strings.TrimSpace(address)
	if i := strings.LastIndexByte(address, '<'); i >= 0 {
		address = address[i+1:]
	}
	address = strings.TrimSuffix(address, ">")
	local, _, found := strings.Cut(address, "@")
	if !found || len(local) <= len(verpLocalPrefix) || !strings.EqualFold(local[:len(verpLocalPrefix)], verpLocalPrefix) {
		return 0, false
	}
	return s.Verify(local[len(verpLocalPrefix):])
}

func (s Signer) mac(decimalID string) []byte {
	if len(s.key) == 0 {
		panic("bounce: Signer used without NewSigner")
	}
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(verpDomain))
	h.Write([]byte(decimalID))
	return h.Sum(nil)[:verpMACBytes]
}
