package checkleak

import "testing"

func TestFirstAnswer(t *testing.T) {
	defer verifyNone(t, currentIDs())
	if got := FirstAnswer([]string{"a", "b", "c"}); got == "" {
		t.Fatal("no answer")
	}
}

func TestSum(t *testing.T) {
	defer verifyNone(t, currentIDs())
	if got := Sum([]int{1, 2, 3}); got != 6 {
		t.Fatalf("Sum = %d", got)
	}
}
