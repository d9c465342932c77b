// Package checkleakmain leaks a consumer goroutine: Subscribe ranges over a channel that
// nobody ever closes.
package checkleakmain

// Bus delivers events to subscribers.
type Bus struct{ subs []chan string }

// Subscribe starts a consumer that calls fn for every event; nothing stops it.
func (b *Bus) Subscribe(fn func(string)) {
	ch := make(chan string, 8)
	b.subs = append(b.subs, ch)
	go func() {
		for e := range ch { // never closed: the consumer outlives the bus
			fn(e)
		}
	}()
}

// Publish sends an event to every subscriber.
func (b *Bus) Publish(e string) {
	for _, ch := range b.subs {
		ch <- e
	}
}
