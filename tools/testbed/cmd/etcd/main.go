// Command etcd is upstream etcd (go.etcd.io/etcd/server/v3 main.go), built inside this
// module so that it resolves at the version Kubernetes itself pins.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
