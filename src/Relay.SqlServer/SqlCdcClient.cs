using System.Data;
using System.Globalization;
using System.Text;
using Microsoft.Data.SqlClient;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// The CDC queries through Microsoft.Data.SqlClient
/// (https://learn.microsoft.com/sql/relational-databases/system-functions/cdc-fn-cdc-get-all-changes-capture-instance-transact-sql).
/// </summary>
sealed class SqlCdcClient(string connectionString, IReadOnlyList<OutboxTableMapping> tables) : ICdcClient
{
    /// <summary>How <see cref="CaptureInstance.ColumnTypes"/> names a CLR type (<c>sys.types.is_assembly_type</c>).</summary>
    public const string ClrTypePrefix = "CLR type ";

    async Task<SqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    public async Task<IReadOnlyList<CaptureInstance>> GetCaptureInstancesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand("""
            SELECT ct.capture_instance, s.name, t.name, ct.start_lsn, cc.column_name, ct.create_date,
                   CASE WHEN ty.is_assembly_type = 1 THEN N'CLR type ' + ty.name ELSE TYPE_NAME(c.system_type_id) END
            FROM cdc.change_tables ct
            JOIN sys.tables t ON t.object_id = ct.source_object_id
            JOIN sys.schemas s ON s.schema_id = t.schema_id
            JOIN cdc.captured_columns cc ON cc.object_id = ct.object_id
            LEFT JOIN sys.columns c ON c.object_id = ct.source_object_id AND c.name = cc.column_name
            LEFT JOIN sys.types ty ON ty.user_type_id = c.user_type_id
            """, connection);
        var instances = new Dictionary<string, (string Schema, string Table, UInt128 Start, HashSet<string> Columns, DateTime Created, Dictionary<string, string> Types)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var name = reader.GetString(0);
            if (!instances.TryGetValue(name, out var instance))
                instances[name] = instance = (reader.GetString(1), reader.GetString(2), SqlServerLsn.FromBytes((byte[])reader[3]),
                    new HashSet<string>(StringComparer.OrdinalIgnoreCase), reader.GetDateTime(5), new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase));
            instance.Columns.Add(reader.GetString(4));
            if (!reader.IsDBNull(6))
                instance.Types[reader.GetString(4)] = reader.GetString(6);
        }
        return instances.Where(i => tables.Any(t => SqlServerOutboxSource.SameName(t.Schema, i.Value.Schema) && SqlServerOutboxSource.SameName(t.Name, i.Value.Table)))
            .Select(i => new CaptureInstance(i.Key, i.Value.Schema, i.Value.Table, i.Value.Start, i.Value.Columns, i.Value.Created, i.Value.Types)).ToList();
    }

    public async Task<UInt128> GetMinLsnAsync(string captureInstance, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand("SELECT sys.fn_cdc_get_min_lsn(@instance)", connection);
        command.Parameters.Add("@instance", SqlDbType.NVarChar, 128).Value = captureInstance;
        return await command.ExecuteScalarAsync(cancellationToken) is byte[] lsn ? SqlServerLsn.FromBytes(lsn) : UInt128.Zero;
    }

    public async Task<UInt128> GetMaxLsnAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new SqlCommand("SELECT sys.fn_cdc_get_max_lsn()", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is byte[] lsn ? SqlServerLsn.FromBytes(lsn) : UInt128.Zero;
    }

    public async Task<CaptureHealth> GetCaptureHealthAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // Each figure on its own: a login without VIEW SERVER STATE or msdb access still gets the others.
        var agent = await ScalarAsync<int>(connection, "SELECT TOP (1) CASE WHEN status_desc = N'Running' THEN 1 ELSE 0 END FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'", cancellationToken);
        var job = await ScalarAsync<int>(connection, """
            SELECT TOP (1) CASE WHEN ja.start_execution_date IS NOT NULL AND ja.stop_execution_date IS NULL THEN 1 ELSE 0 END
            FROM msdb.dbo.cdc_jobs cj
            LEFT JOIN msdb.dbo.sysjobactivity ja ON ja.job_id = cj.job_id
            WHERE cj.database_id = DB_ID() AND cj.job_type = N'capture'
            ORDER BY ja.session_id DESC
            """, cancellationToken);
        var since = await ScalarAsync<int>(connection, "SELECT DATEDIFF(second, MAX(end_time), GETDATE()) FROM sys.dm_cdc_log_scan_sessions", cancellationToken);
        var latency = await ScalarAsync<int>(connection, "SELECT TOP (1) latency FROM sys.dm_cdc_log_scan_sessions ORDER BY session_id DESC", cancellationToken);
        var textSize = await ScalarAsync<long>(connection, "SELECT CAST(value_in_use AS bigint) FROM sys.configurations WHERE name = N'max text repl size (B)'", cancellationToken);
        return new CaptureHealth(agent is { } a ? a == 1 : null, job is { } j ? j == 1 : null,
            since is { } s ? TimeSpan.FromSeconds(s) : null, latency is { } l ? TimeSpan.FromSeconds(l) : null, textSize);
    }

    static async Task<T?> ScalarAsync<T>(SqlConnection connection, string sql, CancellationToken cancellationToken) where T : struct
    {
        try
        {
            await using var command = new SqlCommand(sql, connection);
            return await command.ExecuteScalarAsync(cancellationToken) is T value ? value : null;
        }
        catch (SqlException)
        {
            return null;   // not visible to this login (permissions, Azure SQL Database): unknown, not healthy
        }
    }

    public async Task<IReadOnlyList<CdcChange>> GetInsertsAsync(CaptureInstance instance, IReadOnlyList<string> columns, SourcePosition after,
        UInt128 toLsn, int batchSize, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // The function refuses a range that starts before the instance's minimum: start at the later of the two.
        var select = string.Join(", ", columns.Select(c => $"c.{Quote(c)}"));
        var sql = $"""
            DECLARE @from binary(10) = (SELECT CASE WHEN @after_lsn > sys.fn_cdc_get_min_lsn(@instance) THEN @after_lsn ELSE sys.fn_cdc_get_min_lsn(@instance) END);
            -- An empty range (the older instance's remainder, cleaned up): the function would refuse it with error 313.
            IF @from <= @to
            SELECT TOP (@batch) c.__$start_lsn, c.__$seqval,
                   {CommitTimeUtc("sys.fn_cdc_map_lsn_to_time(c.__$start_lsn)")}, {select}
            FROM cdc.{Quote("fn_cdc_get_all_changes_" + instance.Name)}(@from, @to, N'all') AS c
            WHERE c.__$operation = 2
              AND (c.__$start_lsn > @after_lsn OR (c.__$start_lsn = @after_lsn AND c.__$seqval > @after_seqval))
            ORDER BY c.__$start_lsn, c.__$seqval
            """;
        await using var command = new SqlCommand(sql, connection);
        command.Parameters.Add("@instance", SqlDbType.NVarChar, 128).Value = instance.Name;
        command.Parameters.Add("@after_lsn", SqlDbType.Binary, 10).Value = SqlServerLsn.ToBytes(after.Commit);
        command.Parameters.Add("@after_seqval", SqlDbType.Binary, 10).Value = SqlServerLsn.ToBytes(after.Sequence);
        command.Parameters.Add("@to", SqlDbType.Binary, 10).Value = SqlServerLsn.ToBytes(toLsn);
        command.Parameters.Add("@batch", SqlDbType.Int).Value = batchSize;
        command.Parameters.Add("@zone", SqlDbType.NVarChar, 128).Value = (object?)await ServerTimeZoneAsync(connection, cancellationToken) ?? DBNull.Value;
        var changes = new List<CdcChange>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var values = new byte[]?[columns.Count];
            for (var i = 0; i < columns.Count; i++)
                values[i] = ToBytes(reader.GetValue(3 + i));
            var committedAt = reader.IsDBNull(2) ? DateTime.UtcNow : DateTime.SpecifyKind(reader.GetDateTime(2), DateTimeKind.Utc);
            changes.Add(new CdcChange(SqlServerLsn.Position((byte[])reader[0], (byte[])reader[1]), committedAt, values));
        }
        return changes;
    }

    /// <summary>
    /// <c>sys.fn_cdc_map_lsn_to_time</c> answers in the server's local time: convert it with the server's time zone rules
    /// as they were at that time (<c>AT TIME ZONE</c>), so a commit before a DST change is not an hour off. SQL Server
    /// 2019 and older cannot name their zone (no <c>CURRENT_TIMEZONE_ID()</c>): there the current offset is used.
    /// </summary>
    internal static string CommitTimeUtc(string localTime) =>
        $"CASE WHEN @zone IS NULL THEN DATEADD(minute, DATEDIFF(minute, GETDATE(), GETUTCDATE()), {localTime}) " +
        $"ELSE CONVERT(datetime2, CAST({localTime} AS datetime2) AT TIME ZONE @zone AT TIME ZONE 'UTC') END";

    string? _serverTimeZone;
    bool _serverTimeZoneRead;

    async Task<string?> ServerTimeZoneAsync(SqlConnection connection, CancellationToken cancellationToken)
    {
        if (_serverTimeZoneRead)
            return _serverTimeZone;
        try
        {
            await using var command = new SqlCommand("SELECT CURRENT_TIMEZONE_ID()", connection);
            _serverTimeZone = await command.ExecuteScalarAsync(cancellationToken) as string;
        }
        catch (SqlException e) when (e.Number == 195)   // not a recognized built-in function: before SQL Server 2022
        {
            _serverTimeZone = null;
        }
        _serverTimeZoneRead = true;
        return _serverTimeZone;
    }

    /// <summary>
    /// Values as Kafka bytes: text as UTF-8, binary as is, other types in their invariant text form; uniqueidentifier and
    /// bit as SQL Server prints them (<c>CONVERT(nvarchar(36), …)</c>: upper-case; 1 / 0), as Debezium does, so that keys,
    /// partitions and id headers stay the same after a migration.
    /// </summary>
    internal static byte[]? ToBytes(object value) => value switch
    {
        DBNull => null,
        byte[] bytes => bytes,
        string text => Encoding.UTF8.GetBytes(text),
        Guid guid => Encoding.UTF8.GetBytes(guid.ToString("D").ToUpperInvariant()),
        bool bit => bit ? "1"u8.ToArray() : "0"u8.ToArray(),
        DateTime time => Encoding.UTF8.GetBytes(time.ToString("O", CultureInfo.InvariantCulture)),
        DateTimeOffset time => Encoding.UTF8.GetBytes(time.ToString("O", CultureInfo.InvariantCulture)),
        IFormattable formattable => Encoding.UTF8.GetBytes(formattable.ToString(null, CultureInfo.InvariantCulture)),
        _ => Encoding.UTF8.GetBytes(value.ToString() ?? ""),
    };

    static string Quote(string identifier) => $"[{identifier.Replace("]", "]]")}]";
}
