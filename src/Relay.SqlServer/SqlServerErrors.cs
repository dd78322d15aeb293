using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// SQL Server errors by number (https://learn.microsoft.com/sql/relational-databases/errors-events/database-engine-events-and-errors):
/// which a retry can fix (an unreachable server) and which only an operator can (permissions): those exit 1 with the fix.
/// </summary>
static class SqlServerErrors
{
    const string Key = SqlServerSourceOptions.Section + ":ConnectionString";

    /// <summary>What to throw instead of SQL Server error <paramref name="number"/>, or null to let it be retried as it is.</summary>
    public static Exception? Translate(int number, string message, Exception inner) => number switch
    {
        18456 => new SourceUnavailableException($"SQL Server refused the login: {message} Check {Key} (the password is not shown).", inner),
        -1 or 2 or 53 or 258 or 10060 or 10061 => new SourceUnavailableException($"SQL Server is unreachable: {message}", inner),
        229 or 230 => new RelayConfigurationException(
            $"SQL Server denied a permission to the login of {Key}: {message} Grant it what Relay needs (docs/sqlserver.md, Permissions): " +
            "ALTER ROLE [<gating role of sp_cdc_enable_table>] ADD MEMBER [<user>]; GRANT SELECT ON SCHEMA::cdc TO [<user>]; " +
            $"GRANT SELECT, INSERT, UPDATE ON <{SqlServerSourceOptions.Section}:PositionTable> TO [<user>];", inner),
        262 or 2760 => new RelayConfigurationException(
            $"The login of {Key} may not create the position table: {message} Create it once as docs/sqlserver.md shows " +
            "(CREATE SCHEMA relay; CREATE TABLE relay.positions (…)), or GRANT CREATE TABLE, ALTER ON SCHEMA::relay TO [<user>];", inner),
        4060 => new RelayConfigurationException(
            $"The database named in {Key} cannot be opened by its login: {message} Fix Database/Initial Catalog, or run in that database: " +
            "CREATE USER [<user>] FOR LOGIN [<login>];", inner),
        313 => new RelayConfigurationException(
            $"cdc.fn_cdc_get_all_changes_… refused the call: {message} The login of {Key} must be a member of the capture instance's gating role " +
            "(ALTER ROLE [<gating role>] ADD MEMBER [<user>];); run relay check.", inner),
        _ => null,
    };
}
