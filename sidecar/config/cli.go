package config

// The sidecar's command-line contract: how the operator starts
// llmroute-sidecar in a pod, and what its flags mean when a person starts it
// by hand. Written once, here, where both sides read it.
const (
	// The flags the operator passes.
	FlagConfig      = "config"
	FlagListen      = "listen"
	FlagAdminListen = "admin-listen"
	FlagLogFormat   = "log-format"
	FlagLogLevel    = "log-level"

	// DefaultListen is the proxy's address: loopback only, so that no other
	// pod can spend this pod's credentials.
	DefaultListen = "127.0.0.1:8089"
	// DefaultAdminPort serves /healthz, /readyz and /metrics on every
	// interface (the kubelet and Prometheus reach them on the pod IP).
	DefaultAdminPort = 9089

	// ConfigDir is where the rendered ConfigMap is mounted in a pod, and
	// ConfigKey its key and so the file name: ConfigFile.
	ConfigDir  = "/etc/llmroute/config"
	ConfigKey  = "config.json"
	ConfigFile = ConfigDir + "/" + ConfigKey
	// KeysDir is where the rendered keys Secret is mounted: one file per
	// provider name (KeyFile).
	KeysDir = "/etc/llmroute/keys"
	// TokensDir is where projected ServiceAccount tokens are mounted: one
	// file per provider that asks for one (TokenFile).
	TokensDir = "/etc/llmroute/tokens"
	// PodVolumesDir is where the pod's own volumes that a route's tokenFile
	// names are mounted, each in a directory named after the volume.
	PodVolumesDir = "/etc/llmroute/volumes"
)

// CredentialStateMetric is the gauge each sidecar exports on its admin
// port, one series per provider and credential (labels provider and key); the
// operator reads it for a route's CredentialsHealthy condition.
const CredentialStateMetric = "llmroute_credential_state"

// CredentialState is a credential's condition: the value of
// CredentialStateMetric.
type CredentialState int

// The states, numbered as the metric reports them.
const (
	CredentialUsable      CredentialState = 0 // it is sent
	CredentialCoolingDown CredentialState = 1 // answered 429: a pool's other keys serve until it cools down
	CredentialRefused     CredentialState = 2 // answered 401 or 403: a pool sets it aside until its file changes
	CredentialUnavailable CredentialState = 3 // no token could be obtained
)

func (s CredentialState) String() string {
	switch s {
	case CredentialCoolingDown:
		return "cooling_down"
	case CredentialRefused:
		return "refused"
	case CredentialUnavailable:
		return "unavailable"
	}
	return "usable"
}

// MarshalText writes the state's name.
func (s CredentialState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// The key label of CredentialStateMetric for a provider with a single
// credential: its kind. A key of apiKeys is labelled with its name.
const (
	CredentialKindAPIKey = "apiKey"
	CredentialKindToken  = "token"
	CredentialKindOAuth2 = "oauth2"
	CredentialKindGoogle = "google"
)

// LogFormats and LogLevels are the values --log-format and --log-level take;
// the first of each is the default.
var (
	LogFormats = []string{"json", "text"}
	LogLevels  = []string{"info", "debug", "error"}
)

// KeyFile is the path of a provider's API key file in a pod.
func KeyFile(provider string) string { return KeysDir + "/" + provider }

// TokenFile is the path of a provider's projected ServiceAccount token in a pod.
func TokenFile(provider string) string { return TokensDir + "/" + provider }

// PodVolumeDir is where one of the pod's own volumes is mounted in the sidecar.
func PodVolumeDir(volume string) string { return PodVolumesDir + "/" + volume }
