package checkhang

import "testing"

func TestDouble(t *testing.T) {
	if got := Double([]int{1, 2}); got[1] != 4 {
		t.Fatalf("got %v", got)
	}
}

func TestProcess(t *testing.T) {
	if got := Process([]int{1, 2, 3}); len(got) != 3 {
		t.Fatalf("got %v", got)
	}
}
