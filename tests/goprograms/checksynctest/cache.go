// Package checksynctest leaks a refresher goroutine: Start launches it and nothing stops it.
package checksynctest

import "time"

// Cache refreshes its value every period.
type Cache struct {
	updates chan string
	Value   string
}

// Start launches the refresher; there is no Stop.
func (c *Cache) Start(period time.Duration) {
	c.updates = make(chan string)
	go func() {
		for v := range c.updates { // waits for updates that never come once the test is over
			time.Sleep(period)
			c.Value = v
		}
	}()
}

// StartStoppable launches the same refresher and returns a function that stops it.
func (c *Cache) StartStoppable(period time.Duration) (stop func()) {
	c.updates = make(chan string)
	go func() {
		for v := range c.updates {
			time.Sleep(period)
			c.Value = v
		}
	}()
	return func() { close(c.updates) }
}
