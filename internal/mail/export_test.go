package mail

// Sign is sign, for the benchmark of DKIM signing in package mail_test.
var Sign = sign
