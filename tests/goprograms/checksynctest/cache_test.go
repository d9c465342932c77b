package checksynctest

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestRefreshStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c Cache
		stop := c.StartStoppable(time.Minute)
		c.updates <- "v1"
		time.Sleep(2 * time.Minute)
		stop()
		if c.Value != "v1" {
			t.Fatalf("value %q", c.Value)
		}
	})
}

func TestRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c Cache
		c.Start(time.Minute)
		c.updates <- "v1"
		time.Sleep(2 * time.Minute)
		if c.Value != "v1" {
			t.Fatalf("value %q", c.Value)
		}
	})
}
