//go:build race

package main

// raceEnabled: the race detector slows every request several times over,
// so wall-clock bounds are reported, not asserted.
const raceEnabled = true
