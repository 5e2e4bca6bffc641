package store_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailsink/store"
)

// pubCorpusDir is the public corpus of real-world messages.
const pubCorpusDir = "../../shared/testdata-public"

// pubCorpus returns the paths of the corpus .eml files, or skips when the
// corpus is absent (fails when MAILSINK_REQUIRE_CORPUS is set).
func pubCorpus(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(pubCorpusDir, "*.eml"))
	if err == nil && len(files) == 0 {
		_, err = os.Stat(pubCorpusDir)
		if err == nil {
			err = os.ErrNotExist
		}
	}
	if err != nil {
		if os.Getenv("MAILSINK_REQUIRE_CORPUS") != "" {
			tb.Fatalf("corpus required: %v", err)
		}
		tb.Skipf("corpus absent: %v", err)
	}
	return files
}

// pubRead reads one corpus file by name.
func pubRead(tb testing.TB, name string) []byte {
	tb.Helper()
	pubCorpus(tb)
	raw, err := os.ReadFile(filepath.Join(pubCorpusDir, name))
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

// pubSplit is a deliberately simple header reader: the top-level fields
// of raw in order (folding kept as CRLF + white space, as on the wire),
// and the body after the first empty line. Lines that are not fields are
// skipped.
func pubSplit(raw []byte) ([]store.Header, []byte) {
	hs := []store.Header{}
	rest := raw
	for len(rest) > 0 {
		line := rest
		next := []byte(nil)
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			line, next = rest[:i], rest[i+1:]
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		rest = next
		if len(line) == 0 {
			return hs, rest
		}
		if line[0] == ' ' || line[0] == '\t' {
			if n := len(hs); n > 0 {
				hs[n-1].Value += "\r\n" + string(line)
			}
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
			continue
		}
		hs = append(hs, store.Header{Name: string(name), Value: strings.TrimSpace(string(value))})
	}
	return hs, nil
}

// rcv is a one-header chain input.
func rcv(values ...string) []store.Header {
	hs := make([]store.Header, len(values))
	for i, v := range values {
		hs[i] = store.Header{Name: "Received", Value: v}
	}
	return hs
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestReceivedParse parses one real-world Received form per row.
func TestReceivedParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		want  store.Hop // Raw, Time and Delay are checked separately
		time  string    // RFC 3339; "" = zero
	}{
		{
			name:  "mailsink own",
			value: "from app.test (localhost [127.0.0.1])\r\n\tby mx.test (mailsink) with UTF8SMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256) id X;\r\n\tThu, 26 Nov 2026 11:15:08 +0000",
			want: store.Hop{From: "app.test (localhost [127.0.0.1])", FromHost: "app.test", FromIP: "127.0.0.1",
				By: "mx.test", With: "UTF8SMTPSA", ID: "X", TLS: "TLS1.3 TLS_AES_128_GCM_SHA256", Secure: true},
			time: "2026-11-26T11:15:08Z",
		},
		{
			name:  "rfc 5321 plain, IPv6 literal",
			value: "from mail.example.test (mail.example.test [IPv6:2001:db8::25]) by mx.example.net with ESMTP id 4Xz; Mon, 2 Mar 2026 09:00:00 -0500",
			want: store.Hop{From: "mail.example.test (mail.example.test [IPv6:2001:db8::25])", FromHost: "mail.example.test",
				FromIP: "2001:db8::25", By: "mx.example.net", With: "ESMTP", ID: "4Xz"},
			time: "2026-03-02T09:00:00-05:00",
		},
		{
			name: "postfix with TLS comment after from",
			value: "from mail-ed1-f41.google.test (mail-ed1-f41.google.test [209.85.208.41])\n" +
				"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n" +
				"\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\n" +
				"\t(No client certificate requested)\n" +
				"\tby mx.example.net (Postfix) with ESMTPS id 4FqX0k1Zz9sRN\n" +
				"\tfor <user@example.net>; Tue, 21 Sep 2021 10:11:12 +0200 (CEST)",
			want: store.Hop{From: "mail-ed1-f41.google.test (mail-ed1-f41.google.test [209.85.208.41])",
				FromHost: "mail-ed1-f41.google.test", FromIP: "209.85.208.41", By: "mx.example.net", With: "ESMTPS",
				ID: "4FqX0k1Zz9sRN", For: "user@example.net",
				TLS:    "using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
				Secure: true},
			time: "2021-09-21T10:11:12+02:00",
		},
		{
			name:  "gmail internal by 2002: with SMTP",
			value: "by 2002:a05:6a10:8e0c:b0:4a3:2b1e:5c7f with SMTP id u12csp3417025pxg;\r\n        Mon, 8 Jan 2024 04:05:06 -0800 (PST)",
			want:  store.Hop{By: "2002:a05:6a10:8e0c:b0:4a3:2b1e:5c7f", With: "SMTP", ID: "u12csp3417025pxg"},
			time:  "2024-01-08T04:05:06-08:00",
		},
		{
			name:  "gmail mx SMTPS, Google Transport Security",
			value: "from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id t3-20020a17090a2f83sor335081pjd.34.2022.07.26.20.45.07 for <recipient@example.com> (Google Transport Security); Tue, 26 Jul 2022 20:45:07 -0700 (PDT)",
			want: store.Hop{From: "mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41])", FromHost: "mail-sor-f41.google.com",
				FromIP: "209.85.220.41", By: "mx.google.com", With: "SMTPS", ID: "t3-20020a17090a2f83sor335081pjd.34.2022.07.26.20.45.07",
				For: "recipient@example.com", Secure: true},
			time: "2022-07-26T20:45:07-07:00",
		},
		{
			name:  "gmail submission ESMTPSA version= cipher=",
			value: "from [192.168.1.2] ([8.8.8.8]) by smtp.gmail.com with ESMTPSA id oj16-2022 for <r@example.com> (version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128); Tue, 26 Jul 2022 20:42:33 -0700 (PDT)",
			want: store.Hop{From: "[192.168.1.2] ([8.8.8.8])", FromHost: "[192.168.1.2]", FromIP: "8.8.8.8", By: "smtp.gmail.com",
				With: "ESMTPSA", ID: "oj16-2022", For: "r@example.com", TLS: "version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256 bits=128/128", Secure: true},
			time: "2022-07-26T20:42:33-07:00",
		},
		{
			name:  "exim 4.94 tls pair and envelope-from",
			value: "from mail.sender.test ([198.51.100.7] helo=smtp.sender.test)\n\tby mx.example.org with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384\n\t(Exim 4.94.2)\n\t(envelope-from <bounce@sender.test>)\n\tid 1lR2bC-0004xY-Ab\n\tfor alice@example.org; Sat, 03 Apr 2021 12:00:01 +0000",
			want: store.Hop{From: "mail.sender.test ([198.51.100.7] helo=smtp.sender.test)", FromHost: "smtp.sender.test",
				FromIP: "198.51.100.7", By: "mx.example.org", With: "esmtps", ID: "1lR2bC-0004xY-Ab", For: "alice@example.org",
				TLS: "TLS1.3 TLS_AES_256_GCM_SHA384", Secure: true},
			time: "2021-04-03T12:00:01Z",
		},
		{
			name:  "old exim port after literal, TLSv1 triple",
			value: "from mta2.relay2.example.org ([192.0.2.222]:22222) by nyaan.example.com with esmtps (TLSv1:DHE-RSA-AES256-SHA:256) (Exim 4.81) (envelope-from <nyaan@neko.example.org>) id 2NEKOS-222222-22 for neko@libsisimai.org; Thu, 29 Apr 2005 23:34:45 +0900",
			want: store.Hop{From: "mta2.relay2.example.org ([192.0.2.222]:22222)", FromHost: "mta2.relay2.example.org",
				FromIP: "192.0.2.222", By: "nyaan.example.com", With: "esmtps", ID: "2NEKOS-222222-22", For: "neko@libsisimai.org",
				TLS: "TLSv1:DHE-RSA-AES256-SHA:256", Secure: true},
			time: "2005-04-29T23:34:45+09:00",
		},
		{
			name:  "exim helo literal: FromIP is the peer, not the HELO",
			value: "from [82.38.65.6] (helo=[10.0.0.27]) by asmtp-out5.blueyonder.co.uk with esmtpa (Exim 4.52) id 1K0HMU-0001A2-3q for rdonkin@apache.org; Sun, 25 May 2008 15:38:14 +0100",
			want: store.Hop{From: "[82.38.65.6] (helo=[10.0.0.27])", FromHost: "[10.0.0.27]", FromIP: "82.38.65.6",
				By: "asmtp-out5.blueyonder.co.uk", With: "esmtpa", ID: "1K0HMU-0001A2-3q", For: "rdonkin@apache.org"},
			time: "2008-05-25T15:38:14+01:00",
		},
		{
			name:  "sendmail version= after id",
			value: "from e06smtp10.uk.ibm.com (e06smtp10.uk.ibm.com [195.75.94.106])\n\tby mx0b.pphosted.com (8.16.0.20/8.16.0.20) with ESMTPS id 292hw54kbu-1\n\t(version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NOT)\n\tfor <lina@dududu.it>; Wed, 08 Mar 2017 11:46:27 -0500",
			want: store.Hop{From: "e06smtp10.uk.ibm.com (e06smtp10.uk.ibm.com [195.75.94.106])", FromHost: "e06smtp10.uk.ibm.com",
				FromIP: "195.75.94.106", By: "mx0b.pphosted.com", With: "ESMTPS", ID: "292hw54kbu-1", For: "lina@dududu.it",
				TLS: "version=TLSv1.2 cipher=ECDHE-RSA-AES256-GCM-SHA384 bits=256 verify=NOT", Secure: true},
			time: "2017-03-08T11:46:27-05:00",
		},
		{
			name:  "exchange bare IPv6 comments, via",
			value: "from DM6PR11MB4react.namprd11.prod.outlook.test (2603:10b6:5:1c0::11) by BN9PR11MB5322.namprd11.prod.outlook.test (2603:10b6:408:133::12) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.5458.18 via Frontend Transport; Thu, 14 Jul 2022 08:09:10 +0000",
			want: store.Hop{From: "DM6PR11MB4react.namprd11.prod.outlook.test (2603:10b6:5:1c0::11)", FromHost: "DM6PR11MB4react.namprd11.prod.outlook.test",
				FromIP: "2603:10b6:5:1c0::11", By: "BN9PR11MB5322.namprd11.prod.outlook.test", With: "Microsoft SMTP Server", ID: "15.20.5458.18",
				TLS: "version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", Secure: true},
			time: "2022-07-14T08:09:10Z",
		},
		{
			name:  "qmail invoked, no clauses, no day name",
			value: "(qmail 18554 invoked from network); 25 May 2008 14:38:53 -0000",
			want:  store.Hop{},
			time:  "2008-05-25T14:38:53Z",
		},
		{
			name:  "qmail HELO in comment, envelope-sender not in From",
			value: "from unknown (HELO p3presmtp01-16.prod.phx3.secureserver.net)\n        ([208.109.80.165]) (envelope-sender <rdonkin-owner@locus.apache.org>) by\n        smtp20-01.prod.mesa1.secureserver.net (qmail-1.03) with SMTP for\n        <asf@xmlmapt.org>; 25 May 2008 14:38:53 -0000",
			want: store.Hop{From: "unknown (HELO p3presmtp01-16.prod.phx3.secureserver.net) ([208.109.80.165])",
				FromHost: "p3presmtp01-16.prod.phx3.secureserver.net", FromIP: "208.109.80.165",
				By: "smtp20-01.prod.mesa1.secureserver.net", With: "SMTP", For: "asf@xmlmapt.org"},
			time: "2008-05-25T14:38:53Z",
		},
		{
			name:  "missing from, from inside comment",
			value: "by rubyforge.org (Postfix, from userid 502) id 8FB1518581AC; Mon, 22 Sep 2008 15:06:28 -0400 (EDT)",
			want:  store.Hop{By: "rubyforge.org", ID: "8FB1518581AC"},
			time:  "2008-09-22T15:06:28-04:00",
		},
		{
			name:  "nested comment with ';' and ')' inside",
			value: "by sina.hpc.uh.edu (TLB v0.09a (1.20 tibbs 1996/10/09 22:03:07; x)); Thu, 30 Apr 1998 14:26:26 -0500 (CDT)",
			want:  store.Hop{By: "sina.hpc.uh.edu"},
			time:  "1998-04-30T14:26:26-05:00",
		},
		{
			name:  "rfc 5322 appendix trace with via",
			value: "from x.y.test\n   by example.net\n   via TCP\n   with ESMTP\n   id ABC12345\n   for <mary@example.net>;  21 Nov 1997 10:05:43 -0600",
			want:  store.Hop{From: "x.y.test", FromHost: "x.y.test", By: "example.net", With: "ESMTP", ID: "ABC12345", For: "mary@example.net"},
			time:  "1997-11-21T10:05:43-06:00",
		},
		{
			name:  "via ends the with clause (qmail-scanner)",
			value: "from zak.futurequest.net ([127.0.0.1]) by localhost ([127.0.0.1]) with SMTP via TCP; 06 May 2005 10:58:40 -0000",
			want: store.Hop{From: "zak.futurequest.net ([127.0.0.1])", FromHost: "zak.futurequest.net", FromIP: "127.0.0.1",
				By: "localhost", With: "SMTP"},
			time: "2005-05-06T10:58:40Z",
		},
		{
			name:  "TLS comment before the date (IBM)",
			value: "from smtp.notes.test (192.155.248.67) by d50lp03.ny.us.ibm.test (158.87.18.22) with IBM ESMTP SMTP Gateway: Authorized Use Only! Violators will be prosecuted; (version=TLSv1/SSLv3 cipher=AES128-GCM-SHA256 bits=128/128) Wed, 8 Mar 2017 11:46:17 -0500",
			want: store.Hop{From: "smtp.notes.test (192.155.248.67)", FromHost: "smtp.notes.test", FromIP: "192.155.248.67",
				By: "d50lp03.ny.us.ibm.test", With: "IBM ESMTP SMTP Gateway: Authorized Use Only! Violators will be prosecuted",
				TLS: "version=TLSv1/SSLv3 cipher=AES128-GCM-SHA256 bits=128/128", Secure: true},
			time: "2017-03-08T11:46:17-05:00",
		},
		{
			name:  "repeated from keyword later is ignored; extra ';' in clauses",
			value: "from localhost by e06smtp10.uk.ibm.test with IBM ESMTP for <a@b.test> from <c@d.test>; id 04EK; Wed, 8 Mar 2017 16:46:25 -0000",
			want:  store.Hop{From: "localhost", FromHost: "localhost", By: "e06smtp10.uk.ibm.test", With: "IBM ESMTP", ID: "04EK", For: "a@b.test"},
			time:  "2017-03-08T16:46:25Z",
		},
		{
			name:  "ESMTPA is not secure",
			value: "from a.test (a.test [192.0.2.1]) by b.test with ESMTPA id 1; Fri, 1 Jan 2021 00:00:00 +0000",
			want:  store.Hop{From: "a.test (a.test [192.0.2.1])", FromHost: "a.test", FromIP: "192.0.2.1", By: "b.test", With: "ESMTPA", ID: "1"},
			time:  "2021-01-01T00:00:00Z",
		},
		{
			name:  "LMTPSA",
			value: "from a.test by b.test with LMTPSA; Fri, 1 Jan 2021 00:00:00 +0000",
			want:  store.Hop{From: "a.test", FromHost: "a.test", By: "b.test", With: "LMTPSA", Secure: true},
			time:  "2021-01-01T00:00:00Z",
		},
		{
			name:  "Exchange (TLS) comment",
			value: "from DB3.outlook.test (8.140.15.112) by DB4.outlook.test (8.140.15.113) with Microsoft SMTP Server (TLS) id 15.0.898.11; Fri, 14 Mar 2014 09:52:32 +0000",
			want: store.Hop{From: "DB3.outlook.test (8.140.15.112)", FromHost: "DB3.outlook.test", FromIP: "8.140.15.112", By: "DB4.outlook.test",
				With: "Microsoft SMTP Server", ID: "15.0.898.11", TLS: "TLS", Secure: true},
			time: "2014-03-14T09:52:32Z",
		},
		{
			name:  "from clause of only a comment; literal word after host",
			value: "from unknown [192.0.2.41] by smtp-gw5.example.co.jp with ESMTP id 00000000; Thu, 29 Apr 2009 23:45:07 +0900",
			want:  store.Hop{From: "unknown [192.0.2.41]", FromHost: "unknown", FromIP: "192.0.2.41", By: "smtp-gw5.example.co.jp", With: "ESMTP", ID: "00000000"},
			time:  "2009-04-29T23:45:07+09:00",
		},
		{
			name:  "no ';' before the date",
			value: "from a.test by b.test with SMTP id QQ1 Mon, 2 Jan 2006 15:04:05 -0700",
			want:  store.Hop{From: "a.test", FromHost: "a.test", By: "b.test", With: "SMTP", ID: "QQ1"},
			time:  "2006-01-02T15:04:05-07:00",
		},
		{
			name:  "unparseable date leaves zero time",
			value: "from a.test by b.test with SMTP; yesterday at noon",
			want:  store.Hop{From: "a.test", FromHost: "a.test", By: "b.test", With: "SMTP"},
		},
		{name: "empty", value: "", want: store.Hop{}},
		{name: "garbage", value: "((( <<< [[[ ;;; \"", want: store.Hop{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hops := store.ReceivedChain(rcv(tt.value))
			if len(hops) != 1 {
				t.Fatalf("got %d hops, want 1", len(hops))
			}
			got := hops[0]
			wantRaw := strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(tt.value))
			if got.Raw != wantRaw {
				t.Errorf("Raw = %q, want %q", got.Raw, wantRaw)
			}
			if got.Delay != nil || got.Warning != "" {
				t.Errorf("single hop: Delay = %v, Warning = %q; want nil, \"\"", got.Delay, got.Warning)
			}
			var want time.Time
			if tt.time != "" {
				want = mustTime(t, tt.time)
			}
			if !got.Time.Equal(want) {
				t.Errorf("Time = %v, want %v", got.Time, want)
			}
			if want.IsZero() != got.Time.IsZero() {
				t.Errorf("Time.IsZero = %v, want %v", got.Time.IsZero(), want.IsZero())
			}
			got.Raw, got.Time = "", time.Time{}
			if got != tt.want {
				t.Errorf("hop =\n  %+v\nwant\n  %+v", got, tt.want)
			}
		})
	}
}

