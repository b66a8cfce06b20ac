package mock

import "sync"

// How many objects of each kind a server keeps; older ones are forgotten
// first, so memory stays bounded however long a soak test runs.
const (
	storedResponses = 1000
	storedFiles     = 1000
	storedBatches   = 1000
	// storedFileBytes bounds the bytes of all stored files together.
	storedFileBytes = 256 << 20
)

// fifo is a map that forgets its oldest entries beyond a capacity. It is
// safe for concurrent use; the values it holds are guarded by their own
// locks. Its keys are random ids, never reused once removed.
type fifo[V any] struct {
	mu    sync.Mutex
	max   int
	m     map[string]V
	order []string // keys in insertion order, deleted ones included until evicted
}

func newFIFO[V any](max int) *fifo[V] {
	return &fifo[V]{max: max, m: map[string]V{}}
}

// put stores v under key and returns the values it evicted to make room.
func (f *fifo[V]) put(key string, v V) (evicted []V) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.m[key]; !ok {
		f.order = append(f.order, key)
	}
	f.m[key] = v
	for len(f.m) > f.max {
		if old, ok := f.popOldest(); ok {
			evicted = append(evicted, old)
		}
	}
	if len(f.order) > 2*f.max+16 {
		f.compact()
	}
	return evicted
}

// evictOldest drops the oldest entry, if any.
func (f *fifo[V]) evictOldest() (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.popOldest()
}

func (f *fifo[V]) popOldest() (V, bool) {
	for len(f.order) > 0 {
		k := f.order[0]
		f.order = f.order[1:]
		if v, ok := f.m[k]; ok {
			delete(f.m, k)
			return v, true
		}
	}
	var zero V
	return zero, false
}

// compact drops the keys of deleted entries from the order.
func (f *fifo[V]) compact() {
	kept := make([]string, 0, len(f.m))
	for _, k := range f.order {
		if _, ok := f.m[k]; ok {
			kept = append(kept, k)
		}
	}
	f.order = kept
}

func (f *fifo[V]) get(key string) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[key]
	return v, ok
}

func (f *fifo[V]) remove(key string) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[key]
	delete(f.m, key)
	return v, ok
}

// list returns the values in insertion order, oldest first.
func (f *fifo[V]) list() []V {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs := make([]V, 0, len(f.m))
	for _, k := range f.order {
		if v, ok := f.m[k]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}
