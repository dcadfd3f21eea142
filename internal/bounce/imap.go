package bounce

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// The poller's limits.
const (
	// MaxPerPoll is how many messages one poll hands over; the rest wait
	// for the next poll, which goes on from there.
	MaxPerPoll = 200
	// pollTimeout bounds one whole poll, so a server that stops answering
	// holds nothing up past it; the next poll starts afresh.
	pollTimeout = 10 * time.Minute
	dialTimeout = 30 * time.Second
)

// Poller reads bounce and complaint mail from an IMAP mailbox. It hands
// every message it has not handed before to Handle, oldest first, with
// rcpt "", and removes (flags \Deleted, then UID EXPUNGE) only those Handle
// recognised and recorded. It reads with BODY.PEEK, so every other message
// stays exactly as it was, unread included.
//
// Messages are read whether seen or not (a person may have opened a
// bounce). Within one process a message is handed over once: the poller
// remembers the highest UID it has dealt with, and starts again from the
// first message when the process restarts or the mailbox's UIDVALIDITY
// changes; a message handed twice (recorded, then the connection dropped
// before its removal) counts once, as Handle recognises a report already
// recorded. A message over MaxMessageBytes is left alone and logged.
//
// The URL is imaps://user:password@host[:port]/Mailbox (TLS from the
// start, port 993 by default) or imap://… (STARTTLS, port 143 by default;
// a server that does not offer STARTTLS is refused, so the password never
// crosses the network in clear). A Poller is not for concurrent use.
type Poller struct {
	URL    *url.URL
	Every  time.Duration
	Handle Handler
	Log    *slog.Logger
	// TLSConfig is the client's TLS configuration; nil trusts the
	// system's roots for the URL's host.
	TLSConfig *tls.Config

	uidValidity uint32
	next        imap.UID // the lowest UID not yet dealt with
}

// Run polls at once and then every p.Every until ctx ends. A poll that
// fails is logged and tried again at the next tick.
func (p *Poller) Run(ctx context.Context) {
	ticker := time.NewTicker(p.Every)
	defer ticker.Stop()
	for {
		if err := p.Poll(ctx); err != nil && ctx.Err() == nil {
			p.Log.Error("bounce mailbox: poll failed; trying again at the next poll", "mailbox", p.URL.Redacted(), "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Poll reads the mailbox once: it hands over up to MaxPerPoll messages not
// handed before, stops at the first the handler could not take (it is
// offered again next time), and removes those recognised.
func (p *Poller) Poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	c, err := p.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	password, _ := p.URL.User.Password()
	if err := c.Login(p.URL.User.Username(), password).Wait(); err != nil {
		return fmt.Errorf("log in as %s: %w", p.URL.User.Username(), err)
	}
	mailbox := strings.TrimPrefix(p.URL.Path, "/")
	selected, err := c.Select(mailbox, nil).Wait()
	if err != nil {
		return fmt.Errorf("select %s: %w", mailbox, err)
	}
	if selected.UIDValidity != p.uidValidity || p.next == 0 {
		p.uidValidity, p.next = selected.UIDValidity, 1
	}
	if selected.NumMessages == 0 {
		return nil
	}

	uids, err := p.unhanded(c)
	if err != nil {
		return err
	}
	next := p.next
	var recognised imap.UIDSet
	for _, msg := range uids {
		if msg.RFC822Size > MaxMessageBytes {
			p.Log.Warn("bounce mailbox: message left alone, too big to be a bounce", "uid", msg.UID, "bytes", msg.RFC822Size)
			next = msg.UID + 1
			continue
		}
		raw, err := fetchBody(c, msg.UID)
		if err != nil {
			return err
		}
		ok, err := p.Handle(ctx, "", raw)
		if err != nil {
			p.Log.Error("bounce mailbox: message not taken; offered again at the next poll", "uid", msg.UID, "err", err)
			break
		}
		if ok {
			recognised.AddNum(msg.UID)
		}
		next = msg.UID + 1
	}
	if len(recognised) > 0 {
		if err := p.remove(c, recognised); err != nil {
			return err
		}
	}
	p.next = next
	// The work is done; closing the connection (deferred) ends the session
	// without waiting for the server's goodbye.
	return nil
}

func (p *Poller) dial(ctx context.Context) (*imapclient.Client, error) {
	host := p.URL.Hostname()
	port := p.URL.Port()
	if port == "" {
		port = map[string]string{"imaps": "993", "imap": "143"}[p.URL.Scheme]
	}
	dialer := &net.Dialer{Timeout: dialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", p.URL.Host, err)
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	config := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if p.TLSConfig != nil {
		config = p.TLSConfig.Clone()
	}
	options := &imapclient.Options{TLSConfig: config}
	if p.URL.Scheme == "imap" {
		c, err := imapclient.NewStartTLS(conn, options)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("STARTTLS with %s: %w", p.URL.Host, err)
		}
		return c, nil
	}
	tlsConn := tls.Client(conn, config)
	if err := tlsConn.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("TLS with %s: %w", p.URL.Host, err)
	}
	return imapclient.New(tlsConn, options), nil
}

// unhanded lists the UIDs and sizes of the messages not yet dealt with,
// oldest first, at most MaxPerPoll.
func (p *Poller) unhanded(c *imapclient.Client) ([]*imapclient.FetchMessageBuffer, error) {
	var from imap.UIDSet
	from.AddRange(p.next, 0) // p.next:*
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{from}}, nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	// "n:*" names the last message even when its UID is below n.
	uids := slices.DeleteFunc(found.AllUIDs(), func(uid imap.UID) bool { return uid < p.next })
	if len(uids) == 0 {
		return nil, nil
	}
	slices.Sort(uids)
	uids = uids[:min(len(uids), MaxPerPoll)]
	msgs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch sizes: %w", err)
	}
	slices.SortFunc(msgs, func(a, b *imapclient.FetchMessageBuffer) int { return int(a.UID) - int(b.UID) })
	return msgs, nil
}

// fetchBody reads one whole message without setting \Seen.
func fetchBody(c *imapclient.Client, uid imap.UID) ([]byte, error) {
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("fetch message %d: %w", uid, err)
	}
	if len(msgs) == 0 {
		return nil, fmt.Errorf("fetch message %d: %w", uid, errGone)
	}
	return msgs[0].FindBodySection(section), nil
}

var errGone = errors.New("the message is no longer in the mailbox")

// remove flags the messages \Deleted and expunges exactly them. A server
// without UID EXPUNGE (UIDPLUS) keeps them flagged until the mailbox is
// expunged: a plain EXPUNGE would also remove what others flagged.
func (p *Poller) remove(c *imapclient.Client, uids imap.UIDSet) error {
	flags := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(uids, flags, nil).Close(); err != nil {
		return fmt.Errorf("flag recorded messages deleted: %w", err)
	}
	if caps := c.Caps(); !caps.Has(imap.CapUIDPlus) && !caps.Has(imap.CapIMAP4rev2) {
		p.Log.Warn("bounce mailbox: the server has no UID EXPUNGE; recorded messages stay flagged \\Deleted until the mailbox is expunged")
		return nil
	}
	if err := c.UIDExpunge(uids).Close(); err != nil {
		return fmt.Errorf("expunge recorded messages: %w", err)
	}
	return nil
}