// TestReceivedDates covers the date forms seen after the last ';'.
func TestReceivedDates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		date string
		want string // RFC 3339; "" = zero
	}{
		{"Thu, 26 Nov 2026 11:15:08 +0000", "2026-11-26T11:15:08Z"},
		{"Thu, 26 Nov 2026 11:15:08 +0000 (UTC)", "2026-11-26T11:15:08Z"},
		{"Tue, 10 May 2005 10:26:40 -0700 (PDT)", "2005-05-10T10:26:40-07:00"},
		{"Wed, 09 Mar 2011 11:19:45 GMT", "2011-03-09T11:19:45Z"},
		{"Mon, 1 Jan 2001 10:00:00 EST", "2001-01-01T10:00:00-05:00"},
		{"Mon, 1 Jul 2001 10:00:00 PDT", "2001-07-01T10:00:00-07:00"},
		{"Mon, 1 Jan 2001 10:00:00 UT", "2001-01-01T10:00:00Z"},
		{"Mon, 1 Jan 2001 10:00:00 CET", "2001-01-01T10:00:00+01:00"},
		{"Mon, 1 Jan 2001 10:00:00 Q", "2001-01-01T10:00:00Z"},         // military: offset unknown, -0000
		{"Mon, 1 Jan 2001 10:00:00 XYZT", "2001-01-01T10:00:00Z"},      // unknown zone: -0000
		{"Mon, 1 Jan 2001 10:00:00 +0000 GMT", "2001-01-01T10:00:00Z"}, // name not in parentheses
		{"25 May 2008 14:38:53 -0000", "2008-05-25T14:38:53Z"},
		{"Mon, 1 Jan 01 10:00 +0100", "2001-01-01T10:00:00+01:00"},
		{"Mon 2 Jan 2006 15:04:05 -0700", "2006-01-02T15:04:05-07:00"},
		{"  Fri, 7 Feb 2003\r\n\t 18:38:06 +0200 (EET)  ", "2003-02-07T18:38:06+02:00"},
		{"(comment first) Wed, 8 Mar 2017 11:46:17 -0500", "2017-03-08T11:46:17-05:00"},
		{"Mon Jan  2 15:04:05 2006", "2006-01-02T15:04:05Z"},
		{"2026-11-26T11:15:08+01:00", "2026-11-26T11:15:08+01:00"},
		{"", ""},
		{"not a date", ""},
		{"Mon, 32 Jan 2001 10:00:00 +0000", ""},
	}
	for _, tt := range tests {
		t.Run(tt.date, func(t *testing.T) {
			t.Parallel()
			got := store.ReceivedChain(rcv("by x.test; " + tt.date))[0].Time
			var want time.Time
			if tt.want != "" {
				want = mustTime(t, tt.want)
			}
			if !got.Equal(want) || got.IsZero() != want.IsZero() {
				t.Errorf("Time = %v, want %v", got, want)
			}
		})
	}
}

