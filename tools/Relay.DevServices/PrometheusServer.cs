using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace Relay.DevServices;

/// <summary>
/// A throwaway Prometheus (Debian's <c>prometheus</c> package) scraping given targets every second, with its data in a
/// temporary directory, for checking that the queries Relay ships (dashboard, alerts) return data from a live relay.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    readonly Process _process;
    readonly string _directory;
    readonly Uri _api;

    PrometheusServer(Process process, string directory, int port) =>
        (_process, _directory, _api) = (process, directory, new Uri($"http://127.0.0.1:{port}/api/v1/"));

    /// <summary>The Prometheus binary on PATH, or null.</summary>
    public static string? FindBinary() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, "prometheus")).FirstOrDefault(File.Exists);

    public static async Task<PrometheusServer> StartAsync(IEnumerable<string> targets, CancellationToken cancellationToken = default)
    {
        var binary = FindBinary() ?? throw new InvalidOperationException("prometheus is not on PATH (Debian: apt-get install prometheus).");
        var directory = Directory.CreateTempSubdirectory("relay-prometheus-").FullName;
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: relay
                static_configs:
                  - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """, cancellationToken);
        var port = PostgresCluster.FreePort();
        var start = new ProcessStartInfo(binary, [$"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start prometheus.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new PrometheusServer(process, directory, port);
        var ready = Stopwatch.StartNew();
        while (!await server.IsReadyAsync(port))
        {
            if (process.HasExited || ready.Elapsed > TimeSpan.FromSeconds(60))
            {
                await server.DisposeAsync();
                throw new InvalidOperationException($"prometheus did not become ready on port {port}.");
            }
            await Task.Delay(200, cancellationToken);
        }
        return server;
    }

    async Task<bool> IsReadyAsync(int port)
    {
        try
        {
            using var response = await Http.GetAsync($"http://127.0.0.1:{port}/-/ready");
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    /// <summary>An instant query: the result's series, or the error Prometheus gives (a query it cannot parse, say).</summary>
    public async Task<QueryResult> QueryAsync(string expression)
    {
        using var response = await Http.GetAsync(new Uri(_api, "query?query=" + Uri.EscapeDataString(expression)));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (body.GetProperty("status").GetString() != "success")
            return new QueryResult(0, body.GetProperty("error").GetString());
        var result = body.GetProperty("data").GetProperty("result");
        // A scalar or string result is one value; a vector or matrix has one entry per series.
        return new QueryResult(result.ValueKind == JsonValueKind.Array ? result.GetArrayLength() : 1, null);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
    }
}

/// <summary>How many series an instant query returned, or why it failed.</summary>
public sealed record QueryResult(int Series, string? Error);
