package credentials

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// newGoogle makes the source of googleExternalAccount: workload identity
// federation through x/oauth2's externalaccount. A token from a file (a
// projected ServiceAccount token) is exchanged at the Security Token
// Service (RFC 8693) for a federated access token, then, when a service
// account is named, for that account's token (generateAccessToken).
func newGoogle(pc config.Provider, prev Source, env *Env) (Source, error) {
	g := *pc.GoogleExternalAccount
	client := &http.Client{Transport: env.Transport}
	fetch := func(ctx context.Context) (*oauth2.Token, error) {
		// A token source per fetch: x/oauth2's caches its token, and the
		// refresh is this package's to time.
		ts, err := externalaccount.NewTokenSource(context.WithValue(ctx, oauth2.HTTPClient, client), externalaccount.Config{
			Audience:                       g.Audience,
			SubjectTokenType:               g.SubjectTokenType,
			TokenURL:                       g.TokenURL,
			ServiceAccountImpersonationURL: g.ServiceAccountImpersonationURL,
			Scopes:                         g.Scopes,
			CredentialSource:               &externalaccount.CredentialSource{File: g.SubjectTokenFile},
		})
		if err != nil {
			return nil, err
		}
		tok, err := ts.Token()
		if err != nil {
			return nil, fetchError(g.TokenURL, err)
		}
		return tok, nil
	}
	return newTokens(pc, prev, KindGoogle, g, []string{g.SubjectTokenFile}, fetch, env)
}