// TestReceivedChain checks order, Delay and Warning across hops.
func TestReceivedChain(t *testing.T) {
	t.Parallel()
	f := func(v float64) *float64 { return &v }
	headers := []store.Header{
		{Name: "Subject", Value: "not a hop"},
		{Name: "Received", Value: "by d.test; Mon, 2 Jan 2006 15:06:00 +0000"},      // newest
		{Name: "RECEIVED", Value: "by c.test; Mon, 2 Jan 2006 15:08:03 +0000"},      // clock 2m3s ahead
		{Name: "received", Value: "by b2.test; some day"},                           // unknown time
		{Name: "Received", Value: "by b.test; Mon, 2 Jan 2006 16:04:30 +0100"},      // 15:04:30 UTC
		{Name: "X-Received", Value: "by nope.test; Mon, 2 Jan 2006 15:00:00 +0000"}, // not a Received field
		{Name: "Received", Value: "by a.test; Mon, 2 Jan 2006 15:04:05 +0000"},      // oldest
	}
	hops := store.ReceivedChain(headers)
	want := []struct {
		by      string
		delay   *float64
		warning string
	}{
		{"a.test", nil, ""},
		{"b.test", f(25), ""},
		{"b2.test", nil, ""},
		{"c.test", f(213), ""}, // since b.test, the nearest older hop with a time
		{"d.test", f(-123), "clock went backwards by 2m3s"},
	}
	if len(hops) != len(want) {
		t.Fatalf("got %d hops, want %d: %+v", len(hops), len(want), hops)
	}
	for i, w := range want {
		h := hops[i]
		if h.By != w.by {
			t.Errorf("hop %d: By = %q, want %q", i, h.By, w.by)
		}
		if (h.Delay == nil) != (w.delay == nil) || h.Delay != nil && *h.Delay != *w.delay {
			t.Errorf("hop %d: Delay = %v, want %v", i, fmtDelay(h.Delay), fmtDelay(w.delay))
		}
		if h.Warning != w.warning {
			t.Errorf("hop %d: Warning = %q, want %q", i, h.Warning, w.warning)
		}
	}

	// No Received headers: an empty, non-nil slice that encodes as [].
	for _, in := range [][]store.Header{nil, {{Name: "From", Value: "a@b.test"}}} {
		b, err := json.Marshal(store.ReceivedChain(in))
		if err != nil || string(b) != "[]" {
			t.Errorf("ReceivedChain(%v) encodes as %s, %v; want []", in, b, err)
		}
	}
}

