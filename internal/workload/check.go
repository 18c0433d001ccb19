package workload

import (
	"errors"
	"fmt"
	"sync"
)

// checker collects calls whose status differs from the expected one, so a
// run reports every deviation at once instead of stopping at the first.
type checker struct {
	mu   sync.Mutex
	errs []error
}

func (k *checker) expect(c Call, want uint32) {
	if k == nil {
		return
	}
	if got := c.Status(); got != want {
		k.mu.Lock()
		k.errs = append(k.errs, fmt.Errorf("conn %d %s (code %d): status %d, want %d (err: %v)", c.ConnIndex, c.Method, c.Code, got, want, c.Err))
		k.mu.Unlock()
	}
}

func (k *checker) fail(err error) {
	k.mu.Lock()
	k.errs = append(k.errs, err)
	k.mu.Unlock()
}

func (k *checker) err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return errors.Join(k.errs...)
}
