// Package fakeclock is a manual coalesce.Clock for tests: time stands still
// until Advance moves it, and timers fire synchronously inside Advance, in
// order of their deadlines. It is safe for concurrent use.
package fakeclock

import (
	"sort"
	"sync"
	"time"

	"github.com/edgekit/edgekit/coalesce"
)

// Clock is a fake coalesce.Clock.
type Clock struct {
	mu     sync.Mutex // guards now, timers
	now    time.Time
	timers []*timer
}

type timer struct {
	c    *Clock
	at   time.Time
	f    func()
	dead bool // stopped or fired; guarded by c.mu
}

// New returns a Clock reading start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f for d after the fake now.
func (c *Clock) AfterFunc(d time.Duration, f func()) coalesce.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Pending returns the number of timers neither fired nor stopped, so a
// test can wait until the code under test has armed its timers.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves time forward by d and fires, one by one and outside the
// lock, every timer that is due, earliest first. A timer armed by a
// firing one fires too if it is due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		if len(c.timers) == 0 || c.timers[0].at.After(end) {
			c.now = end
			c.mu.Unlock()
			return
		}
		t := c.timers[0]
		c.timers = c.timers[1:]
		t.dead = true
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
	}
}

// Stop cancels the timer if it has not fired.
func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.dead {
		return false
	}
	t.dead = true
	for i, x := range c.timers {
		if x == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
	return true
}