func fmtDelay(d *float64) any {
	if d == nil {
		return "nil"
	}
	return *d
}

// TestReceivedCorpus parses every corpus message's chain, checks
// invariants, and checks hops of files inspected by hand.
func TestReceivedCorpus(t *testing.T) {
	t.Parallel()
	files := pubCorpus(t)
	total, timed := 0, 0
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		hs, _ := pubSplit(raw)
		n := 0
		for _, h := range hs {
			if strings.EqualFold(h.Name, "Received") {
				n++
			}
		}
		hops := store.ReceivedChain(hs)
		if hops == nil || len(hops) != n {
			t.Errorf("%s: %d hops, want %d", filepath.Base(path), len(hops), n)
		}
		for i, h := range hops {
			total++
			if h.Raw == "" || strings.ContainsAny(h.Raw, "\r\n") {
				t.Errorf("%s hop %d: Raw = %q", filepath.Base(path), i, h.Raw)
			}
			if !h.Time.IsZero() {
				timed++
				if y := h.Time.Year(); y < 1990 || y > 2030 {
					t.Errorf("%s hop %d: Time = %v", filepath.Base(path), i, h.Time)
				}
			}
			if (i == 0 || h.Time.IsZero()) && h.Delay != nil {
				t.Errorf("%s hop %d: Delay = %v, want nil", filepath.Base(path), i, *h.Delay)
			}
			if h.Delay != nil && (*h.Delay < 0) != (h.Warning != "") {
				t.Errorf("%s hop %d: Delay %v with Warning %q", filepath.Base(path), i, *h.Delay, h.Warning)
			}
		}
	}
	t.Logf("%d files, %d hops, %d with a time", len(files), total, timed)
	if total < 250 || timed != total {
		t.Errorf("%d hops, %d with a parsed time; want >= 250, all", total, timed)
	}
}

