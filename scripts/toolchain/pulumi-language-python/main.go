// pulumi-language-python: the engine's language host for Python programs and Python policy packs.
//
// Built by scripts/pulumi-toolchain.sh because the upstream host's own module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3) is not served by the Go
// module proxy these machines reach. The script compiles this file as a package of the
// github.com/pulumi/pulumi/sdk/v3 module it downloads, so it shares that SDK's gRPC protocol,
// its Python toolchain handling (pip, poetry, uv: the same code the upstream host calls) and its
// `pulumi-language-python-exec` launcher, which the script installs beside this binary.
//
// It serves what `pulumi preview/up/destroy`, `pulumi install`, `pulumi about` and
// `--policy-pack` use. Code generation (`pulumi convert`, `pulumi package gen-sdk`, templates)
// answers Unimplemented: this toolchain has no use for it and it would pull in pkg/v3.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The launcher script the SDK ships; it connects the program to the engine and runs it.
const launcherName = "pulumi-language-python-exec"

// The launcher exits with this code after it has already shown the user an actionable message,
// so the engine must not add its own "program exited" error on top.
const exitAfterUserMessage = 32

func main() {
	// The engine passes only its address; flags that older engines passed are accepted and ignored.
	for _, obsolete := range []string{"tracing", "virtualenv", "root", "typechecker", "toolchain"} {
		flag.String(obsolete, "", "obsolete: runtime options now arrive with each request")
	}
	launcher := flag.String("use-executor", "", "the launcher script to run instead of the one beside this binary")
	flag.Parse()
	logging.InitLogging(false, 0, false)

	if *launcher == "" {
		self, err := os.Executable()
		if err != nil {
			cmdutil.Exit(fmt.Errorf("finding this executable: %w", err))
		}
		*launcher = filepath.Join(filepath.Dir(self), launcherName)
	}
	if _, err := os.Stat(*launcher); err != nil {
		cmdutil.Exit(fmt.Errorf("the Python launcher must sit beside the language host: %w", err))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	host := &languageHost{launcher: *launcher}
	if args := flag.Args(); len(args) > 0 {
		host.engineAddress = args[0]
		// Exit when the engine goes away, so no host outlives a killed `pulumi`.
		if err := rpcutil.Healthcheck(ctx, host.engineAddress, 5*time.Minute, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("watching the engine: %w", err))
		}
	}

	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("starting the language host server: %w", err))
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host server stopped: %w", err))
	}
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	launcher      string
	engineAddress string
}

// pythonOptions reads Pulumi.yaml's `runtime.options` (or PulumiPolicy.yaml's) the way the
// upstream host does: toolchain pip|poetry|uv, virtualenv relative to the project root.
func pythonOptions(info *pulumirpc.ProgramInfo) (toolchain.PythonOptions, error) {
	opts := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	raw := info.GetOptions().AsMap()
	if v, ok := raw["virtualenv"]; ok {
		s, isString := v.(string)
		if !isString {
			return opts, errors.New("runtime option `virtualenv` must be a string")
		}
		opts.Virtualenv = s
	}
	if v, ok := raw["toolchain"]; ok {
		switch v {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		case "uv":
			opts.Toolchain = toolchain.Uv
		default:
			return opts, fmt.Errorf("runtime option `toolchain` must be pip, poetry or uv, not %v", v)
		}
	}
	if v, ok := raw["typechecker"]; ok && v != "" {
		return opts, fmt.Errorf("runtime option `typechecker` (%v) is not supported by this language host", v)
	}
	return opts, nil
}

// The role a request gives the Python it resolves.
type runAs int

const (
	// A program or a query about one: pip may use the ambient Python, as upstream allows.
	program runAs = iota
	// A plugin (policy pack, component provider): never the ambient Python, so pip defaults to ./venv.
	pluginProgram
)

// toolchainFor resolves the toolchain that runs the request's Python.
func toolchainFor(info *pulumirpc.ProgramInfo, as runAs) (toolchain.PythonOptions, toolchain.Toolchain, error) {
	opts, err := pythonOptions(info)
	if err != nil {
		return opts, nil, err
	}
	if as == pluginProgram && opts.Toolchain == toolchain.Pip && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	tc, err := toolchain.ResolveToolchain(opts)
	return opts, tc, err
}

// existingToolchain is toolchainFor a program whose virtualenv must already exist.
func existingToolchain(ctx context.Context, info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	_, tc, err := toolchainFor(info, program)
	if err != nil {
		return nil, err
	}
	return tc, tc.ValidateVenv(ctx)
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return nil, status.Error(codes.Unimplemented, "use GetRequiredPackages")
}

// installedPluginsScript prints, as JSON, the pulumi-plugin.json of every installed distribution
// that ships one at the top of a package (pulumi_kubernetes/pulumi-plugin.json and the like).
const installedPluginsScript = `import importlib.metadata, json, sys
found = []
for dist in importlib.metadata.distributions():
    for file in dist.files or ():
        if file.name == "pulumi-plugin.json" and len(file.parts) == 2:
            with open(dist.locate_file(file), encoding="utf-8") as f:
                found.append(json.load(f))
json.dump(found, sys.stdout)
`

// GetRequiredPackages tells the engine which resource plugins the program's packages need, from
// the pulumi-plugin.json files they ship. Packages without one (old or third-party) are skipped.
func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := existingToolchain(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", installedPluginsScript)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the Pulumi packages of the Python environment: %w", withStderr(err))
	}
	var found []plugin.PulumiPluginJSON
	if err := json.Unmarshal(out, &found); err != nil {
		return nil, fmt.Errorf("reading the list of Pulumi packages: %w", err)
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: requiredPackages(found)}, nil
}

