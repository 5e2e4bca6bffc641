package smtpd

import (
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Path and parameter syntax errors. Each is a reply, so the verb
// handlers answer with the parser's verdict unchanged.
//
// Classification (documented choice):
//   - missing "FROM:"/"TO:", missing or unbalanced angle brackets,
//     a path over 256 octets (RFC 5321 §4.5.3.1.10 "501 Path too long")
//     and bad parameter syntax → 501 5.5.4;
//   - a bracketed path whose mailbox does not parse (e.g. <a@>, <@>,
//     <a b@c>, a bad address literal) → 553 5.1.7 for MAIL, 553 5.1.3 for RCPT;
//   - non-ASCII in a path without SMTPUTF8 → 553 5.6.7.
var (
	errPathSyntax   = &Error{Code: 501, Enhanced: "5.5.4", Message: "Syntax: path must be <mailbox>"}
	errPathTooLong  = &Error{Code: 501, Enhanced: "5.5.4", Message: "Path too long"}
	errSenderSyntax = &Error{Code: 553, Enhanced: "5.1.7", Message: "Bad sender address syntax"}
	errRcptSyntax   = &Error{Code: 553, Enhanced: "5.1.3", Message: "Bad recipient address syntax"}
	errNeedUTF8     = &Error{Code: 553, Enhanced: "5.6.7", Message: "Non-ASCII address requires SMTPUTF8"}
	errParamSyntax  = &Error{Code: 501, Enhanced: "5.5.4", Message: "Bad parameter syntax"}
	errParamDup     = &Error{Code: 501, Enhanced: "5.5.4", Message: "Duplicate parameter"}
)

// maxPathLen is the RFC 5321 §4.5.3.1.3 limit for a path, brackets included.
const maxPathLen = 256

// parseCommand splits a command line into its upper-cased verb and its
// argument (leading and trailing spaces trimmed). A verb that is not
// 1–12 ASCII letters comes back as "" (unknown command).
func parseCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	arg = strings.Trim(arg, " \t")
	if verb == "" || len(verb) > 12 {
		return "", arg
	}
	for i := 0; i < len(verb); i++ {
		c := verb[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return "", arg
		}
	}
	return strings.ToUpper(verb), arg
}

// splitPathArg splits the argument of MAIL/RCPT ("FROM:<path> params")
// into the bracketed path and the parameter string. keyword is "FROM:"
// or "TO:" and matches case-insensitively; spaces after the colon are
// tolerated. ok is false when the keyword or the brackets are missing.
func splitPathArg(arg, keyword string) (path, params string, ok bool) {
	if len(arg) < len(keyword) || !strings.EqualFold(arg[:len(keyword)], keyword) {
		return "", "", false
	}
	rest := strings.TrimLeft(arg[len(keyword):], " ")
	if !strings.HasPrefix(rest, "<") {
		return "", "", false
	}
	inQuote := false
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '\\' && inQuote:
			i++ // quoted-pair: skip the escaped octet
		case c == '"':
			inQuote = !inQuote
		case c == '>' && !inQuote:
			path, params = rest[:i+1], rest[i+1:]
			if params != "" && params[0] != ' ' {
				return "", "", false
			}
			return path, strings.Trim(params, " "), true
		}
	}
	return "", "", false
}

// parsePath validates a bracketed path and returns the mailbox with any
// source route dropped. "<>" yields "" (the null path; the caller decides
// whether it is allowed). A bare "<Postmaster>" (any case) is accepted
// when postmaster is true. utf8ok permits RFC 6531 UTF-8 in the mailbox.
// bad is the reply used for a malformed mailbox.
func parsePath(path string, utf8ok, postmaster bool, bad *Error) (string, *Error) {
	if len(path) < 2 || path[0] != '<' || path[len(path)-1] != '>' {
		return "", errPathSyntax
	}
	if len(path) > maxPathLen {
		return "", errPathTooLong
	}
	inner := path[1 : len(path)-1]
	if inner == "" {
		return "", nil
	}
	if hasNonASCII(inner) {
		if !utf8ok {
			return "", errNeedUTF8
		}
		if !utf8.ValidString(inner) {
			return "", bad
		}
	}
	if postmaster && strings.EqualFold(inner, "postmaster") {
		return inner, nil
	}
	if inner[0] == '@' {
		route, mbox, ok := strings.Cut(inner, ":")
		if !ok {
			return "", bad
		}
		for _, d := range strings.Split(route, ",") {
			if len(d) < 2 || d[0] != '@' || !validDomain(d[1:]) {
				return "", bad
			}
		}
		inner = mbox
	}
	if !validMailbox(inner) {
		return "", bad
	}
	return inner, nil
}

func hasNonASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// validMailbox checks Local-part "@" (Domain / address-literal).
func validMailbox(s string) bool {
	var local, domain string
	if strings.HasPrefix(s, `"`) {
		end := quotedEnd(s)
		if end < 0 || end+1 >= len(s) || s[end+1] != '@' {
			return false
		}
		local, domain = s[:end+1], s[end+2:]
	} else {
		var ok bool
		local, domain, ok = strings.Cut(s, "@")
		if !ok || !validDotString(local) {
			return false
		}
	}
	if local == "" {
		return false
	}
	if strings.HasPrefix(domain, "[") {
		return validAddressLiteral(domain)
	}
	return validDomain(domain)
}

// quotedEnd returns the index of the closing DQUOTE of the quoted string
// at the start of s, or -1 when it is malformed.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) || (s[i+1] < 32 || s[i+1] == 127) {
				return -1
			}
			i++
		case c == '"':
			return i
		case c < 32 || c == 127: // qtextSMTP is %d32-33 / %d35-91 / %d93-126 (+ UTF-8)
			return -1
		}
	}
	return -1
}

func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0 || c >= 0x80
}

func validDotString(s string) bool {
	if s == "" {
		return false
	}
	for _, atom := range strings.Split(s, ".") {
		if atom == "" {
			return false
		}
		for i := 0; i < len(atom); i++ {
			if !isAtext(atom[i]) {
				return false
			}
		}
	}
	return true
}

// validDomain checks sub-domain *("." sub-domain) where a sub-domain is
// Let-dig [Ldh-str]; octets ≥ 0x80 count as letters (U-labels), which
// parsePath only lets through with SMTPUTF8.
func validDomain(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c >= 0x80) {
				return false
			}
		}
	}
	return true
}

// validAddressLiteral checks "[IPv4]" and "[IPv6:addr]"; general address
// literals (tag:content) are not supported and rejected.
func validAddressLiteral(s string) bool {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	lit := s[1 : len(s)-1]
	if len(lit) > 5 && strings.EqualFold(lit[:5], "IPv6:") {
		a, err := netip.ParseAddr(lit[5:])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	a, err := netip.ParseAddr(lit)
	return err == nil && a.Is4()
}

// parseParams splits "KEY[=VALUE] KEY[=VALUE]…" (RFC 5321 esmtp-param).
// Keys are upper-cased, values kept verbatim; a duplicate key or bad
// syntax is a 501 5.5.4.
func parseParams(s string) ([]Param, *Error) {
	var params []Param
	for _, f := range strings.Split(s, " ") {
		if f == "" {
			continue
		}
		key, value, hasValue := strings.Cut(f, "=")
		if !validKeyword(key) || hasValue && !validParamValue(value) {
			return nil, errParamSyntax
		}
		key = strings.ToUpper(key)
		for _, p := range params {
			if p.Key == key {
				return nil, errParamDup
			}
		}
		params = append(params, Param{Key: key, Value: value})
	}
	return params, nil
}

// validKeyword checks (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
func validKeyword(k string) bool {
	if k == "" || k[0] == '-' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validParamValue checks 1*(%d33-60 / %d62-126), plus UTF-8 (RFC 6531).
func validParamValue(v string) bool {
	if v == "" || !utf8.ValidString(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 33 || c == '=' || c == 127 {
			return false
		}
	}
	return true
}

// validXtext checks RFC 3461 xtext: printable ASCII except "+" and "=",
// with "+" introducing two upper-case hex digits.
func validXtext(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) || !isUpperHex(s[i+1]) || !isUpperHex(s[i+2]) {
				return false
			}
			i += 2
		case c < 33 || c > 126 || c == '=':
			return false
		}
	}
	return true
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// validHeloArg accepts one printable-ASCII word of up to 255 octets: a
// domain, an address literal or (leniently) anything similar.
func validHeloArg(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 32 || s[i] >= 127 {
			return false
		}
	}
	return true
}
