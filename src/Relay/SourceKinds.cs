using Microsoft.Extensions.Configuration;
using Relay.Core;

namespace Relay;

/// <summary>The databases Relay can tail, chosen by <c>Relay:Source</c>.</summary>
public enum SourceKind { Postgres, SqlServer }

static class SourceKinds
{
    public const string Key = "Relay:Source";

    /// <summary>Reads <c>Relay:Source</c> (default Postgres); throws naming the key when it is not a known source.</summary>
    public static SourceKind Parse(IConfiguration configuration)
    {
        var value = configuration[Key] ?? "Postgres";
        return value.ToLowerInvariant() switch
        {
            "postgres" or "postgresql" => SourceKind.Postgres,
            "sqlserver" => SourceKind.SqlServer,
            _ => throw new RelayConfigurationException($"{Key}: '{value}' is not a supported source; use Postgres or SqlServer."),
        };
    }
}
