package velero

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/runx"
)

// ServiceAccountDir is where Kubernetes mounts a pod's service account
// token and CA.
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// maxPage bounds the body of one list answer.
const maxPage = 64 << 20

// requestTimeout bounds one request to the API server.
const requestTimeout = 30 * time.Second

// kubeClient talks to the Kubernetes API with plain REST.
type kubeClient struct {
	server string
	http   *http.Client
	// token returns the bearer token for a request; it is read from its
	// file on each collection, because projected tokens rotate.
	token func() (string, error)
	// where names the credentials' origin for messages ("kubeconfig
	// /etc/k.yaml, user ci", "in-cluster service account").
	where string
}

// inCluster builds a client from a pod's service account under dir and
// the KUBERNETES_SERVICE_HOST/PORT environment.
func inCluster(dir string) (*kubeClient, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, runx.Errorf(runx.KindConfig, "not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST/PORT unset): set velero.kubeconfig, file or binary")
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "in-cluster service account: %v", err)
	}
	tlsCfg, err := tlsConfig(ca, false, "", nil, nil)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "in-cluster service account CA: %v", err)
	}
	tokenFile := filepath.Join(dir, "token")
	return &kubeClient{
		server: "https://" + net.JoinHostPort(host, port),
		http:   newHTTPClient(tlsCfg),
		token:  func() (string, error) { return readToken(tokenFile) },
		where:  "in-cluster service account",
	}, nil
}

// kubeconfig is the part of a kubeconfig file the collector understands.
type kubeconfig struct {
	CurrentContext string `yaml:"current-context"`
	Clusters       []struct {
		Name    string `yaml:"name"`
		Cluster struct {
			Server                   string `yaml:"server"`
			CertificateAuthority     string `yaml:"certificate-authority"`
			CertificateAuthorityData string `yaml:"certificate-authority-data"`
			InsecureSkipTLSVerify    bool   `yaml:"insecure-skip-tls-verify"`
			TLSServerName            string `yaml:"tls-server-name"`
		} `yaml:"cluster"`
	} `yaml:"clusters"`
	Contexts []struct {
		Name    string `yaml:"name"`
		Context struct {
			Cluster string `yaml:"cluster"`
			User    string `yaml:"user"`
		} `yaml:"context"`
	} `yaml:"contexts"`
	Users []struct {
		Name string `yaml:"name"`
		User struct {
			Token                 string         `yaml:"token"`
			TokenFile             string         `yaml:"tokenFile"`
			ClientCertificate     string         `yaml:"client-certificate"`
			ClientCertificateData string         `yaml:"client-certificate-data"`
			ClientKey             string         `yaml:"client-key"`
			ClientKeyData         string         `yaml:"client-key-data"`
			Exec                  map[string]any `yaml:"exec"`
			AuthProvider          map[string]any `yaml:"auth-provider"`
		} `yaml:"user"`
	} `yaml:"users"`
}

// fromKubeconfig builds a client from the current context of a kubeconfig
// file. Credentials are a token, a token file or a client certificate;
// exec and auth-provider plugins are not run (the exporter starts no
// programs it was not configured to), and are reported as such.
func fromKubeconfig(path string) (*kubeClient, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "kubeconfig: %v", err)
	}
	var kc kubeconfig
	if err := yaml.Unmarshal(data, &kc); err != nil {
		return nil, runx.Errorf(runx.KindConfig, "kubeconfig %s: %v", path, err)
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	if kc.CurrentContext == "" {
		return nil, runx.Errorf(runx.KindConfig, "kubeconfig %s: no current-context", path)
	}
	var clusterName, userName string
	found := false
	for _, c := range kc.Contexts {
		if c.Name == kc.CurrentContext {
			clusterName, userName, found = c.Context.Cluster, c.Context.User, true
		}
	}
	if !found {
		return nil, runx.Errorf(runx.KindConfig, "kubeconfig %s: current-context %q is not among its contexts", path, kc.CurrentContext)
	}
	where := fmt.Sprintf("kubeconfig %s, context %s", path, kc.CurrentContext)
	c := &kubeClient{where: where, token: func() (string, error) { return "", nil }}
	var ca []byte
	var insecure bool
	var serverName string
	found = false
	for _, cl := range kc.Clusters {
		if cl.Name != clusterName {
			continue
		}
		found = true
		c.server = strings.TrimSuffix(cl.Cluster.Server, "/")
		insecure, serverName = cl.Cluster.InsecureSkipTLSVerify, cl.Cluster.TLSServerName
		switch {
		case cl.Cluster.CertificateAuthorityData != "":
			if ca, err = base64.StdEncoding.DecodeString(cl.Cluster.CertificateAuthorityData); err != nil {
				return nil, runx.Errorf(runx.KindConfig, "%s: certificate-authority-data: %v", where, err)
			}
		case cl.Cluster.CertificateAuthority != "":
			if ca, err = os.ReadFile(rel(cl.Cluster.CertificateAuthority)); err != nil {
				return nil, runx.Errorf(runx.KindConfig, "%s: certificate-authority: %v", where, err)
			}
		}
	}
	if !found || c.server == "" {
		return nil, runx.Errorf(runx.KindConfig, "%s: no server for cluster %q", where, clusterName)
	}
	var cert, key []byte
	for _, u := range kc.Users {
		if u.Name != userName {
			continue
		}
		switch {
		case u.User.Exec != nil || u.User.AuthProvider != nil:
			return nil, runx.Errorf(runx.KindConfig, "%s: user %s authenticates through an exec or auth-provider plugin, which the exporter does not run; give it a service account token (token or tokenFile)", where, userName)
		case u.User.Token != "":
			tok := u.User.Token
			c.token = func() (string, error) { return tok, nil }
		case u.User.TokenFile != "":
			f := rel(u.User.TokenFile)
			c.token = func() (string, error) { return readToken(f) }
		}
		if cert, err = dataOrFile(u.User.ClientCertificateData, rel(u.User.ClientCertificate)); err != nil {
			return nil, runx.Errorf(runx.KindConfig, "%s: client certificate: %v", where, err)
		}
		if key, err = dataOrFile(u.User.ClientKeyData, rel(u.User.ClientKey)); err != nil {
			return nil, runx.Errorf(runx.KindConfig, "%s: client key: %v", where, err)
		}
	}
	tlsCfg, err := tlsConfig(ca, insecure, serverName, cert, key)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "%s: %v", where, err)
	}
	c.http = newHTTPClient(tlsCfg)
	return c, nil
}

