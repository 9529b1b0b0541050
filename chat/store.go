package chat

import "laird/kv"

// SetStore gives the server its durable store; call it before Start. A
// server without a store (tests) serves chat but refuses account and
// channel registration.
func (s *Server) SetStore(st *kv.Store) {
	s.store = st
	if st != nil {
		s.enableAccounts()
		s.enableHistory()
	}
}

// Store returns the durable store, or nil.
func (s *Server) Store() *kv.Store { return s.store }
