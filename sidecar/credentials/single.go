package credentials

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"

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
type single struct {
	provider string
	kind     string // KindAPIKey or KindToken
	file     string // empty for an environment variable
	header   string
	prefix   string // what goes before the value: "Bearer ", or nothing
	log      logr.Logger

	cur atomic.Pointer[Credential]
	// refused is shared with the source this one replaced when the
	// credential did not change, so that a reload does not forget it.
	refused *atomic.Bool
	rereads sync.Mutex // one re-read of the file at a time
}

func newSingle(pc config.Provider, prev Source, env *Env) (*single, error) {
	s := &single{provider: pc.Name, kind: KindAPIKey, file: pc.APIKeyFile, log: env.Log, refused: new(atomic.Bool)}
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
	if err != nil {
		return nil, err
	}
	s.cur.Store(s.credential(v))
	if p, ok := prev.(*single); ok && p.kind == s.kind && p.header == s.header && p.cur.Load().Value == s.cur.Load().Value {
		s.refused = p.refused
	}
	return s, nil
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

func (s *single) Pick(context.Context, Call) (*Credential, error) { return s.cur.Load(), nil }

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
	if s.refused.Load() {
		st.Keys[0].State = Refused
	}
	return st
}

func (s *single) changedFrom(prev Source) []string {
	if p, ok := prev.(*single); ok && p.cur.Load().Value != s.cur.Load().Value {
		if s.kind == KindToken {
			return []string{"token"}
		}
		return []string{"key"}
	}
	return nil
}
