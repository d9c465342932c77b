package checkleak

import (
	"testing"

	"goforensics.test/leakcheck"
)

func TestFirstAnswer(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	if got := FirstAnswer([]string{"a", "b", "c"}); got == "" {
		t.Fatal("no answer")
	}
}

func TestSum(t *testing.T) {
	defer leakcheck.VerifyNone(t, leakcheck.CurrentIDs())
	if got := Sum([]int{1, 2, 3}); got != 6 {
		t.Fatalf("Sum = %d", got)
	}
}
