package webui

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"mailsink/store"
)

// This file is the one place where store types become Mailpit API v1 wire
// shapes. Field names and casing are Mailpit's; our additions use the same
// casing. Slices are never nil, so clients see [] and not null.

// messagesSummary is Mailpit's list and search envelope.
type messagesSummary struct {
	Total          int              `json:"total"`
	Unread         int              `json:"unread"`
	Count          int              `json:"count"` // deprecated by Mailpit, still sent
	MessagesCount  int              `json:"messages_count"`
	MessagesUnread int              `json:"messages_unread"`
	Start          int              `json:"start"`
	Tags           []string         `json:"tags"`
	Messages       []messageSummary `json:"messages"`
	// Cursor (ours) is the store's newest sequence number when the list was
	// made: pass it as after= to see only mail that arrived later.
	Cursor int64 `json:"cursor"`
}

// messageSummary is one item of a list or search.
type messageSummary struct {
	ID          string          `json:"ID"`
	MessageID   string          `json:"MessageID"`
	Read        bool            `json:"Read"`
	From        store.Address   `json:"From"`
	To          []store.Address `json:"To"`
	Cc          []store.Address `json:"Cc"`
	Bcc         []store.Address `json:"Bcc"`
	ReplyTo     []store.Address `json:"ReplyTo"`
	Subject     string          `json:"Subject"`
	Created     time.Time       `json:"Created"`
	Username    string          `json:"Username"`
	Tags        []string        `json:"Tags"`
	Size        int64           `json:"Size"`
	Attachments int             `json:"Attachments"`
	Snippet     string          `json:"Snippet"`
}

// message is Mailpit's Message plus our additions (Created, Read, Parts,
// Headers, Findings, Envelope).
type message struct {
	ID              string          `json:"ID"`
	MessageID       string          `json:"MessageID"`
	From            store.Address   `json:"From"`
	To              []store.Address `json:"To"`
	Cc              []store.Address `json:"Cc"`
	Bcc             []store.Address `json:"Bcc"`
	ReplyTo         []store.Address `json:"ReplyTo"`
	ReturnPath      string          `json:"ReturnPath"`
	Subject         string          `json:"Subject"`
	ListUnsubscribe listUnsubscribe `json:"ListUnsubscribe"`
	Date            time.Time       `json:"Date"`
	Tags            []string        `json:"Tags"`
	Username        string          `json:"Username"`
	Text            string          `json:"Text"`
	HTML            string          `json:"HTML"`
	Size            int64           `json:"Size"`
	Inline          []attachment    `json:"Inline"`
	Attachments     []attachment    `json:"Attachments"`

	Created  time.Time       `json:"Created"`
	Read     bool            `json:"Read"`
	Parts    store.Part      `json:"Parts"`
	Headers  []header        `json:"Headers"`
	Findings []store.Finding `json:"Findings"`
	Envelope store.Envelope  `json:"Envelope"`
	Inbox    string          `json:"Inbox"`
	// Links and Codes spare tests a regex: every URL with its anchor text,
	// and the likely one-time codes.
	Links []store.Link `json:"Links"`
	Codes []string     `json:"Codes"`
	// Remote lists what the preview blocks until the user allows it.
	Remote []store.RemoteRef `json:"Remote"`
}

// header is one header field, raw and with RFC 2047 words decoded, so
// the UI can show both without a charset table of its own.
type header struct {
	Name    string `json:"Name"`
	Value   string `json:"Value"`
	Decoded string `json:"Decoded"`
}

func toHeaders(hs []store.Header) []header {
	out := make([]header, len(hs))
	for i, h := range hs {
		out[i] = header{Name: h.Name, Value: h.Value, Decoded: store.DecodeHeader(h.Value)}
	}
	return out
}

// listUnsubscribe is the parsed List-Unsubscribe header (RFC 2369/8058).
type listUnsubscribe struct {
	Header     string   `json:"Header"`
	Links      []string `json:"Links"`
	Errors     string   `json:"Errors"`
	HeaderPost string   `json:"HeaderPost"`
}

// attachment is one inline part or attachment with checksums of its
// decoded bytes.
type attachment struct {
	PartID      string    `json:"PartID"`
	FileName    string    `json:"FileName"`
	ContentType string    `json:"ContentType"`
	ContentID   string    `json:"ContentID"`
	Size        int64     `json:"Size"`
	Checksums   checksums `json:"Checksums"`
}

type checksums struct {
	MD5    string `json:"MD5"`
	SHA1   string `json:"SHA1"`
	SHA256 string `json:"SHA256"`
}

