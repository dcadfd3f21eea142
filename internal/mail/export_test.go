package mail

// Sign is sign, for the benchmark of DKIM signing in package mail_test.
var Sign = sign

// Wrap and Columns are wrap and columns, for the tests of the text part's
// line breaking.
var (
	Wrap    = wrap
	Columns = columns
)
