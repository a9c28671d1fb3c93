// Command host is a go-plugin host that launches a plugin binary over the
// gRPC protocol, measures launch, Ping and grpc.health.v1 Check latencies
// and the time Kill takes, and prints the results as one JSON object on
// stdout. With -dial it instead runs Check calls against a plain gRPC
// server at a TCP address.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"time"

	hclog "github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// kvPlugin is the client side of the "kv" plugin; it hands back the
// plugin's connection.
type kvPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (kvPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return nil
}

func (kvPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (interface{}, error) {
	return conn, nil
}

// result is the JSON object printed on stdout.
type result struct {
	LaunchMs        float64 `json:"launch_ms"`
	PingCount       int     `json:"ping_count"`
	PingP50Ms       float64 `json:"ping_p50_ms"`
	PingP99Ms       float64 `json:"ping_p99_ms"`
	PingMaxMs       float64 `json:"ping_max_ms"`
	CheckCount      int     `json:"check_count"`
	CheckP50Ms      float64 `json:"check_p50_ms"`
	CheckP99Ms      float64 `json:"check_p99_ms"`
	CheckMaxMs      float64 `json:"check_max_ms"`
	CheckStatus     string  `json:"check_status"`
	KillMs          float64 `json:"kill_ms"`
	Exited          bool    `json:"exited"`
	ProtocolVersion int     `json:"protocol_version"`
	Network         string  `json:"network"`
	Addr            string  `json:"addr"`
	Error           string  `json:"error"`
}

func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// percentile returns the nearest-rank p-th percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(p/100*float64(n) + 0.999999999)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// summarize returns p50, p99 and max of the latencies.
func summarize(lat []float64) (p50, p99, max float64) {
	if len(lat) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), lat...)
	sort.Float64s(s)
	return percentile(s, 50), percentile(s, 99), s[len(s)-1]
}

// runChecks performs n sequential Health/Check calls for service and
// records their latencies and the status of the last response.
func runChecks(conn *grpc.ClientConn, service string, n int, res *result) error {
	hc := healthpb.NewHealthClient(conn)
	lat := make([]float64, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("check %d: %v", i, err)
		}
		lat = append(lat, ms(time.Since(start)))
		res.CheckCount++
		res.CheckStatus = resp.Status.String()
	}
	res.CheckP50Ms, res.CheckP99Ms, res.CheckMaxMs = summarize(lat)
	return nil
}

func emit(res *result) {
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "encode:", err)
		os.Exit(1)
	}
	if res.Error != "" {
		os.Exit(1)
	}
}

func main() {
	pluginPath := flag.String("plugin", "", "plugin binary to launch")
	cookieKey := flag.String("cookie-key", "BASIC_PLUGIN", "handshake magic cookie key")
	cookieValue := flag.String("cookie-value", "hello", "handshake magic cookie value")
	version := flag.Uint("version", 1, "handshake protocol version")
	autoMTLS := flag.Bool("automtls", false, "enable ClientConfig.AutoMTLS")
	pings := flag.Int("pings", 100, "sequential Ping calls after the first")
	checks := flag.Int("checks", 0, "sequential grpc.health.v1 Check calls")
	service := flag.String("service", "plugin", "service name for Check calls")
	hold := flag.Duration("hold", 0, "sleep after the checks before Kill")
	dial := flag.String("dial", "", "TCP address of a plain gRPC server to check instead of launching a plugin")
	flag.Parse()

	res := &result{}

	if *dial != "" {
		res.Network = "tcp"
		res.Addr = *dial
		conn, err := grpc.Dial(*dial, grpc.WithInsecure())
		if err != nil {
			res.Error = fmt.Sprintf("dial: %v", err)
			emit(res)
			return
		}
		if err := runChecks(conn, *service, *checks, res); err != nil {
			res.Error = err.Error()
		}
		conn.Close()
		emit(res)
		return
	}

	if *pluginPath == "" {
		res.Error = "-plugin or -dial is required"
		emit(res)
		return
	}

	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "host",
		Level:      hclog.Trace,
		JSONFormat: true,
		Output:     os.Stderr,
	})

	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  *version,
			MagicCookieKey:   *cookieKey,
			MagicCookieValue: *cookieValue,
		},
		Plugins: map[string]plugin.Plugin{
			"kv": kvPlugin{},
		},
		Cmd:              exec.Command(*pluginPath),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           logger,
		AutoMTLS:         *autoMTLS,
		StartTimeout:     20 * time.Second,
	})

	if err := run(client, res, *pings, *checks, *service, *hold); err != nil {
		res.Error = err.Error()
		client.Kill()
		res.Exited = client.Exited()
		emit(res)
		return
	}

	start := time.Now()
	client.Kill()
	res.KillMs = ms(time.Since(start))
	res.Exited = client.Exited()
	emit(res)
}

// run launches the plugin, dispenses "kv", and performs the pings and
// checks, filling res as it goes.
func run(client *plugin.Client, res *result, pings, checks int, service string, hold time.Duration) error {
	start := time.Now()
	rpcClient, err := client.Client()
	if err != nil {
		return fmt.Errorf("client: %v", err)
	}
	if err := rpcClient.Ping(); err != nil {
		return fmt.Errorf("first ping: %v", err)
	}
	res.LaunchMs = ms(time.Since(start))

	res.ProtocolVersion = client.NegotiatedVersion()
	if rc := client.ReattachConfig(); rc != nil && rc.Addr != nil {
		res.Network = rc.Addr.Network()
		res.Addr = rc.Addr.String()
	}

	raw, err := rpcClient.Dispense("kv")
	if err != nil {
		return fmt.Errorf("dispense: %v", err)
	}
	if _, ok := raw.(*grpc.ClientConn); !ok {
		return fmt.Errorf("dispense: unexpected type %T", raw)
	}

	lat := make([]float64, 0, pings)
	for i := 0; i < pings; i++ {
		s := time.Now()
		if err := rpcClient.Ping(); err != nil {
			return fmt.Errorf("ping %d: %v", i, err)
		}
		lat = append(lat, ms(time.Since(s)))
		res.PingCount++
	}
	res.PingP50Ms, res.PingP99Ms, res.PingMaxMs = summarize(lat)

	if checks > 0 {
		gc, ok := rpcClient.(*plugin.GRPCClient)
		if !ok {
			return errors.New("client is not a *plugin.GRPCClient")
		}
		if err := runChecks(gc.Conn, service, checks, res); err != nil {
			return err
		}
	}

	if hold > 0 {
		time.Sleep(hold)
	}
	return nil
}
