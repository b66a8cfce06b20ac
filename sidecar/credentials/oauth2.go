package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"unicode/utf8"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// newOAuth2 makes the source of oauth2ClientCredentials: the client
// credentials grant (RFC 6749 §4.4) through x/oauth2's clientcredentials,
// the client authenticated by a secret or by a signed assertion (RFC 7523
// §2.2). x/oauth2 has no assertion support of its own: the assertion goes
// in the form as client_assertion, read from its file for every request (a
// projected ServiceAccount token is renewed in place), with the client_id.
func newOAuth2(pc config.Provider, prev Source, env *Env) (Source, error) {
	o := *pc.OAuth2ClientCredentials
	f := &clientCredentials{cfg: o, client: &http.Client{Transport: env.Transport}}
	f.cc = clientcredentials.Config{ClientID: o.ClientID, TokenURL: o.TokenURL, Scopes: o.Scopes}
	files := []string{o.ClientSecretFile}
	if o.ClientAssertionFile != "" {
		// The client_id goes in the form too; a secret would go in a Basic
		// header, and with none x/oauth2 would try that first for nothing.
		f.cc.AuthStyle = oauth2.AuthStyleInParams
		files = []string{o.ClientAssertionFile}
	}
	return newTokens(pc, prev, KindOAuth2, o, files, f.fetch, env)
}

// clientCredentials asks a token endpoint for tokens. Its fetches never
// overlap (the token source runs one at a time), so they may update cc,
// which keeps what x/oauth2 learnt of how the endpoint wants the secret.
type clientCredentials struct {
	cfg    config.OAuth2ClientCredentials
	cc     clientcredentials.Config
	client *http.Client
}

func (f *clientCredentials) fetch(ctx context.Context) (*oauth2.Token, error) {
	params := url.Values{}
	for k, v := range f.cfg.Params {
		params.Set(k, v)
	}
	if f.cfg.Audience != "" {
		params.Set("audience", f.cfg.Audience)
	}
	if f.cfg.ClientSecretFile != "" {
		secret, err := readSecret(f.cfg.ClientSecretFile, "client secret")
		if err != nil {
			return nil, err
		}
		f.cc.ClientSecret = secret
	} else {
		assertion, err := readSecret(f.cfg.ClientAssertionFile, "client assertion")
		if err != nil {
			return nil, err
		}
		params.Set("client_assertion_type", f.cfg.ClientAssertionType)
		params.Set("client_assertion", assertion)
	}
	f.cc.EndpointParams = params
	tok, err := f.cc.Token(context.WithValue(ctx, oauth2.HTTPClient, f.client))
	if err != nil {
		return nil, fetchError(f.cfg.TokenURL, err)
	}
	return tok, nil
}

// fetchError says what a token endpoint answered, briefly: a status and the
// RFC 6749 §5.2 error, or a network failure; never the form that was sent.
func fetchError(tokenURL string, err error) error {
	where := config.RedactURL(tokenURL)
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		msg := fmt.Sprintf("token endpoint %s answered %s", where, re.Response.Status)
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				msg += " (" + truncate(re.ErrorDescription, 200) + ")"
			}
		}
		return errors.New(msg)
	}
	return fmt.Errorf("token endpoint %s: %s", where, truncate(err.Error(), 300))
}

// truncate shortens s to about n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
