package chat

// Reloadable is the part of the configuration REHASH can change without a
// restart. It is replaced whole (copy-on-write), so readers on any
// goroutine see one consistent version.
type Reloadable struct {
	MOTD     []string
	Opers    []Oper
	Password string
}

func (s *Server) liveConfig() *Reloadable { return s.live.Load() }

// SetRehash installs the function REHASH calls to re-read the
// configuration file. It runs off the event loops.
func (s *Server) SetRehash(fn func() (*Reloadable, error)) { s.rehash = fn }
