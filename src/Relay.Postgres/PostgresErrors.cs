using System.Net.Sockets;
using Npgsql;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>Turns Npgsql's errors into what an operator must know: one line, the fix, never the password.</summary>
static class PostgresErrors
{
    public static Exception Translate(Exception error, string connectionString, string slotName)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var server = $"{builder.Host}:{builder.Port}";
        const string key = PostgresSourceOptions.Section + ":ConnectionString";
        return error switch
        {
            PostgresException { SqlState: PostgresErrorCodes.InvalidPassword or PostgresErrorCodes.InvalidAuthorizationSpecification } e =>
                new SourceUnavailableException(
                    $"PostgreSQL at {server} refused user '{builder.Username}': {e.MessageText}. Check the user and password in {key} (the password is not shown).", e),
            PostgresException { SqlState: PostgresErrorCodes.InvalidCatalogName } e =>
                new RelayConfigurationException($"{key}: {e.MessageText} on {server}.", e),
            PostgresException { SqlState: PostgresErrorCodes.InsufficientPrivilege } e when e.MessageText.Contains("replication", StringComparison.OrdinalIgnoreCase) =>
                new RelayConfigurationException(
                    $"Role '{builder.Username}' may not use replication ({e.MessageText}): run ALTER ROLE {builder.Username} WITH REPLICATION.", e),
            PostgresException { SqlState: PostgresErrorCodes.ObjectInUse } e when e.MessageText.Contains("replication slot", StringComparison.Ordinal) =>
                new StandbyException($"Replication slot '{slotName}' is in use by another process ({e.MessageText}).", e),
            NpgsqlException { InnerException: SocketException socket } e =>
                new SourceUnavailableException(
                    $"PostgreSQL at {server} is unreachable ({socket.SocketErrorCode}: {socket.Message}). Check Host and Port in {key}, DNS and network policies.", e),
            NpgsqlException { InnerException: TimeoutException } e =>
                new SourceUnavailableException($"PostgreSQL at {server} did not answer in time. Check Host and Port in {key} and network policies.", e),
            _ => error,
        };
    }
}
