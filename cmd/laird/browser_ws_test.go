package main

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// chromiumBin returns Debian's Chromium, skipping the test when it is not
// installed (failing under CI, which installs it: see .ci/run).
func chromiumBin(t *testing.T) string {
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

// runChromium loads url in headless Chromium, as root in a container
// (--no-sandbox), with a fresh profile and no background network, and does
// what mode asks (--dump-dom, --screenshot=FILE). Both wait for the page's
// load event, which the chat page below holds until it is done.
func runChromium(t *testing.T, bin, url string, mode ...string) ([]byte, error) {
	t.Helper()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=900,600"}, mode...)
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

// chatPage is a minimal IRC client in a web page: it opens a WebSocket
// with the text.ircv3.net subprotocol (one IRC line per text frame),
// registers, joins #web, says hello, and appends every channel message to
// a list. It tells the test server when it has joined (/joined) and when
// it has shown a message or lost the connection (/done); the image from
// /hold keeps the page's load event, which Chromium waits for before it
// dumps the DOM or takes the screenshot, until then.
var chatPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>laird WebSocket test</title>
<style>body{font:16px sans-serif} #status{font-weight:bold} li{font-family:monospace}</style></head>
<body>
<p>status: <span id="status">connecting</span>; subprotocol: <span id="proto"></span></p>
<ul id="log"></ul>
<script>
const nick = {{.Nick}}, status = document.getElementById("status"), log = document.getElementById("log");
const ws = new WebSocket({{.URL}}, ["text.ircv3.net"]);
const show = (from, text) => {
  const li = document.createElement("li");
  li.className = "msg";
  li.dataset.from = from;
  li.textContent = text;
  log.appendChild(li);
};
ws.onopen = () => {
  document.getElementById("proto").textContent = ws.protocol;
  status.textContent = "open";
  ws.send("NICK " + nick);
  ws.send("USER web 0 * :a browser");
};
ws.onmessage = (ev) => {
  // [@tags] [:source] COMMAND params [:trailing]; no CR LF over WebSocket.
  const m = /^(?:@\S+ )?(?::(\S+) )?(\S+)(.*)$/.exec(ev.data);
  if (!m) return;
  const from = (m[1] || "").split("!")[0], cmd = m[2], rest = m[3];
  const trailing = rest.includes(" :") ? rest.slice(rest.indexOf(" :") + 2) : "";
  if (cmd === "PING") ws.send("PONG" + rest);
  if (cmd === "001") { status.textContent = "registered"; ws.send("JOIN #web"); }
  if (cmd === "366") {
    status.textContent = "joined";
    ws.send("PRIVMSG #web :hello from the browser");
    fetch("/joined");
  }
  if (cmd === "PRIVMSG" && rest.startsWith(" #web ")) { show(from, trailing); fetch("/done"); }
};
ws.onclose = (ev) => { status.textContent = "closed " + ev.code; fetch("/done"); };
</script>
<img src="/hold" alt="">
</body></html>
`))

// browserSite serves the chat page and the signals it sends.
type browserSite struct {
	wsURL  string
	mu     sync.Mutex
	joined func()        // called when the page has joined #web
	done   chan struct{} // closed by /done; replaced per page load
	nick   int
}

func (s *browserSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/":
		s.mu.Lock()
		s.done = make(chan struct{})
		s.nick++
		nick := fmt.Sprintf("web%d", s.nick)
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = chatPage.Execute(w, map[string]string{"Nick": nick, "URL": s.wsURL})
	case "/joined":
		s.mu.Lock()
		joined := s.joined
		s.mu.Unlock()
		if joined != nil {
			joined()
		}
	case "/done":
		s.mu.Lock()
		select {
		case <-s.done:
		default:
			close(s.done)
		}
		s.mu.Unlock()
	case "/hold":
		s.mu.Lock()
		done := s.done
		s.mu.Unlock()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

// TestBrowserWebSocket: headless Chromium loads a page from the test's web
// server; the page connects to laird's WebSocket listener (which allows
// only that page's Origin) with the text.ircv3.net subprotocol, registers,
// joins #web and says hello, which a client on plain TCP sees; the TCP
// client's answer is then in the page's DOM. On failure a screenshot of
// the page is kept.
func TestBrowserWebSocket(t *testing.T) {
	bin := chromiumBin(t)
	wsAddr := freeAddr(t)
	site := &browserSite{wsURL: "ws://" + wsAddr + "/"}
	web := httptest.NewServer(site)
	defer web.Close()

	ts := startTestServer(t, func(c *Config) {
		c.Listen = []ListenConfig{
			{Address: c.Server.Listen},
			{Address: wsAddr, WebSocket: true, Origins: []string{web.URL}},
		}
	})
	plain := ts.dial("plain")
	plain.register("plain")
	plain.send("JOIN #web")
	plain.expect(` 366 plain #web `)
	// The page asks for /joined once in #web; the TCP client answers it
	// (written from the handler's goroutine, one whole line per write).
	site.mu.Lock()
	site.joined = func() { fmt.Fprintf(plain.conn, "PRIVMSG #web :hello from tcp, <b>not bold</b>\r\n") }
	site.mu.Unlock()

	dom, err := runChromium(t, bin, web.URL+"/", "--dump-dom")
	page := string(dom)
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	for _, want := range []string{
		`<span id="status">joined</span>`,
		`<span id="proto">text.ircv3.net</span>`,
		`<li class="msg" data-from="plain">hello from tcp, &lt;b&gt;not bold&lt;/b&gt;</li>`,
	} {
		if !strings.Contains(page, want) {
			problems = append(problems, "the page's DOM has no "+want)
		}
	}
	if len(problems) == 0 {
		plain.expect(`^:web1!\S+ PRIVMSG #web :hello from the browser$`)
		return
	}
	dir := os.Getenv("LAIRD_ARTIFACTS")
	if dir == "" {
		dir = os.TempDir()
	}
	shot := filepath.Join(dir, fmt.Sprintf("laird-browser-ws-%d.png", time.Now().UnixNano()))
	if _, err := runChromium(t, bin, web.URL+"/", "--screenshot="+shot); err != nil {
		t.Logf("screenshot failed: %v", err)
	} else {
		t.Logf("screenshot of the page kept at %s", shot)
	}
	body := regexp.MustCompile(`(?s)<script>.*</script>`).ReplaceAllString(page, "<script>…</script>")
	t.Fatalf("%s\nthe page's DOM:\n%s", strings.Join(problems, "\n"), body)
}
