package afterhours

// Append makes the crash test's store an Appender, as its FileStore is:
// an Append counts as one of its writes, as a Save does, so that TestCrash
// kills the executor at appends too. For odd N the process dies in the
// middle of the Append's write, leaving a torn record; for even N, after
// the Append.
func (s *crashStore) Append(key string, recs ...[]byte) error {
	s.n++
	if s.n == s.at && s.at%2 == 1 {
		s.FileStore.appendHook = func(string) { s.die() }
	}
	err := s.FileStore.Append(key, recs...)
	if s.n == s.at {
		s.die()
	}
	return err
}
