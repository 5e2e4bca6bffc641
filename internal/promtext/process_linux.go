package promtext

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the unit of the CPU times in /proc/self/stat. The kernel
// fixes it at 100 for user space on every architecture Go supports
// (procfs, which client_golang used, assumes the same).
const userHZ = 100

// collectProcess reads /proc/self and the resource limits; each figure
// that cannot be read is left out.
func collectProcess(s *Scrape, f *processFamilies) {
	if st, err := readStat(); err == nil {
		s.Add(f.cpu, float64(st.utime+st.stime)/userHZ)
		s.Add(f.vsize, float64(st.vsize))
		s.Add(f.rss, float64(st.rss*uint64(os.Getpagesize())))
		if btime, err := bootTime(); err == nil {
			s.Add(f.start, float64(btime)+float64(st.starttime)/userHZ)
		}
	}
	if d, err := os.Open("/proc/self/fd"); err == nil {
		// The count includes the descriptor reading the directory, as
		// client_golang's did.
		names, err := d.Readdirnames(-1)
		d.Close()
		if err == nil {
			s.Add(f.openFDs, float64(len(names)))
		}
	}
	// The soft limits, as /proc/self/limits shows them; "unlimited" is
	// RLIM_INFINITY, 2^64-1.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		s.Add(f.maxFDs, float64(rl.Cur))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &rl) == nil {
		s.Add(f.maxVsize, float64(rl.Cur))
	}
	if in, out, err := readNetstat(); err == nil {
		s.Add(f.netIn, in)
		s.Add(f.netOut, out)
	}
}

type procStat struct {
	utime, stime, starttime, vsize, rss uint64
}

func readStat() (procStat, error) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(data)
}

// parseStat reads /proc/[pid]/stat (proc(5)). The command name, field 2,
// is in parentheses and may hold spaces and parentheses itself: the
// fields that follow start after the last ')'.
func parseStat(data []byte) (procStat, error) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, errMalformed("stat")
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, errMalformed("stat")
	}
	var st procStat
	for _, v := range []struct {
		dst   *uint64
		field int
	}{{&st.utime, 14}, {&st.stime, 15}, {&st.starttime, 22}, {&st.vsize, 23}, {&st.rss, 24}} {
		n, err := strconv.ParseUint(f[v.field-3], 10, 64)
		if err != nil {
			return procStat{}, errMalformed("stat")
		}
		*v.dst = n
	}
	return st, nil
}

// bootTime is the btime line of /proc/stat: the boot, in seconds since
// the epoch, that process start times count from.
func bootTime() (uint64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errMalformed("stat btime")
}

func readNetstat() (in, out float64, err error) {
	data, err := os.ReadFile("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, err
	}
	return parseNetstat(data)
}

// parseNetstat reads the IpExt InOctets and OutOctets of
// /proc/[pid]/net/netstat: pairs of lines, "IpExt: name..." then
// "IpExt: value...". They count the process's network namespace, not
// the process alone (client_golang reported the same).
func parseNetstat(data []byte) (in, out float64, err error) {
	var names []string
	for line := range strings.Lines(string(data)) {
		rest, ok := strings.CutPrefix(line, "IpExt:")
		if !ok {
			continue
		}
		if names == nil {
			names = strings.Fields(rest)
			continue
		}
		values := strings.Fields(rest)
		for i, name := range names {
			if i >= len(values) {
				break
			}
			v, perr := strconv.ParseFloat(values[i], 64)
			if perr != nil {
				continue
			}
			switch name {
			case "InOctets":
				in = v
			case "OutOctets":
				out = v
			}
		}
		return in, out, nil
	}
	return 0, 0, errMalformed("net/netstat")
}

type errMalformed string

func (e errMalformed) Error() string { return "promtext: malformed /proc/self/" + string(e) }