// TestReceivedCorpusFiles checks concrete values of hand-inspected files.
func TestReceivedCorpusFiles(t *testing.T) {
	t.Parallel()
	type hopWant struct {
		index                            int // negative: from the end
		from, fromHost, fromIP, by, with string
		id, forr, tls                    string
		secure                           bool
		time                             string
	}
	tests := []struct {
		file string
		hops int
		want []hopWant
	}{
		{file: "received-13-hops.eml", hops: 13, want: []hopWant{
			{index: 0, from: "[82.38.65.6] (helo=[10.0.0.27])", fromHost: "[10.0.0.27]", fromIP: "82.38.65.6",
				by: "asmtp-out5.blueyonder.co.uk", with: "esmtpa", id: "1K0HMU-0001A2-3q", forr: "rdonkin@apache.org",
				time: "2008-05-25T15:38:14+01:00"},
			{index: 2, from: "[195.188.213.5] (HELO smtp-out2.blueyonder.co.uk) (195.188.213.5)", fromHost: "smtp-out2.blueyonder.co.uk",
				fromIP: "195.188.213.5", by: "apache.org", with: "ESMTP", time: "2008-05-25T14:38:00Z"},
			{index: -2, from: "unknown (HELO p3presmtp01-16.prod.phx3.secureserver.net) ([208.109.80.165])",
				fromHost: "p3presmtp01-16.prod.phx3.secureserver.net", fromIP: "208.109.80.165",
				by: "smtp20-01.prod.mesa1.secureserver.net", with: "SMTP", forr: "asf@xmlmapt.org", time: "2008-05-25T14:38:53Z"},
			{index: -1, time: "2008-05-25T14:38:53Z"}, // (qmail 18554 invoked from network)
		}},
		{file: "received-15-hops-newsletter.eml", hops: 15, want: []hopWant{
			{index: 0, from: "us1a3-mail113.a3.dal06.isc4sb.com ([10.146.45.236])", fromHost: "us1a3-mail113.a3.dal06.isc4sb.com",
				fromIP: "10.146.45.236", by: "us1a3-smtp02.a3.dal06.isc4sb.com", with: "ESMTP", id: "2017030816455096-411668",
				time: "2017-03-08T16:45:50Z"},
			{index: 3, from: "smtp.notes.na.collabserv.com (192.155.248.67)", fromHost: "smtp.notes.na.collabserv.com",
				fromIP: "192.155.248.67", by: "d50lp03.ny.us.ibm.com",
				with: "IBM ESMTP SMTP Gateway: Authorized Use Only! Violators will be prosecuted",
				tls:  "version=TLSv1/SSLv3 cipher=AES128-GCM-SHA256 bits=128/128", secure: true, time: "2017-03-08T11:46:17-05:00"},
			{index: 5, from: "d50lp03.ny.us.ibm.com (unknown [146.89.104.211])", fromHost: "d50lp03.ny.us.ibm.com",
				fromIP: "146.89.104.211", by: "d06av25.portsmouth.uk.ibm.com", with: "ESMTPS", forr: "lina.vailati@dududu.it",
				secure: true, time: "2017-03-08T16:46:11Z"},
			{index: 11, from: "e06smtp10.uk.ibm.com (e06smtp10.uk.ibm.com [195.75.94.106])", fromHost: "e06smtp10.uk.ibm.com",
				fromIP: "195.75.94.106", by: "mx0b-001b2d01.pphosted.com", with: "ESMTP", id: "292hw54kbu-1",
				forr: "lina.vailati@dududu.it", tls: "version=TLSv1.2 cipher=AES256-SHA bits=256 verify=NOT", secure: true,
				time: "2017-03-08T11:46:27-05:00"},
			{index: -1, time: "2017-03-08T16:46:30Z"},
		}},
		{file: "hugeheader-93-received-headers.eml", hops: 93, want: []hopWant{
			{index: 0, from: "?Open?PaaS?SMTP?server?for?Linagora? (unknown [172.17.0.1])", fromHost: "?Open?PaaS?SMTP?server?for?Linagora?",
				fromIP: "172.17.0.1", by: "yyy.linagora.com", with: "ESMTPSA", id: "0E3494051E",
				tls: "using TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)", secure: true, time: "2022-04-26T04:27:56+02:00"},
			{index: -1, from: "172.17.0.1 (EHLO incoming.linagora.com) ([172.17.0.1])", fromHost: "incoming.linagora.com",
				fromIP: "172.17.0.1", by: "xxx.linagora.com", with: "ESMTP", id: "e2de7b7e", time: "2022-04-26T02:27:56Z"},
		}},
		{file: "dsn-iso-2022-jp-10-received.eml", hops: 10, want: []hopWant{
			{index: 0, from: "localhost (localhost [127.0.0.1])", fromHost: "localhost", fromIP: "127.0.0.1", by: "postfix.vss-002",
				with: "SMTP", id: "0000000000", forr: "shironeko@cat.example.co.jp", time: "2015-10-15T15:22:22+09:00"},
			{index: 1, from: "(unknown [192.0.2.4])", fromIP: "192.0.2.4", by: "mpps-022.int.example.co.jp", with: "smtp",
				id: "ffff_0000_eeeeeeee_2222_0000_0000_000000000000", time: "2015-10-15T15:22:22+09:00"},
			{index: -1, from: "192.0.2.172 [192.0.2.172]", fromHost: "192.0.2.172", fromIP: "192.0.2.172", by: "host-022.example.com",
				with: "POP3", forr: "nekobatch@localhost", time: "2015-10-15T15:22:22+09:00"},
		}},
		{file: "received-gmail-dkim.eml", hops: 3, want: []hopWant{
			{index: 0, by: "10.50.60.1", with: "HTTP", time: "2013-06-16T08:50:12-07:00"},
			{index: 1, by: "mail-ie0-f173.google.com", with: "SMTP", id: "k13so5038157iea.32", forr: "name@company2.com",
				time: "2013-06-16T08:50:12-07:00"},
			{index: 2, from: "mail-ie0-f173.google.com (mail-ie0-f173.google.com [209.85.223.173])", fromHost: "mail-ie0-f173.google.com",
				fromIP: "209.85.223.173", by: "company2.com", with: "ESMTPS", id: "8025F4681306", forr: "name@company2.com",
				secure: true, time: "2013-06-16T17:50:14+02:00"},
		}},
		{file: "dkim-mailpit-dkim-plain.eml", hops: 3, want: []hopWant{
			{index: 0, from: "localhost.localhost ([8.8.8.8])", fromHost: "localhost.localhost", fromIP: "8.8.8.8", by: "smtp.gmail.com",
				with: "ESMTPSA", id: "s7-20020a170902ea0700b0016a3f9e4865sm12488166plg.148.2022.07.26.20.45.04",
				forr: "recipient@example.com", tls: "version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256", secure: true,
				time: "2022-07-26T20:45:06-07:00"},
			{index: 2, by: "2002:a0c:fe87:0:0:0:0:0", with: "SMTP", id: "d7csp146390qvs", time: "2022-07-26T20:45:20-07:00"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			hs, _ := pubSplit(pubRead(t, tt.file))
			hops := store.ReceivedChain(hs)
			if len(hops) != tt.hops {
				t.Fatalf("got %d hops, want %d", len(hops), tt.hops)
			}
			for _, w := range tt.want {
				i := w.index
				if i < 0 {
					i += len(hops)
				}
				h := hops[i]
				got := hopWant{index: w.index, from: h.From, fromHost: h.FromHost, fromIP: h.FromIP, by: h.By, with: h.With,
					id: h.ID, forr: h.For, tls: h.TLS, secure: h.Secure, time: w.time}
				if got != w {
					t.Errorf("hop %d =\n  %+v\nwant\n  %+v", i, got, w)
				}
				if !h.Time.Equal(mustTime(t, w.time)) {
					t.Errorf("hop %d: Time = %v, want %s", i, h.Time, w.time)
				}
			}
		})
	}
}

// FuzzReceived: any header value parses without panicking, keeps Raw,
// and yields exactly one hop.
func FuzzReceived(f *testing.F) {
	for _, s := range []string{
		"from app.test (localhost [127.0.0.1])\r\n\tby mx.test (mailsink) with UTF8SMTPSA (TLS1.3 TLS_AES_128_GCM_SHA256) id X;\r\n\tThu, 26 Nov 2026 11:15:08 +0000",
		"(qmail 18554 invoked from network); 25 May 2008 14:38:53 -0000",
		"from a (b [IPv6:::1]) (using TLSv1.3 with cipher X (256/256 bits)) by c with esmtps (TLS1.3) tls Y id 1 for <d@e>; Mon, 2 Jan 2006 15:04:05 PST",
		"by 2002:a05:6a10:8e0c:b0:4a3:2b1e:5c7f with SMTP id u12csp3417025pxg; Mon, 8 Jan 2024 04:05:06 -0800 (PST)",
		"from ((( [ < \" ; helo= HELO",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		hops := store.ReceivedChain([]store.Header{{Name: "Received", Value: v}, {Name: "Received", Value: v}})
		if len(hops) != 2 {
			t.Fatalf("got %d hops, want 2", len(hops))
		}
		h := hops[1]
		if want := strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "", "\r", "").Replace(v)); h.Raw != want {
			t.Fatalf("Raw = %q, want %q", h.Raw, want)
		}
		if !h.Time.IsZero() && (h.Delay == nil || *h.Delay != 0) {
			t.Fatalf("equal times: Delay = %v, want 0", fmtDelay(h.Delay))
		}
		if _, err := json.Marshal(hops); err != nil {
			t.Fatalf("json: %v", err)
		}
	})
}
