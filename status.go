package alertd

import "regexp"

// enhancedStatus matches an enhanced mail system status code (RFC 3463):
// class 2, 4 or 5, then a subject and a detail of up to three digits each.
var enhancedStatus = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// EnhancedStatus returns the first enhanced status code, such as "5.1.1", in
// text (an SMTP reply, a DSN's Status field), or "" when it holds none.
func EnhancedStatus(text string) string {
	return enhancedStatus.FindString(text)
}