// appInformation is Mailpit's /api/v1/info reply.
type appInformation struct {
	Version       string         `json:"Version"`
	LatestVersion string         `json:"LatestVersion"`
	Database      string         `json:"Database"`
	DatabaseSize  int64          `json:"DatabaseSize"`
	Messages      int            `json:"Messages"`
	Unread        int            `json:"Unread"`
	Tags          map[string]int `json:"Tags"`
	RuntimeStats  runtimeStats   `json:"RuntimeStats"`
}

// runtimeStats: the SMTP counters and MessagesDeleted are not tracked yet
// and are reported as 0.
type runtimeStats struct {
	Uptime           int64  `json:"Uptime"` // seconds
	Memory           uint64 `json:"Memory"` // bytes obtained from the OS and not released
	MessagesDeleted  int64  `json:"MessagesDeleted"`
	SMTPAccepted     int64  `json:"SMTPAccepted"`
	SMTPAcceptedSize int64  `json:"SMTPAcceptedSize"`
	SMTPRejected     int64  `json:"SMTPRejected"`
	SMTPIgnored      int64  `json:"SMTPIgnored"`
}

// statusBody is the reply of the health probes.
type statusBody struct {
	Status string `json:"status"`
}

// toMessagesSummary builds the list/search envelope: total and unread
// for the whole store, messages_count and messages_unread for the matches
// (the whole store for a plain list), and the cursor.
func toMessagesSummary(st store.Stats, start int, page store.Page) messagesSummary {
	out := messagesSummary{
		Total:          st.Total,
		Unread:         st.Unread,
		Count:          len(page.Messages),
		MessagesCount:  page.Total,
		MessagesUnread: page.Unread,
		Start:          start,
		Tags:           tagNames(st.Tags),
		Messages:       make([]messageSummary, 0, len(page.Messages)),
		Cursor:         page.Cursor,
	}
	for i := range page.Messages {
		out.Messages = append(out.Messages, toMessageSummary(&page.Messages[i]))
	}
	return out
}

func toMessageSummary(m *store.Summary) messageSummary {
	return messageSummary{
		ID:          m.ID,
		MessageID:   m.MessageID,
		Read:        m.Read,
		From:        fromAddress(m.From),
		To:          nonNil(m.To),
		Cc:          nonNil(m.Cc),
		Bcc:         nonNil(m.Bcc),
		ReplyTo:     nonNil(m.ReplyTo),
		Subject:     m.Subject,
		Created:     m.Created.UTC(),
		Username:    m.Username,
		Tags:        nonNil(m.Tags),
		Size:        m.Size,
		Attachments: m.Attachments,
		Snippet:     m.Snippet,
	}
}

// toMessage builds the full message view. sums holds the checksums of the
// inline parts and attachments by part ID.
func toMessage(m *store.Message, sums map[string]checksums) message {
	date := m.Date
	if date.IsZero() {
		date = m.Created
	}
	return message{
		ID:              m.ID,
		MessageID:       m.MessageID,
		From:            fromAddress(m.From),
		To:              nonNil(m.To),
		Cc:              nonNil(m.Cc),
		Bcc:             nonNil(m.Bcc),
		ReplyTo:         nonNil(m.ReplyTo),
		ReturnPath:      m.ReturnPath,
		Subject:         m.Subject,
		ListUnsubscribe: parseListUnsubscribe(m.ListUnsub, m.ListUnsubPost),
		Date:            date.UTC(),
		Tags:            nonNil(m.Tags),
		Username:        m.Username,
		Text:            m.Text,
		HTML:            m.HTML,
		Size:            m.Size,
		Inline:          toAttachments(m.Inline, sums),
		Attachments:     toAttachments(m.Attached, sums),
		Created:         m.Created.UTC(),
		Read:            m.Read,
		Parts:           normalizePart(m.Root),
		Headers:         toHeaders(m.Headers),
		Findings:        nonNil(m.Findings),
		Envelope:        normalizeEnvelope(m.Envelope),
		Inbox:           m.Inbox,
		Links:           store.ExtractLinks(m.Text, m.HTML),
		Codes:           store.ExtractCodes(m.Subject, m.Text, m.HTML),
		Remote:          store.RemoteResources(m.HTML),
	}
}

func toAttachments(parts []store.Part, sums map[string]checksums) []attachment {
	out := make([]attachment, 0, len(parts))
	for _, p := range parts {
		out = append(out, attachment{
			PartID:      p.ID,
			FileName:    p.FileName,
			ContentType: p.ContentType,
			ContentID:   p.ContentID,
			Size:        p.Size,
			Checksums:   sums[p.ID],
		})
	}
	return out
}

