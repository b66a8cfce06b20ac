package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/osmen-ai/llmroute/controllers"
	"github.com/osmen-ai/llmroute/sidecar/config"
)

// syncVolumes does what the kubelet does for the pod's two volumes: it
// writes the rendered ConfigMap and keys Secret into directories the way
// Kubernetes' atomic writer does (files behind a "..data" symlink that is
// swapped in one rename), which is what the sidecar's file watch expects.
// Paths inside the config that point at the pod's mount (/etc/llmroute/keys)
// are pointed at the emulated mount instead.
func (d *demo) syncVolumes(ctx context.Context) error {
	var cm corev1.ConfigMap
	if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: controllers.ConfigMapName("chat")}, &cm); err != nil {
		return fmt.Errorf("read the rendered ConfigMap: %w", err)
	}
	var keys corev1.Secret
	if err := d.k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: controllers.KeysSecretName("chat")}, &keys); err != nil {
		return fmt.Errorf("read the rendered keys Secret: %w", err)
	}
	keysDir := filepath.Join(d.dir, "keys")
	files := map[string][]byte{}
	for k, v := range keys.Data {
		files[k] = v
	}
	if err := atomicWrite(keysDir, files); err != nil {
		return err
	}
	cfg := strings.ReplaceAll(cm.Data["config.json"], config.KeysDir+"/", keysDir+"/")
	return atomicWrite(filepath.Join(d.dir, "config"), map[string][]byte{"config.json": []byte(cfg)})
}

func atomicWrite(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ts := filepath.Join(dir, ".."+time.Now().Format("2006_01_02_15_04_05.000000000"))
	if err := os.Mkdir(ts, 0o755); err != nil {
		return err
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(ts, name), b, 0o600); err != nil {
			return err
		}
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				return err
			}
		}
	}
	tmp := filepath.Join(dir, "..data_tmp")
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "..data"))
}
