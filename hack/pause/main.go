// Command pause is the pod sandbox's process for hack/kube-cluster.sh: it
// holds the pod's namespaces and waits for SIGTERM. The usual pause image
// cannot be pulled here, so the script builds this one FROM scratch.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	<-c
}
