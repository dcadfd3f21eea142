package store

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/alertd/alertd"
)

// SubscriberSearch asks for one page of subscribers, for the dashboard.
type SubscriberSearch struct {
	// Prefix keeps the addresses whose key starts with it, in key order.
	Prefix string
	// Domain ("@example.org") keeps the addresses of that domain, newest
	// first. With neither, every subscriber is listed, newest first.
	Domain string
	Status alertd.SubscriberStatus // "" for any
	Topic  string                  // "" for any
	// After is the Next of the page before; "" for the first page.
	After string
	Limit int
	// Budget caps how many subscribers a page looks at to apply the
	// filters its index does not serve, so that a filter nothing matches
	// answers as fast as one everything matches.
	Budget int
}

// SubscriberPage is one page of a search.
type SubscriberPage struct {
	Subscribers []alertd.Subscriber
	// Next resumes the search after this page; "" when it has reached the
	// end.
	Next string
	// Searched is true when the page stopped at the budget before it
	// was full: there may be more matches after Next.
	Searched bool
}

// searchDomain is the expression subscribers_domain indexes.
const searchDomain = "substr(email_key, instr(email_key, '@'))"

// SearchSubscribers returns one page of subscribers. Every page is a range
// of one index read from the previous page's last key (never an offset),
// so the thousandth page costs what the first does.
func (t *Tx) SearchSubscribers(q SubscriberSearch) (SubscriberPage, error) {
	byKey := q.Prefix != ""
	var (
		scope []string // what the index serves
		args  []any
		rest  []string // what is checked row by row
		rargs []any
	)
	if byKey {
		scope = append(scope, "email_key >= ?", "email_key < ?")
		args = append(args, q.Prefix, prefixEnd(q.Prefix))
		if q.After != "" {
			scope = append(scope, "email_key > ?")
			args = append(args, q.After)
		}
		if q.Status != "" {
			// The unary + keeps the planner on the key's index: the status
			// index would read every subscriber with the status and sort them.
			rest = append(rest, "+status = ?")
			rargs = append(rargs, q.Status)
		}
	} else {
		if q.After != "" {
			id, err := strconv.ParseInt(q.After, 10, 64)
			if err != nil {
				return SubscriberPage{}, alertd.Errorf(alertd.Invalid, "bad page cursor %q", q.After)
			}
			scope = append(scope, "id < ?")
			args = append(args, id)
		}
		switch {
		case q.Domain != "":
			scope = append(scope, searchDomain+" = ?")
			args = append(args, q.Domain)
			if q.Status != "" {
				rest = append(rest, "+status = ?")
				rargs = append(rargs, q.Status)
			}
		case q.Status != "":
			scope = append(scope, "status = ?")
			args = append(args, q.Status)
		}
	}
	if q.Topic != "" {
		quoted, _ := json.Marshal(q.Topic) // a string always marshals
		rest = append(rest, "instr(topics, ?) > 0")
		rargs = append(rargs, string(quoted))
	}
	key, order, boundary := "id", "id DESC", "min"
	if byKey {
		key, order, boundary = "email_key", "email_key", "max"
	}
	where := func(conds []string) string {
		if len(conds) == 0 {
			return ""
		}
		return " WHERE " + strings.Join(conds, " AND ")
	}

	// With filters the index does not serve, the page first finds how far
	// the budget reaches, and looks no further.
	var page SubscriberPage
	var bound any
	if len(rest) > 0 {
		var (
			n    int
			last any
		)
		err := t.queryRow("SELECT count(*), "+boundary+"(k) FROM (SELECT "+key+" AS k FROM subscribers"+
			where(scope)+" ORDER BY "+order+" LIMIT ?)", append(args, q.Budget)...).Scan(&n, &last)
		if err != nil {
			return page, err
		}
		if n >= q.Budget {
			bound = last
			if byKey {
				// The bound replaces the prefix's end: given both, the
				// planner would take the end and read the whole prefix.
				scope[1], args[1] = "email_key <= ?", last
			} else {
				scope = append(scope, "id >= ?")
				args = append(args, last)
			}
		}
	}

	rows, err := t.query("SELECT "+subscriberColumns+" FROM subscribers"+where(append(scope, rest...))+
		" ORDER BY "+order+" LIMIT ?", append(append(args, rargs...), q.Limit+1)...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		sub, err := scanSubscriber(rows)
		if err != nil {
			return page, err
		}
		page.Subscribers = append(page.Subscribers, sub)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	switch {
	case len(page.Subscribers) > q.Limit:
		page.Subscribers = page.Subscribers[:q.Limit]
		last := page.Subscribers[q.Limit-1]
		if byKey {
			page.Next = strings.ToLower(last.Email)
		} else {
			page.Next = strconv.FormatInt(last.ID, 10)
		}
	case bound != nil:
		page.Searched = true
		if byKey {
			page.Next = bound.(string)
		} else {
			page.Next = strconv.FormatInt(bound.(int64), 10)
		}
	}
	return page, nil
}

// prefixEnd returns the least string greater than every string that starts
// with prefix (which is not empty): the prefix with its last byte raised
// by one. No byte of a UTF-8 key is 0xff, so there is no carry.
func prefixEnd(prefix string) string {
	end := []byte(prefix)
	end[len(end)-1]++
	return string(end)
}