// checksumsOf returns the lowercase hex digests of b.
func checksumsOf(b []byte) checksums {
	m := md5.Sum(b)
	s1 := sha1.Sum(b)
	s256 := sha256.Sum256(b)
	return checksums{
		MD5:    hex.EncodeToString(m[:]),
		SHA1:   hex.EncodeToString(s1[:]),
		SHA256: hex.EncodeToString(s256[:]),
	}
}

// toHeaderMap is the /headers reply: textproto canonical keys, values in
// message order, continuation lines unfolded as net/textproto does.
func toHeaderMap(hs []store.Header) map[string][]string {
	out := make(map[string][]string, len(hs))
	for _, h := range hs {
		k := textproto.CanonicalMIMEHeaderKey(h.Name)
		out[k] = append(out[k], unfold(h.Value))
	}
	return out
}

// unfold joins folded header lines with single spaces and trims the
// surrounding white space, like net/textproto.Reader.ReadMIMEHeader.
func unfold(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return strings.TrimSpace(v)
	}
	lines := strings.Split(strings.ReplaceAll(v, "\r\n", "\n"), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, " ")
}

// parseListUnsubscribe extracts the <…> URIs of a List-Unsubscribe header.
// Errors describes what was wrong with a header that is present.
func parseListUnsubscribe(header, post string) listUnsubscribe {
	out := listUnsubscribe{Header: header, HeaderPost: post, Links: []string{}}
	rest := unfold(header)
	var problems []string
	for rest != "" {
		open := strings.IndexByte(rest, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '>')
		if end < 0 {
			problems = append(problems, "unterminated <")
			break
		}
		if link := strings.TrimSpace(rest[open+1 : open+end]); link != "" {
			out.Links = append(out.Links, link)
		}
		rest = rest[open+end+1:]
	}
	if strings.TrimSpace(header) != "" && len(out.Links) == 0 && len(problems) == 0 {
		problems = append(problems, "no <URI> found")
	}
	out.Errors = strings.Join(problems, "; ")
	return out
}

// tagNames returns the tags in use, sorted.
func tagNames(tags map[string]int) []string {
	out := make([]string, 0, len(tags))
	for t := range tags {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

func fromAddress(a *store.Address) store.Address {
	if a == nil {
		return store.Address{}
	}
	return *a
}

func normalizePart(p store.Part) store.Part {
	children := make([]store.Part, 0, len(p.Children))
	for _, c := range p.Children {
		children = append(children, normalizePart(c))
	}
	p.Children = children
	return p
}

func normalizeEnvelope(e store.Envelope) store.Envelope {
	e.MailParams = nonNil(e.MailParams)
	rcpts := make([]store.Recipient, 0, len(e.Rcpts))
	for _, r := range e.Rcpts {
		r.Params = nonNil(r.Params)
		rcpts = append(rcpts, r)
	}
	e.Rcpts = rcpts
	e.Transcript = nonNil(e.Transcript)
	return e
}

// nonNil returns s, or an empty slice when s is nil, so JSON has [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// findPart returns the part with the given Content-ID (without <>) in the
// tree rooted at p.
func findPart(p *store.Part, contentID string) (*store.Part, bool) {
	if p.ContentID != "" && p.ContentID == contentID {
		return p, true
	}
	for i := range p.Children {
		if found, ok := findPart(&p.Children[i], contentID); ok {
			return found, true
		}
	}
	return nil, false
}

// webUIConfig is Mailpit's WebUIConfiguration. Relay, SpamAssassin and
// Rspamd do not exist in mailsink (it never sends mail on), so they are off.
type webUIConfig struct {
	Label               string       `json:"Label"`
	MessageRelay        messageRelay `json:"MessageRelay"`
	SpamAssassin        bool         `json:"SpamAssassin"`
	Rspamd              bool         `json:"Rspamd"`
	ChaosEnabled        bool         `json:"ChaosEnabled"`
	DuplicatesIgnored   bool         `json:"DuplicatesIgnored"`
	HideDeleteAllButton bool         `json:"HideDeleteAllButton"`
}

type messageRelay struct {
	Enabled            bool   `json:"Enabled"`
	SMTPServer         string `json:"SMTPServer"`
	ReturnPath         string `json:"ReturnPath"`
	AllowedRecipients  string `json:"AllowedRecipients"`
	BlockedRecipients  string `json:"BlockedRecipients"`
	OverrideFrom       string `json:"OverrideFrom"`
	PreserveMessageIDs bool   `json:"PreserveMessageIDs"`
	RecipientAllowlist string `json:"RecipientAllowlist"` // deprecated by Mailpit, still sent
}
