//go:build !linux

package loop

// lowerHandshakePriority is a no-op where thread priorities are not set.
func lowerHandshakePriority() {}
