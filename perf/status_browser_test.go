package perf

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// chromium returns Debian's headless browser, skipping the test when it is
// not installed (failing under CI, which installs it: see .ci/run).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (CI must install it: see .ci/run)")
	}
	t.Skip("chromium not installed")
	return ""
}

// runChromium loads url headless, as root in a container (--no-sandbox),
// with no network but loopback (the background services are off), in a
// fresh profile, and gives the page's timers and fetches budget of virtual
// time; then it does what mode asks (--dump-dom or --screenshot=...).
func runChromium(t *testing.T, bin, url string, mode ...string) ([]byte, error) {
	t.Helper()
	profile := t.TempDir()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile, "--virtual-time-budget=5000", "--window-size=1280,1400"}, mode...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %w\n%s", bin, err, stderr.String())
	}
	return out, nil
}

// TestStatusPageChartsInChromium loads /debug/status of a registry with a
// minute of history in headless Chromium and checks the charts it drew:
// four inline SVG charts, each a line through every point, with the
// newest value in its heading. On failure a screenshot is kept.
func TestStatusPageChartsInChromium(t *testing.T) {
	bin := chromium(t)
	clk := &fakeClock{t: time.Now().Add(-2 * time.Minute)}
	reg := NewRegistry(Options{Logger: quietLogger(), Now: clk.Now, HistoryStep: time.Second})
	privmsg, _ := reg.Command("PRIVMSG")
	loop := reg.NewRecorder(KindLoop, "loop0")
	conns := reg.Std.Connections.With("tcp")
	const points = 60
	for i := 1; i <= points; i++ {
		loop.Add(MessagesIn, uint64(100*i))
		loop.Add(Deliveries, uint64(300*i))
		loop.Record(privmsg, time.Duration(100+10*i)*time.Microsecond)
		conns.Set(int64(10 + i%7))
		step(reg, clk, loop)
	}
	newest := reg.History().Points[points-1]
	h, err := NewHTTPHandler(reg, HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	url := srv.URL + "/debug/status"

	dom, err := runChromium(t, bin, url, "--dump-dom")
	ok := true
	fail := func(format string, args ...any) {
		t.Helper()
		ok = false
		t.Errorf(format, args...)
	}
	if err != nil {
		fail("%v", err)
	}
	page := string(dom)
	charts := regexp.MustCompile(`(?s)<div class="chart" data-series="([a-z_0-9]+)" data-points="(\d+)">(.*?)</svg>.*?</div></div>`).FindAllStringSubmatch(page, -1)
	want := map[string]string{
		"messages_in_per_s": "messages in/s",
		"deliveries_per_s":  "deliveries/s",
		"connections":       "connections",
		"command_p99_us":    "slowest command p99",
	}
	if len(charts) != len(want) {
		fail("%d charts on the page, want %d", len(charts), len(want))
	}
	line := regexp.MustCompile(`<polyline points="([^"]*)" class="line">`)
	for _, c := range charts {
		series, n, body := c[1], c[2], c[3]
		title, known := want[series]
		if !known {
			fail("unexpected chart %q", series)
			continue
		}
		delete(want, series)
		if n != strconv.Itoa(points) {
			fail("%s: drawn from %s points, want %d", series, n, points)
		}
		if !strings.Contains(body, "<span>"+title+"</span>") {
			fail("%s: no title %q", series, title)
		}
		m := line.FindStringSubmatch(body)
		if m == nil {
			fail("%s: no line", series)
			continue
		}
		xy := strings.Fields(m[1])
		if len(xy) != points {
			fail("%s: line through %d points, want %d", series, len(xy), points)
		}
		// Time runs left to right across the whole width; values stay in
		// the box.
		for i, p := range xy {
			x, y, _ := strings.Cut(p, ",")
			fx, _ := strconv.ParseFloat(x, 64)
			fy, _ := strconv.ParseFloat(y, 64)
			if fy < 0 || fy > 80 || (i == 0 && fx != 0) || (i == len(xy)-1 && fx != 300) {
				fail("%s: point %d at (%v,%v) is outside the chart", series, i, fx, fy)
				break
			}
		}
	}
	for series := range want {
		fail("no chart of %s", series)
	}
	// The headings show the newest values (connections: 10 + 60%7 = 14).
	if newest.Connections != 14 || !strings.Contains(page, `<span>connections</span><b>14</b>`) {
		fail("the connections chart does not head with 14 (newest point %+v)", newest)
	}
	if !ok {
		dir := os.Getenv("LAIRD_ARTIFACTS")
		if dir == "" {
			dir = os.TempDir()
		}
		shot := filepath.Join(dir, fmt.Sprintf("laird-status-%d.png", time.Now().UnixNano()))
		if _, err := runChromium(t, bin, url, "--screenshot="+shot); err != nil {
			t.Logf("screenshot failed: %v", err)
		} else {
			t.Logf("screenshot of the page kept at %s", shot)
		}
		t.Logf("the page's DOM:\n%s", page)
	}
}
