package bounce

import (
	"context"
	"net/mail"
	"strings"

	"github.com/alertd/alertd"
)

// Receive reads one mail that came to the bounce address (rcpt is its
// envelope recipient, from the SMTP receiver) or to a polled mailbox (rcpt
// ""), keeps what it says and applies it. recognised is true when the mail
// was a delivery status notification, feedback report or unsubscribe
// request of alertd's and has been recorded: only such mail may a mailbox
// poller delete. Mail that cannot be read is kept as unrecognised, for
// review; an auto-reply is ignored.
func (s *Service) Receive(ctx context.Context, rcpt string, raw []byte) (recognised bool, err error) {
	r, err := Read(raw)
	if err != nil {
		_, err := s.Record(ctx, alertd.Bounce{
			Kind: alertd.BounceUnrecognised, Source: alertd.SourceMail,
			Diagnostic: "unreadable: " + err.Error(), Evidence: string(raw), Key: evidenceKey(string(raw)),
		})
		return false, err
	}
	return s.receive(ctx, rcpt, r, raw)
}

// receive applies a report read from raw.
func (s *Service) receive(ctx context.Context, rcpt string, r Report, raw []byte) (recognised bool, err error) {
	switch r.Type {
	case TypeAutoReply:
		return false, nil
	case TypeDSN:
		return s.receiveDSN(ctx, rcpt, r)
	case TypeFeedback:
		return s.receiveFeedback(ctx, rcpt, r)
	}
	if s.toUnsubscribe(rcpt, r.Header) {
		return s.receiveUnsubscribe(ctx, r)
	}
	_, err = s.Record(ctx, alertd.Bounce{
		Kind: alertd.BounceUnrecognised, Source: alertd.SourceMail, MessageID: s.ref(rcpt, r),
		Diagnostic: r.Header.Get("Subject"), Evidence: string(raw), Key: reportKey(r, "", raw),
	})
	return false, err
}

func (s *Service) receiveDSN(ctx context.Context, rcpt string, r Report) (bool, error) {
	messageID := s.ref(rcpt, r)
	recorded := false
	for _, rc := range r.Recipients {
		kind, ok := rc.Kind()
		if !ok {
			continue
		}
		recorded = true
		email := rc.Original
		if email == "" {
			email = rc.Final
		}
		if _, err := s.Record(ctx, alertd.Bounce{
			Kind: kind, Source: alertd.SourceDSN, MessageID: messageID, Email: email,
			Status: rc.Status, Diagnostic: rc.Diagnostic, Evidence: r.Evidence,
			Key: reportKey(r, rc.Final+"|"+rc.Action+"|"+rc.Status, nil),
		}); err != nil {
			return false, err
		}
	}
	// A DSN about a message alertd cannot be shown to have sent is kept
	// but is not alertd's to remove; nor is one that reports no failure
	// (delivered, relayed), as nothing of it was kept.
	return recorded && messageID != 0, nil
}

func (s *Service) receiveFeedback(ctx context.Context, rcpt string, r Report) (bool, error) {
	// A reader's complaint is an abuse report, or a fraud (phishing) one; a
	// DMARC failure report (auth-failure), a virus report or a not-spam
	// one is kept but complains of nothing.
	kind := alertd.BounceUnrecognised
	if r.FeedbackType == "abuse" || r.FeedbackType == "fraud" {
		kind = alertd.BounceComplaint
	}
	email := ""
	if r.Original != nil {
		email = r.Original.Get("To")
	}
	messageID := s.ref(rcpt, r)
	_, err := s.Record(ctx, alertd.Bounce{
		Kind: kind, Source: alertd.SourceARF, MessageID: messageID, Email: email,
		Diagnostic: "feedback-type: " + r.FeedbackType, Evidence: r.Evidence, Key: reportKey(r, "", []byte(r.Evidence)),
	})
	return err == nil && messageID != 0, err
}

func (s *Service) receiveUnsubscribe(ctx context.Context, r Report) (bool, error) {
	from, err := mail.ParseAddress(r.Header.Get("From"))
	if err != nil {
		return false, nil
	}
	_, matched, err := s.record(ctx, alertd.Bounce{
		Kind: alertd.BounceUnsubscribe, Source: alertd.SourceMail, Email: from.Address,
		Diagnostic: "unsubscribe request by mail", Key: reportKey(r, from.Address, nil),
	})
	return err == nil && matched, err
}

// ref finds the message a report is about by the one thing in it that
// cannot be forged: a VERP reference whose signature verifies. It looks at
// the envelope recipient first, then the mail's own recipient headers,
// then the quoted original's Return-Path and From; 0 when none verifies.
func (s *Service) ref(rcpt string, r Report) int64 {
	candidates := []string{rcpt}
	for _, name := range []string{"To", "Delivered-To", "X-Original-To"} {
		candidates = append(candidates, r.Header.Values(name)...)
	}
	if r.Original != nil {
		candidates = append(candidates, r.Original.Values("Return-Path")...)
		candidates = append(candidates, r.Original.Values("From")...)
	}
	for _, c := range candidates {
		for _, address := range strings.Split(c, ",") {
			if id, ok := s.signer.AddressMessage(address); ok {
				return id
			}
		}
	}
	return 0
}

// toUnsubscribe reports whether a mail was sent to the unsubscribe
// address: by its envelope recipient, or by its To when it came from a
// mailbox.
func (s *Service) toUnsubscribe(rcpt string, header map[string][]string) bool {
	want := s.rules.UnsubscribeMailto
	if want == "" {
		return false
	}
	if rcpt != "" {
		return strings.EqualFold(strings.Trim(rcpt, "<>"), want)
	}
	to, err := mail.ParseAddressList(strings.Join(header["To"], ", "))
	if err != nil {
		return false
	}
	for _, a := range to {
		if strings.EqualFold(a.Address, want) {
			return true
		}
	}
	return false
}

// reportKey identifies one report, and one recipient of it by part: the
// mail's Message-ID when it has one, else a hash of what it says.
func reportKey(r Report, part string, body []byte) string {
	if id := strings.TrimSpace(r.Header.Get("Message-Id")); id != "" {
		return "mail:" + id + "|" + strings.ToLower(part)
	}
	return evidenceKey(r.Evidence, string(body), strings.ToLower(part))
}
