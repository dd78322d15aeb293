using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Relay.Testing;

namespace Relay.IntegrationTests.Fixtures;

/// <summary>
/// The relay as its own OS process, configured through environment variables, so tests can
/// SIGKILL it mid-stream or SIGTERM it as Kubernetes does. It logs JSON lines (as in a container) unless a test sets
/// <c>Relay:Diagnostics:LogFormat</c>, so tests can wait for and assert event ids (<see cref="Events"/>).
/// </summary>
public sealed partial class RelayProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly ConcurrentQueue<string> _output = new();
    readonly ITestOutputHelper? _testOutput;

    RelayProcess(Process process, ITestOutputHelper? testOutput)
    {
        _process = process;
        _testOutput = testOutput;
    }

    /// <summary>Every line on stdout and stderr as written (log lines as JSON; start-up errors and <c>relay check</c> as text).</summary>
    public IReadOnlyCollection<string> Output => _output;
    /// <summary>The log events among the output lines.</summary>
    public LogEvents Events { get; } = new();
    public bool HasExited => _process.HasExited;
    public int Id => _process.Id;

    /// <summary>
    /// The executable the image ships (Native AOT, published by scripts/test.sh) when <c>RELAY_EXECUTABLE</c> names it,
    /// else <c>dotnet Relay.dll</c> as built next to the tests.
    /// </summary>
    public static string[] Command
    {
        get
        {
            if (Environment.GetEnvironmentVariable("RELAY_EXECUTABLE") is { Length: > 0 } executable)
                return File.Exists(executable) ? [executable] : throw new FileNotFoundException("RELAY_EXECUTABLE names no file.", executable);
            var path = Path.Combine(AppContext.BaseDirectory, "Relay.dll");
            return File.Exists(path) ? ["dotnet", path] : throw new FileNotFoundException("Relay.dll is not next to the tests; build the solution first.", path);
        }
    }

    public static RelayProcess Start(RelaySettings settings, params string[] arguments) =>
        Start(settings, new ProcessStartInfo(Command[0], [.. Command[1..], .. arguments]));

    /// <summary>
    /// Runs a command line as a person would paste it into a shell (<c>bash -c</c>, which execs a single command, so
    /// signals reach the relay itself), with the same environment as <see cref="Start(RelaySettings, string[])"/>.
    /// </summary>
    public static RelayProcess StartShellCommand(RelaySettings settings, string commandLine) =>
        Start(settings, new ProcessStartInfo("bash", ["-c", commandLine]));

    static RelayProcess Start(RelaySettings settings, ProcessStartInfo start)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.WorkingDirectory = Path.GetTempPath();
        // The HTTP endpoints take an ephemeral port unless a test asks for one (several relays run at once).
        start.Environment["Relay__Diagnostics__Port"] = "0";
        start.Environment["Relay__Diagnostics__LogFormat"] = "Json";
        foreach (var (key, value) in settings.ToEnvironment())
            start.Environment[key] = value;
        start.Environment["DOTNET_ENVIRONMENT"] = "Test";
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var relay = new RelayProcess(process, TestContext.Current.TestOutputHelper);
        process.OutputDataReceived += (_, e) => relay.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => relay.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return relay;
    }

    void OnLine(string? line)
    {
        if (line is null)
            return;
        var isEvent = JsonLogLine.TryParse(line, out var logEvent);
        if (isEvent)
            Events.Add(logEvent!);
        _output.Enqueue(line);
        try { _testOutput?.WriteLine($"[relay {_process.Id}] {(isEvent ? logEvent : line)}"); }
        catch (InvalidOperationException) { }
    }

    /// <summary>Waits until at least <paramref name="count"/> events with this id were logged; false on timeout or when the process exits first.</summary>
    public Task<bool> WaitForEventAsync(int id, TimeSpan timeout, int count = 1) =>
        Events.WaitForAsync(id, timeout, count, givenUp: () => _process.HasExited);

    /// <summary>SIGKILL: no drain, no final confirmation — the crash the checkpoint rule must survive.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as Kubernetes sends before stopping a pod.</summary>
    public void Terminate() => SendSignal(_process.Id, 15);

    /// <summary>SIGSTOP: the process freezes with its connections open, as one cut off by a network partition looks to the others.</summary>
    public void Freeze() => SendSignal(_process.Id, 19);

    /// <summary>SIGCONT: the frozen process runs on (the partition heals).</summary>
    public void Thaw() => SendSignal(_process.Id, 18);

    /// <summary>SIGINT, as Ctrl-C in a terminal sends.</summary>
    public void Interrupt() => SendSignal(_process.Id, 2);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SendSignal(int pid, int signal);

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
            Kill();
        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
