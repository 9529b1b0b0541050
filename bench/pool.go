package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ErrJoinRefused means the server answered a JOIN with an error numeric.
var ErrJoinRefused = errors.New("bench: join refused")

// names builds the nicks and channel names of one run. Tag keeps runs apart, so a server
// that still holds the previous run's nicks does not answer 433 to every client; names stay
// within 9 bytes, the smallest nick length servers commonly allow.
type names struct{ tag string }

func (n names) nick(i int) string    { return "b" + n.tag + strconv.FormatInt(int64(i), 36) }
func (n names) channel(i int) string { return "#b" + n.tag + strconv.FormatInt(int64(i), 36) }

// runTag returns a two-letter tag that differs between consecutive runs of a process.
func runTag() string {
	v := tagCounter.Add(1) + uint64(time.Now().UnixNano()/1e6)
	const letters = "abcdefghijklmnopqrstuvwxyz"
	return string([]byte{letters[v%26], letters[(v/26)%26]})
}

var tagCounter atomic.Uint64

// connectAll registers n clients at t.Addr over t.Transport with at most parallel
// registrations in flight and starts their readers. Client i gets nick nm.nick(i). On error every client already connected is
// closed. onRegistered, when set, sees each client right after its 001.
func connectAll(ctx context.Context, t Target, nm names, n, parallel int, caps []string,
	onRegistered func(*Client)) ([]*Client, error) {
	if parallel <= 0 {
		parallel = 1
	}
	clients := make([]*Client, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for w := 0; w < min(parallel, n); w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := Register(ctx, i, ClientConfig{Addr: t.Addr, Transport: t.Transport, Nick: nm.nick(i), Caps: caps})
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				c.Start()
				clients[i] = c
				if onRegistered != nil {
					onRegistered(c)
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		closeAll(clients)
		return nil, firstErr
	}
	return clients, nil
}

// joinAll makes client i join channel chanOf(i), at most parallel joins in flight, and
// waits for each 366 (end of NAMES). It replaces the clients' handlers.
func joinAll(ctx context.Context, clients []*Client, chanOf func(i int) string, parallel int) error {
	if parallel <= 0 {
		parallel = 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for w := 0; w < min(parallel, len(clients)); w++ {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(clients) || ctx.Err() != nil {
					return
				}
				if err := joinOne(ctx, clients[i], chanOf(i)); err != nil {
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return ctx.Err()
}

func joinOne(ctx context.Context, c *Client, channel string) error {
	result := make(chan error, 1)
	c.SetHandler(func(_ *Client, l *Line) {
		var err error
		switch {
		case l.Is("366"):
			if !equalFoldASCII(l.Param(1), channel) {
				return
			}
		case isJoinError(l):
			err = fmt.Errorf("%w: %s %s: %s", ErrJoinRefused, l.Command, channel, l.Last())
		default:
			return
		}
		select {
		case result <- err:
		default:
		}
	})
	defer c.SetHandler(nil)
	if err := c.Send([]byte("JOIN " + channel + "\r\n")); err != nil {
		return fmt.Errorf("join %s: %w", channel, err)
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case err := <-result:
		return err
	case <-c.Done():
		return fmt.Errorf("join %s: connection closed: %v", channel, c.readErr)
	case <-t.C:
		return fmt.Errorf("join %s: no 366 within 30s", channel)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func isJoinError(l *Line) bool {
	for _, code := range [...]string{"403", "405", "437", "471", "473", "474", "475", "476", "477", "479", "489"} {
		if l.Is(code) {
			return true
		}
	}
	return false
}

func equalFoldASCII(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if upper(b[i]) != upper(s[i]) {
			return false
		}
	}
	return true
}

// closeAll closes every non-nil client in parallel batches.
func closeAll(clients []*Client) {
	var wg sync.WaitGroup
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for i := w; i < len(clients); i += workers {
				if clients[i] != nil {
					clients[i].Close()
				}
			}
		})
	}
	wg.Wait()
}
