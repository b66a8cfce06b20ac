/*
Copyright 2026 The llmroute Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controllers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/osmen-ai/llmroute/sidecar/config"
)

// credentialStates is what one sidecar reports: provider → key → state.
type credentialStates map[string]map[string]config.CredentialState

// maxMetricsBytes bounds what the operator reads of one sidecar's metrics: a
// sidecar's whole exposition is tens of kilobytes, and whatever answers on
// a pod's admin port is not trusted.
const maxMetricsBytes = 4 << 20

// DefaultProbeTimeout bounds one scrape of a sidecar's metrics, connection
// included.
const DefaultProbeTimeout = 2 * time.Second

// NewProbeTransport is the transport of the credential-state scrapes: no
// proxy (pod IPs are reached directly, whatever the manager's environment
// says), no kept-alive connections to the many pods it visits a minute
// apart, and short dial and header timeouts.
func NewProbeTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: DefaultProbeTimeout}).DialContext,
		DisableKeepAlives:      true,
		ResponseHeaderTimeout:  DefaultProbeTimeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// metricsURL is a sidecar's metrics endpoint on pod IP ip.
func metricsURL(ip string) string {
	return "http://" + net.JoinHostPort(ip, strconv.Itoa(config.DefaultAdminPort)) + "/metrics"
}

// scrapeCredentialStates reads config.CredentialStateMetric from a sidecar's metrics
// endpoint. The answer is parsed, not trusted: only its label values are
// kept, and the caller keeps only those that name the route's own providers
// and credentials. Redirects are not followed.
func scrapeCredentialStates(ctx context.Context, c *http.Client, url string) (credentialStates, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetricsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", url, err)
	}
	if len(body) > maxMetricsBytes {
		return nil, fmt.Errorf("%s sent more than %d bytes", url, maxMetricsBytes)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	states := credentialStates{}
	for _, m := range families[config.CredentialStateMetric].GetMetric() {
		var provider, key string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "provider":
				provider = l.GetValue()
			case "key":
				key = l.GetValue()
			}
		}
		v := m.GetGauge().GetValue()
		if provider == "" || key == "" || v != float64(int(v)) {
			continue
		}
		if states[provider] == nil {
			states[provider] = map[string]config.CredentialState{}
		}
		states[provider][key] = config.CredentialState(v)
	}
	return states, nil
}

// probeClient is the HTTP client of the scrapes over transport.
func probeClient(transport http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: transport,
		Timeout:   DefaultProbeTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed")
		},
	}
}
