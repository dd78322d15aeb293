using System.Net;
using System.Text;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Options;

namespace Relay.Diagnostics;

/// <summary>
/// <c>/healthz</c> (liveness) and <c>/readyz</c> (readiness) on the diagnostics port, served by .NET's own
/// <see cref="HttpListener"/>, and <c>/metrics</c> on the same port by OpenTelemetry's Prometheus exporter (its own
/// listener for that path): three GET endpoints do not need a web framework, and one costs a relay about 15 MiB of
/// memory and a tenth of a second at start-up.
/// </summary>
sealed class DiagnosticsEndpoints(
    IOptions<DiagnosticsOptions> options,
    RelayMetricsExport metrics,
    HealthCheckService health,
    ILogger<DiagnosticsEndpoints> logger) : IHostedService, IDisposable
{
    readonly HttpListener _listener = new() { IgnoreWriteExceptions = true };
    Task? _accepting;
    IDisposable? _metricsEndpoint;

    /// <summary>The URL prefix for an address: any host name is accepted when listening on all interfaces.</summary>
    public static string Prefix(string address, int port) => address switch
    {
        "0.0.0.0" or "::" or "[::]" or "*" or "+" => $"http://+:{port}/",
        _ when address.Contains(':') && !address.StartsWith('[') => $"http://[{address}]:{port}/",
        _ => $"http://{address}:{port}/",
    };

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var (address, port) = (options.Value.Address, options.Value.Port);
        if (port == 0)
            return Task.CompletedTask;
        var prefix = Prefix(address, port);
        _listener.Prefixes.Add(prefix);
        try
        {
            _listener.Start();
            _metricsEndpoint = metrics.Listen(prefix, port);
        }
        catch (Exception e) when (e is HttpListenerException or InvalidOperationException)
        {
            throw new RelayConfigurationException(
                $"{DiagnosticsOptions.Section}:Port: cannot listen on {address}:{port} ({e.InnerException?.Message ?? e.Message}). Choose a free port (or 0 to serve no endpoints).");
        }
        _accepting = AcceptAsync();
        return Task.CompletedTask;
    }

    async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;   // stopped
            }
            _ = RespondAsync(context);
        }
    }

    async Task RespondAsync(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            switch (context.Request.Url?.AbsolutePath)
            {
                case "/healthz":
                    await WriteHealthAsync(response, "live");
                    break;
                case "/readyz":
                    await WriteHealthAsync(response, "ready");
                    break;
                default:
                    response.StatusCode = (int)HttpStatusCode.NotFound;
                    break;
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.DiagnosticsRequestFailed(logger, context.Request.Url?.AbsolutePath ?? "", e.Message);
            response.StatusCode = (int)HttpStatusCode.InternalServerError;
        }
        finally
        {
            response.Close();
        }
    }

    /// <summary>200 with <c>Healthy</c>, or 503 with <c>Unhealthy</c> (as ASP.NET Core's health endpoints answer).</summary>
    async Task WriteHealthAsync(HttpListenerResponse response, string tag)
    {
        var report = await health.CheckHealthAsync(check => check.Tags.Contains(tag));
        response.StatusCode = report.Status == HealthStatus.Unhealthy ? (int)HttpStatusCode.ServiceUnavailable : (int)HttpStatusCode.OK;
        response.ContentType = "text/plain";
        var body = Encoding.UTF8.GetBytes(report.Status.ToString());
        await response.OutputStream.WriteAsync(body);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _metricsEndpoint?.Dispose();
        if (!_listener.IsListening)
            return;
        _listener.Stop();
        if (_accepting is not null)
            await _accepting.WaitAsync(cancellationToken);
    }

    public void Dispose()
    {
        _metricsEndpoint?.Dispose();
        ((IDisposable)_listener).Dispose();
    }
}
