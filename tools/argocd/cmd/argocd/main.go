// Command argocd is a two-command multicall binary: the upstream Argo CD application controller and
// repo server, chosen by the name it is invoked as (a symlink) or by its first argument. Only these two
// are linked (no API server, UI, Dex or CLI): that is what a sync needs, and it halves a cold build.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"

	appcontroller "github.com/argoproj/argo-cd/v3/cmd/argocd-application-controller/commands"
	reposerver "github.com/argoproj/argo-cd/v3/cmd/argocd-repo-server/commands"
	"github.com/argoproj/argo-cd/v3/util/log"
)

func init() {
	// as upstream's cmd/main.go: klog goes through Argo CD's logrus configuration
	klog.SetLogger(log.NewLogrusLogger(log.NewWithCurrentConfig()))
}

var commands = map[string]func() *cobra.Command{
	"argocd-application-controller": appcontroller.NewCommand,
	"argocd-repo-server":            reposerver.NewCommand,
}

func main() {
	name := filepath.Base(os.Args[0])
	newCommand, ok := commands[name]
	if !ok && len(os.Args) > 1 {
		if newCommand, ok = commands[os.Args[1]]; ok {
			os.Args = os.Args[1:]
		}
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "usage: %s {argocd-application-controller|argocd-repo-server} [flags]\n", name)
		os.Exit(2)
	}
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}
