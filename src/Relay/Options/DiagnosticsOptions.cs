using System.ComponentModel.DataAnnotations;

namespace Relay.Options;

/// <summary>Metrics, health endpoints and log format (configuration section <c>Relay:Diagnostics</c>).</summary>
public sealed class DiagnosticsOptions
{
    public const string Section = "Relay:Diagnostics";

    /// <summary>Address the HTTP endpoints (<c>/metrics</c>, <c>/healthz</c>, <c>/readyz</c>) listen on. Default <c>0.0.0.0</c> (all, as a pod needs).</summary>
    [Required]
    public string Address { get; set; } = "0.0.0.0";

    /// <summary>Port of the HTTP endpoints; 0 turns them off. Default 9464.</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 9464;

    /// <summary>
    /// <c>/healthz</c> fails when the relay's loops have not ticked for this long (a hung process, not a broker or
    /// database outage: those keep the loops ticking). Default 2 min.
    /// </summary>
    public TimeSpan LivenessTimeout { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>
    /// <c>Json</c>: compact JSON lines (Serilog CLEF) on stdout; <c>Text</c>: readable lines; <c>Auto</c> (default): JSON in
    /// a container (<c>DOTNET_RUNNING_IN_CONTAINER=true</c>, set by .NET's images), text elsewhere. A <c>Serilog:WriteTo</c>
    /// section, when present, decides instead.
    /// </summary>
    public LogFormat LogFormat { get; set; } = LogFormat.Auto;
}

public enum LogFormat { Auto, Text, Json }