// requiredPackages keeps the plugin declarations that name a resource plugin and its version.
func requiredPackages(found []plugin.PulumiPluginJSON) []*pulumirpc.PackageDependency {
	packages := []*pulumirpc.PackageDependency{}
	for _, p := range found {
		if !p.Resource || p.Name == "" || p.Version == "" {
			continue
		}
		dep := &pulumirpc.PackageDependency{Kind: "resource", Name: p.Name, Version: p.Version, Server: p.Server}
		if p.Parameterization != nil {
			dep.Parameterization = &pulumirpc.PackageParameterization{
				Name: p.Parameterization.Name, Version: p.Parameterization.Version, Value: p.Parameterization.Value,
			}
		}
		packages = append(packages, dep)
	}
	return packages
}

// Run executes the program through the SDK's launcher with the project's Python.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := existingToolchain(ctx, req.GetInfo())
	if err != nil {
		return nil, err
	}
	configMap := req.GetConfig()
	if configMap == nil {
		configMap = map[string]string{}
	}
	config, err := json.Marshal(configMap)
	if err != nil {
		return nil, fmt.Errorf("encoding the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding the secret configuration keys: %w", err)
	}

	cmd, err := tc.Command(ctx, append([]string{h.launcher}, h.launcherArgs(req)...)...)
	if err != nil {
		return nil, err
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr

	if err := cmd.Run(); err != nil {
		// Python may die before flushing; make sure the engine sees what it did print.
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitAfterUserMessage {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start the Python launcher: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// launcherArgs is the command line pulumi-language-python-exec parses.
func (h *languageHost) launcherArgs(req *pulumirpc.RunRequest) []string {
	var args []string
	option := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	option("monitor", req.GetMonitorAddress())
	option("engine", h.engineAddress)
	option("project", req.GetProject())
	option("root_directory", req.GetInfo().GetRootDirectory())
	option("stack", req.GetStack())
	option("pwd", req.GetPwd())
	option("dry_run", strconv.FormatBool(req.GetDryRun()))
	option("parallel", strconv.Itoa(int(req.GetParallel())))
	option("organization", req.GetOrganization())
	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = "."
	}
	return append(append(args, entry), req.GetArgs()...)
}

// InstallDependencies is `pulumi install`: the toolchain's own install (uv sync, pip install -r, ...).
func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	as := program
	if req.GetIsPlugin() {
		as = pluginProgram
	}
	_, tc, err := toolchainFor(req.GetInfo(), as)
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeInstallDependenciesStreams(server, req.GetIsTerminal())
	if err != nil {
		return err
	}
	defer closer.Close()
	if err := tc.InstallDependencies(server.Context(), req.GetInfo().GetProgramDirectory(),
		req.GetUseLanguageVersionTools(), true, stdout, stderr); err != nil {
		return err
	}
	return closer.Close()
}

func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	var tc toolchain.Toolchain
	var err error
	if req.GetInfo() == nil {
		// Older engines send no project: describe the ambient Python, as the upstream host does.
		tc, err = toolchain.ResolveToolchain(toolchain.PythonOptions{Toolchain: toolchain.Pip})
	} else {
		_, tc, err = toolchainFor(req.GetInfo(), program)
	}
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: info.PythonExecutable, Version: info.PythonVersion.String()}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	_, tc, err := toolchainFor(req.GetInfo(), program)
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, req.GetTransitiveDependencies())
	if err != nil {
		return nil, fmt.Errorf("listing the program's Python packages: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, len(packages))
	for i, p := range packages {
		deps[i] = &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version}
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

// RunPlugin runs a Python plugin: for `--policy-pack DIR`, the pack's __main__.py with the
// engine address as its argument; a packaged component provider through `pulumi.run.plugin`.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	opts, tc, err := toolchainFor(req.GetInfo(), pluginProgram)
	if err != nil {
		return err
	}
	ctx := server.Context()
	var cmd *exec.Cmd
	if _, statErr := os.Stat(filepath.Join(req.GetInfo().GetProgramDirectory(), "__main__.py")); statErr == nil {
		cmd, err = tc.Command(ctx, append([]string{req.GetInfo().GetProgramDirectory()}, req.GetArgs()...)...)
	} else {
		var project toolchain.Pyproject
		if project, err = toolchain.LoadPyproject(opts.Root); err != nil {
			return fmt.Errorf("plugin %s has neither __main__.py nor a pyproject.toml: %w", opts.Root, err)
		}
		cmd, err = tc.ModuleCommand(ctx, "pulumi.run.plugin", append([]string{project.Project.Name}, req.GetArgs()...)...)
	}
	if err != nil {
		return err
	}
	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Dir = req.GetPwd()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// A plugin (a policy pack) announces its gRPC port on stdout, here a pipe: unbuffered, or
	// the engine waits forever for a port Python has not flushed.
	cmd.Env = append(cmd.Env, "PYTHONUNBUFFERED=1")
	cmd.Env = append(cmd.Env, req.GetEnv()...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok {
				return server.Send(&pulumirpc.RunPluginResponse{
					Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(ws.ExitStatus())}, //nolint:gosec
				})
			}
		}
		return fmt.Errorf("running the Python plugin: %w", err)
	}
	return closer.Close()
}

func withStderr(err error) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) && len(exit.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, exit.Stderr)
	}
	return err
}
