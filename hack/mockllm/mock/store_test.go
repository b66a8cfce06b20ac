package mock

import (
	"fmt"
	"slices"
	"testing"
)

func TestFIFO(t *testing.T) {
	f := newFIFO[int](3)
	for i := range 5 {
		f.put(fmt.Sprint(i), i)
	}
	if _, ok := f.get("1"); ok {
		t.Error("1 was kept past the capacity")
	}
	if got := f.list(); !slices.Equal(got, []int{2, 3, 4}) {
		t.Errorf("list = %v", got)
	}
	f.remove("3")
	f.put("5", 5)
	f.put("6", 6)
	if got := f.list(); !slices.Equal(got, []int{4, 5, 6}) {
		t.Errorf("after remove = %v", got)
	}
	for i := range 100 {
		f.put(fmt.Sprint("k", i), i)
		f.remove(fmt.Sprint("k", i))
	}
	if len(f.order) > 2*3+16 {
		t.Errorf("order grew to %d", len(f.order))
	}
}
