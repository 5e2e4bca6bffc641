package promtext

import "testing"

func TestParseStat(t *testing.T) {
	// The command name may hold spaces and parentheses: fields count
	// from the last ')'.
	line := "4242 (evil) (name 1) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 123456 1765572608 5209 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{utime: 250, stime: 50, starttime: 123456, vsize: 1765572608, rss: 5209}); st != want {
		t.Errorf("parseStat = %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "4242 (x S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 50 0 0 20 0 9 0 123456 1 2 3"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q): no error", bad)
		}
	}
}

func TestParseNetstat(t *testing.T) {
	data := "TcpExt: SyncookiesSent InOctets\nTcpExt: 0 99\n" +
		"IpExt: InNoRoutes InTruncatedPkts InMcastPkts OutMcastPkts InBcastPkts OutBcastPkts InOctets OutOctets\n" +
		"IpExt: 0 0 0 0 0 0 65164167800 64805072332\n"
	in, out, err := parseNetstat([]byte(data))
	if err != nil || in != 65164167800 || out != 64805072332 {
		t.Errorf("parseNetstat = %v, %v, %v", in, out, err)
	}
	if _, _, err := parseNetstat([]byte("TcpExt: a\nTcpExt: 1\n")); err == nil {
		t.Error("no IpExt: no error")
	}
}

func TestReadProc(t *testing.T) {
	st, err := readStat()
	if err != nil || st.vsize == 0 || st.rss == 0 || st.starttime == 0 {
		t.Errorf("readStat = %+v, %v", st, err)
	}
	if b, err := bootTime(); err != nil || b < 1e9 {
		t.Errorf("bootTime = %v, %v", b, err)
	}
}
