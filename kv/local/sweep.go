package local

// sweeper placeholder: filled in below.
type sweeper struct{}

func newSweeper(s *Store) *sweeper       { return &sweeper{} }
func (w *sweeper) stop()                 {}
func (w *sweeper) record(ns, id string) {}
