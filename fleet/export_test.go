package fleet

// NewFileCoordinatorForTest returns the coordinator that WithStatusFile
// gives a rollout, on a new claims log at path, and the function that
// closes it, for the conformance tests of package coordtest.
func NewFileCoordinatorForTest(path string) (Coordinator, func() error, error) {
	f, err := lockClaims(path)
	if err != nil {
		return nil, nil, err
	}
	log, err := startClaims(f, newRunID())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	c := newFileCoordinator(log)
	return c, c.close, nil
}
