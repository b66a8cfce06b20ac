package credentials

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// single is a provider's one static credential: an API key from a file or
// the environment, sent in the provider family's header, or a bearer token
// from a file that something else keeps fresh (a projected ServiceAccount
// token, an agent's file). The reload watcher rebuilds it when the file
// changes; a 401 re-reads the file at once too, since the provider may have
// revoked the old credential before the watcher saw the new one.
//
// A refusal does not set the credential aside: it is the provider's only
// one, and its breaker decides when to try it again, as before. The state
// says it was refused until a call with it succeeds.
//
// A token file that cannot be read does not stop the config from loading,
// unlike a key file: it may be written by another container of the pod
// after the sidecar starts (a vault agent), which waits for the sidecar.
// The provider is unavailable until the file is there; the watcher reloads
// when it appears, and Pick looks again at most once a second meanwhile.
type single struct {
	provider string
	kind     string // KindAPIKey or KindToken
	file     string // empty for an environment variable
	header   string
	prefix   string // what goes before the value: "Bearer ", or nothing
	log      logr.Logger
	clock    Clock

	cur atomic.Pointer[Credential] // nil while a token file cannot be read
	// refused is shared with the source this one replaced when the
	// credential did not change, so that a reload does not forget it.
	refused *atomic.Bool

	rereads  sync.Mutex // one read of the file at a time; guards the fields below
	readErr  error      // why the token file cannot be read, while cur is nil
	lastRead time.Time
}

func newSingle(pc config.Provider, prev Source, env *Env) (*single, error) {
	s := &single{provider: pc.Name, kind: KindAPIKey, file: pc.APIKeyFile, log: env.Log, clock: env.Clock, refused: new(atomic.Bool)}
	s.header, s.prefix = familyHeader(pc.Type, "")
	if pc.TokenFile != "" {
		s.kind, s.file, s.header, s.prefix = KindToken, pc.TokenFile, "Authorization", "Bearer "
	}
	var v string
	var err error
	if s.file != "" {
		v, err = readKey(s.file, s.what())
	} else {
		v, err = readEnv(pc.APIKeyEnv, s.what())
	}
	switch {
	case err != nil && s.kind == KindToken:
		s.readErr, s.lastRead = err, s.clock.Now()
		s.log.Info("Token file not readable: the provider is unavailable until it is", "provider", s.provider, "reason", err.Error())
		return s, nil
	case err != nil:
		return nil, err
	}
	s.cur.Store(s.credential(v))
	if p, ok := prev.(*single); ok && p.kind == s.kind && p.header == s.header && p.value() == s.value() {
		s.refused = p.refused
	}
	return s, nil
}

// value is the header value sent, or "" while there is none.
func (s *single) value() string {
	if c := s.cur.Load(); c != nil {
		return c.Value
	}
	return ""
}

func (s *single) what() string {
	if s.kind == KindToken {
		return fmt.Sprintf("token of provider %q", s.provider)
	}
	return fmt.Sprintf("API key of provider %q", s.provider)
}

func (s *single) credential(v string) *Credential {
	return &Credential{Header: s.header, Value: s.prefix + v, Key: s.kind}
}

func (s *single) Pick(context.Context, Call) (*Credential, error) {
	if c := s.cur.Load(); c != nil {
		return c, nil
	}
	return s.readMissing()
}

// readMissing reads a token file that could not be read before, at most
// once a second, and says why there is no token while it still cannot.
func (s *single) readMissing() (*Credential, error) {
	s.rereads.Lock()
	defer s.rereads.Unlock()
	if c := s.cur.Load(); c != nil {
		return c, nil
	}
	if now := s.clock.Now(); now.Sub(s.lastRead) >= time.Second {
		s.lastRead = now
		v, err := readKey(s.file, s.what())
		if err == nil {
			c := s.credential(v)
			s.cur.Store(c)
			s.log.Info("Token file readable: sending its token", "provider", s.provider)
			return c, nil
		}
		s.readErr = err
	}
	return nil, fmt.Errorf("%w: %w", ErrNoCredential, s.readErr)
}

func (s *single) Answered(_ context.Context, c *Credential, _ Call, a Answer) *Credential {
	switch {
	case a.Status < 300:
		if s.refused.Load() {
			s.refused.Store(false)
		}
	case a.Status == http.StatusUnauthorized || a.Status == http.StatusForbidden:
		if next := s.reread(c); next != nil {
			return next
		}
		if s.refused.CompareAndSwap(false, true) {
			s.log.Info("Provider refused its credential", "provider", s.provider, "key", s.kind, "status", a.Status)
		}
	}
	return nil
}

// reread reads the file again after a refusal of c, and returns the new
// credential if it changed (once: concurrent refusals of c share it).
func (s *single) reread(c *Credential) *Credential {
	if s.file == "" {
		return nil
	}
	s.rereads.Lock()
	defer s.rereads.Unlock()
	if cur := s.cur.Load(); cur != c {
		return cur // another call read it already
	}
	v, err := readKey(s.file, s.what())
	if err != nil || s.prefix+v == c.Value {
		return nil
	}
	next := s.credential(v)
	s.cur.Store(next)
	s.refused.Store(false)
	s.log.Info("Credential file changed: sending the new one", "provider", s.provider, "key", s.kind)
	return next
}

func (s *single) Status() Status {
	st := Status{Kind: s.kind, Keys: []KeyStatus{{Name: s.kind, State: Usable}}}
	switch {
	case s.cur.Load() == nil:
		st.Keys[0].State = Unavailable
		s.rereads.Lock()
		st.Err = fmt.Errorf("%w: %w", ErrNoCredential, s.readErr)
		s.rereads.Unlock()
	case s.refused.Load():
		st.Keys[0].State = Refused
	}
	return st
}

func (s *single) changedFrom(prev Source) []string {
	if p, ok := prev.(*single); ok && p.value() != s.value() {
		if s.kind == KindToken {
			return []string{"token"}
		}
		return []string{"key"}
	}
	return nil
}
