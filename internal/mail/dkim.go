package mail

import (
	"bytes"
	"fmt"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"
)

// dkimHeaders are the headers every signature covers. RFC 8058 §4 asks
// for List-Unsubscribe and List-Unsubscribe-Post to be signed, so that a
// mail provider can trust the one-click link.
var dkimHeaders = []string{
	"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Reply-To",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post",
}

// DKIMSigner signs finished messages. It signs with go-msgauth rather than
// go-mail's own signer: go-mail v0.8.1 folds the DKIM-Signature's h= tag in
// the middle of a header name once the list passes 76 characters, and
// every signature covering the List-Unsubscribe headers then fails to
// verify.
type DKIMSigner struct {
	options dkim.SignOptions
}

// NewDKIMSigner makes a signer for domain and selector from a PEM private
// key (RSA in PKCS #1 or #8, or Ed25519 in PKCS #8).
func NewDKIMSigner(domain, selector string, keyPEM []byte) (*DKIMSigner, error) {
	key, err := gomail.PrivKeyFromPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("read the DKIM private key (RSA or Ed25519, PEM): %w", err)
	}
	return &DKIMSigner{options: dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: key,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             dkimHeaders,
	}}, nil
}

// sign returns the message DKIM-signed, or as it is when signer is nil.
func sign(data []byte, signer *DKIMSigner) ([]byte, error) {
	if signer == nil {
		return data, nil
	}
	var signed bytes.Buffer
	options := signer.options
	if err := dkim.Sign(&signed, bytes.NewReader(data), &options); err != nil {
		return nil, fmt.Errorf("DKIM-sign the message: %w", err)
	}
	return signed.Bytes(), nil
}
