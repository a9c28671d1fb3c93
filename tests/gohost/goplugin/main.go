// Command goplugin is a minimal go-plugin gRPC plugin server. It serves
// one plugin, "kv", that registers no services of its own; go-plugin
// itself registers grpc.health.v1 with service "plugin" SERVING, the
// broker and the controller (whose Shutdown makes the process exit).
package main

import (
	"context"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// kvPlugin is a GRPCPlugin with no services.
type kvPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return nil
}

func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return conn, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  1,
			MagicCookieKey:   "BASIC_PLUGIN",
			MagicCookieValue: "hello",
		},
		Plugins: map[string]plugin.Plugin{
			"kv": kvPlugin{},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
