package mock

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/osmen-ai/llmroute/sidecar/translate"
)

// The headers every API response carries to say what arrived, so that a
// test of a proxy can check what it forwarded.
const (
	hdrEchoMethod      = "X-Mock-Method"
	hdrEchoPath        = "X-Mock-Path"
	hdrEchoQuery       = "X-Mock-Query"
	hdrEchoBodySHA256  = "X-Mock-Body-Sha256"
	hdrEchoBodyBytes   = "X-Mock-Body-Bytes"
	hdrEchoContentType = "X-Mock-Content-Type"
	hdrEchoHeaderNames = "X-Mock-Header-Names"
)

// echoHeaders sets the X-Mock-* headers that describe the request on h.
// It runs on every response of the benchmarks' hot path, so it allocates
// little: one backing array for the values, names already canonical.
func (x *exchange) echoHeaders(h http.Header) {
	if x.internal {
		return
	}
	r := x.r
	var body []byte
	if x.buf != nil {
		body = *x.buf
	}
	sum := sha256.Sum256(body)
	var names [24]string
	v := make([]string, 7)
	v[0] = r.Method
	v[1] = r.URL.Path
	v[2] = r.URL.RawQuery
	v[3] = hex.EncodeToString(sum[:])
	v[4] = strconv.Itoa(len(body))
	v[5] = r.Header.Get("Content-Type")
	v[6] = joinNames(headerNames(r, names[:0]))
	h[hdrEchoMethod] = v[0:1:1]
	h[hdrEchoPath] = v[1:2:2]
	h[hdrEchoQuery] = v[2:3:3]
	h[hdrEchoBodySHA256] = v[3:4:4]
	h[hdrEchoBodyBytes] = v[4:5:5]
	h[hdrEchoContentType] = v[5:6:6]
	h[hdrEchoHeaderNames] = v[6:7:7]
}

// joinNames joins names with commas.
func joinNames(names []string) string {
	n := 0
	for _, s := range names {
		n += len(s) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for i, s := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	return b.String()
}

// headerNames appends to names the sorted canonical names of the headers r
// arrived with, Host and Transfer-Encoding included (net/http moves them
// out of r.Header).
func headerNames(r *http.Request, names []string) []string {
	for k := range r.Header {
		names = append(names, k)
	}
	if r.Host != "" {
		names = append(names, "Host")
	}
	if len(r.TransferEncoding) > 0 {
		names = append(names, "Transfer-Encoding")
	}
	slices.Sort(names)
	return names
}

// credentialHeaders are the headers whose values the echo route hashes
// instead of showing.
var credentialHeaders = []string{"Authorization", "X-Api-Key", "Api-Key"}

// echo answers any method on /v1/echo/... with what arrived: {"method",
// "path", "query", "headers": {name: [values]}, "bodySha256", "bodyBytes"},
// credentials as "sha256:HEX" of their value.
func (x *exchange) echo() {
	if !x.admit(0) {
		return
	}
	r := x.r
	bp := getBuffer()
	defer putBuffer(bp)
	b := append((*bp)[:0], `{"method":`...)
	b = translate.AppendString(b, r.Method)
	b = append(b, `,"path":`...)
	b = translate.AppendString(b, r.URL.Path)
	b = append(b, `,"query":`...)
	b = translate.AppendString(b, r.URL.RawQuery)
	b = append(b, `,"headers":{`...)
	for i, name := range headerNames(r, nil) {
		if i > 0 {
			b = append(b, ',')
		}
		var values []string
		switch name {
		case "Host":
			values = []string{r.Host}
		case "Transfer-Encoding":
			values = r.TransferEncoding
		default:
			values = r.Header[name]
		}
		b = translate.AppendString(b, name)
		b = append(b, ":["...)
		for j, v := range values {
			if j > 0 {
				b = append(b, ',')
			}
			if slices.Contains(credentialHeaders, name) {
				sum := sha256.Sum256([]byte(v))
				v = "sha256:" + hex.EncodeToString(sum[:])
			}
			b = translate.AppendString(b, v)
		}
		b = append(b, ']')
	}
	sum := sha256.Sum256(*x.buf)
	b = append(b, `},"bodySha256":"`...)
	b = hex.AppendEncode(b, sum[:])
	b = append(b, `","bodyBytes":`...)
	b = strconv.AppendInt(b, int64(len(*x.buf)), 10)
	b = append(b, '}')
	*bp = b
	x.writeJSON(http.StatusOK, b)
}