func dataOrFile(data, file string) ([]byte, error) {
	if data != "" {
		return base64.StdEncoding.DecodeString(data)
	}
	if file != "" {
		return os.ReadFile(file)
	}
	return nil, nil
}

func readToken(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func tlsConfig(ca []byte, insecure bool, serverName string, cert, key []byte) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure, ServerName: serverName} //nolint:gosec // only when the kubeconfig asks for it
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, errors.New("the certificate authority holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	if len(cert) > 0 || len(key) > 0 {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

func newHTTPClient(tlsCfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout: requestTimeout,
		Transport: &http.Transport{
			TLSClientConfig:       tlsCfg,
			ResponseHeaderTimeout: requestTimeout,
			TLSHandshakeTimeout:   10 * time.Second,
			Proxy:                 http.ProxyFromEnvironment,
		},
	}
}

// apiStatus is the Status object the API server answers errors with.
type apiStatus struct {
	Message string `json:"message"`
	Reason  string `json:"reason"`
	Code    int    `json:"code"`
}

// errExpired is a list whose continue token has expired (410 Gone).
var errExpired = errors.New("continue token expired")

// listAll lists every object of a velero.io/v1 resource in namespace ns,
// pageSize at a time, following the continue token. Each request is
// counted as "kubernetes list RESOURCE". A continue token that expires
// mid-list (the API server keeps them a few minutes) restarts the list
// once from the start.
func listAll[T any](ctx context.Context, c *kubeClient, ns, resource string, pageSize int) ([]T, error) {
	for attempt := 0; ; attempt++ {
		items, err := listPages[T](ctx, c, ns, resource, pageSize)
		if errors.Is(err, errExpired) && attempt == 0 {
			continue
		}
		return items, err
	}
}

func listPages[T any](ctx context.Context, c *kubeClient, ns, resource string, pageSize int) ([]T, error) {
	var out []T
	cont := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(pageSize)}}
		if cont != "" {
			q.Set("continue", cont)
		}
		u := c.server + "/apis/velero.io/v1/namespaces/" + url.PathEscape(ns) + "/" + resource + "?" + q.Encode()
		body, err := c.get(ctx, u, resource)
		if err != nil {
			return nil, err
		}
		page, err := parseList[T](body)
		if err != nil {
			return nil, runx.ParseError(fmt.Errorf("list %s: %w", resource, err))
		}
		out = append(out, page.Items...)
		if page.Metadata.Continue == "" {
			return out, nil
		}
		if page.Metadata.Continue == cont {
			return nil, runx.ParseError(fmt.Errorf("list %s: the API server returned the same continue token twice", resource))
		}
		cont = page.Metadata.Continue
	}
}

// get makes one GET request and returns its body, with errors that name
// the credentials' origin and the API server's own reason.
func (c *kubeClient) get(ctx context.Context, u, resource string) ([]byte, error) {
	tok, err := c.token()
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "token of %s: %v", c.where, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "list %s: %v", resource, err)
	}
	req.Header.Set("Accept", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		runx.Count(ctx, "kubernetes list "+resource, 0)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("list %s: %w", resource, ctx.Err())
		}
		return nil, runx.Errorf(runx.KindIO, "list %s at %s: %v", resource, c.server, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	runx.Count(ctx, "kubernetes list "+resource, int64(len(body)))
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "list %s: read the answer: %v", resource, err)
	}
	if len(body) > maxPage {
		return nil, runx.Errorf(runx.KindLimit, "list %s: one page exceeds %s; lower velero.page_size", resource, runx.FormatBytes(maxPage))
	}
	if resp.StatusCode == http.StatusOK {
		return body, nil
	}
	var st apiStatus
	_ = json.Unmarshal(body, &st)
	msg := st.Message
	if msg == "" {
		msg = runx.Tail(string(body), 200)
	}
	switch resp.StatusCode {
	case http.StatusGone:
		return nil, fmt.Errorf("list %s: %w: %s", resource, errExpired, msg)
	case http.StatusUnauthorized:
		return nil, runx.Errorf(runx.KindConfig, "list %s: the API server rejects the credentials of %s (401 %s): %s", resource, c.where, st.Reason, msg)
	case http.StatusForbidden:
		return nil, runx.Errorf(runx.KindConfig, "list %s: the credentials of %s may not list %s.velero.io (403): %s", resource, c.where, resource, msg)
	case http.StatusNotFound:
		return nil, runx.Errorf(runx.KindConfig, "list %s: not found (404; is Velero installed, in this namespace?): %s", resource, msg)
	}
	return nil, runx.Errorf(runx.KindIO, "list %s: %s: %s", resource, resp.Status, msg)
}
