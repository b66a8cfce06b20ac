// Command pause is the end-to-end node's sandbox image: it holds a pod's
// namespaces open and sleeps until it is told to stop, as the upstream pause
// container does, from a static Go binary that needs no registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
}
