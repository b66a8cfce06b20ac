package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/osmen-ai/llmroute/hack/process"
)

// findNginx returns the nginx binary and its version, or "" when nginx is
// not installed (it is an optional baseline: apt-get install nginx-light).
func findNginx() (path, version string) {
	path, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"} {
			if _, err := os.Stat(p); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		return "", ""
	}
	out, _ := exec.Command(path, "-v").CombinedOutput() // "nginx version: nginx/1.22.1"
	v := strings.TrimSpace(string(out))
	if _, after, ok := strings.Cut(v, "nginx/"); ok {
		v = "nginx/" + strings.Fields(after)[0]
	}
	return path, v
}

// nginxConf is a minimal proxy_pass in front of the mock: one worker,
// keep-alive connections to the upstream and from the client, no access log,
// every path and temp file inside the run's own directory (no root needed).
var nginxConf = template.Must(template.New("nginx.conf").Parse(`# Written by hack/bench for one run.
worker_processes 1;
daemon off;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
worker_rlimit_nofile 8192;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path {{.Dir}}/client_body;
    proxy_temp_path {{.Dir}}/proxy;
    fastcgi_temp_path {{.Dir}}/fastcgi;
    uwsgi_temp_path {{.Dir}}/uwsgi;
    scgi_temp_path {{.Dir}}/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    upstream mock {
        server {{.Upstream}};
        keepalive 512;
        keepalive_requests 1000000;
    }
    server {
        listen {{.Listen}};
        location / {
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
    }
}
`))

// StartNginx runs nginx in the foreground in front of upstream (host:port).
func (h *Harness) StartNginx(ctx context.Context, upstream string) (*Proc, error) {
	dir, err := os.MkdirTemp(h.Dir, "nginx-")
	if err != nil {
		return nil, err
	}
	// Workers of an nginx started as root run as nobody.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		p, err := h.startNginxOnce(ctx, dir, upstream)
		if err == nil {
			return p, nil
		}
		if !process.AddrInUse(err) || try == 4 {
			return nil, err
		}
	}
}

// startNginxOnce runs nginx on a port chosen by listening and closing: nginx
// takes its port from its config file and does not say which it bound, so
// another process may take the port first, and StartNginx tries again.
func (h *Harness) startNginxOnce(ctx context.Context, dir, upstream string) (*Proc, error) {
	listen, err := process.FreeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	f, err := os.Create(conf)
	if err != nil {
		return nil, err
	}
	err = nginxConf.Execute(f, map[string]string{"Dir": dir, "Listen": listen, "Upstream": upstream})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("write nginx.conf: %w", err)
	}
	argv := []string{h.Nginx, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")}
	p, err := h.Start(ctx, "nginx", argv, nil, process.Announcement{})
	if err != nil {
		return nil, err
	}
	if err := p.WaitDial(ctx, listen, process.DefaultReadyTimeout); err != nil {
		p.Stop()
		return nil, err
	}
	p.Addr = listen
	return p, nil
}
