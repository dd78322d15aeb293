using System.Diagnostics.Metrics;
using Microsoft.Data.SqlClient;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// Reads outbox inserts from SQL Server's CDC change tables, which the CDC capture job fills from the transaction log
/// (https://learn.microsoft.com/sql/relational-databases/track-changes/about-change-data-capture-sql-server), as
/// Debezium's SQL Server connector does. Positions are commit LSN + seqval, kept in a position store.
/// </summary>
public sealed class SqlServerOutboxSource : IOutboxSource
{
    readonly Func<SqlServerSourceOptions> _settings;
    readonly OutboxMapping _outbox;
    readonly ILogger _logger;
    readonly Func<ICdcClient> _client;
    readonly Func<IPositionStore> _store;
    readonly LsnGauges? _gauges;

    /// <summary>
    /// The lease owner, one for the source's life (the process's, in production): a run that ended on a SQL error
    /// reconnects as the lease's owner instead of waiting as a standby to itself until its own lease expires.
    /// </summary>
    readonly string _owner = $"{Environment.MachineName}/{Environment.ProcessId}/{Guid.NewGuid():N}";

    public SqlServerOutboxSource(IOptions<SqlServerSourceOptions> options, OutboxMapping outbox, ILoggerFactory loggerFactory, IMeterFactory? meters = null)
    {
        _gauges = meters is null ? null : new LsnGauges(meters);
        // Options are read when used, not now: the host validates every option before it starts its services.
        (_settings, _outbox, _logger) = (() => options.Value, outbox, loggerFactory.CreateLogger<SqlServerOutboxSource>());
        _client = () => new SqlCdcClient(options.Value.ConnectionString, outbox.Tables);
        // PositionFile is required with PositionStore = File: SqlServerSourceOptionsValidator said so at start.
        _store = () => options.Value.PositionStore == PositionStoreKind.File
            ? new FilePositionStore(options.Value.PositionFile!)
            : new SqlPositionStore(options.Value, _owner);
    }

    /// <summary>With the database calls and the position store given (tests).</summary>
    public SqlServerOutboxSource(SqlServerSourceOptions options, OutboxMapping outbox, ILogger logger, Func<ICdcClient> client, Func<IPositionStore> store,
        IMeterFactory? meters = null)
    {
        (_settings, _outbox, _logger, _client, _store) = (() => options, outbox, logger, client, store);
        _gauges = meters is null ? null : new LsnGauges(meters);
    }

    /// <summary>A position store as the next run gets it.</summary>
    internal IPositionStore CreateStore() => _store();

    public async Task<SourcePlan> PrepareAsync(CancellationToken cancellationToken)
    {
        try
        {
            var instances = await _client().GetCaptureInstancesAsync(cancellationToken);
            foreach (var table in _outbox.Tables)
                Log.ReadingInstance(_logger, ChooseCaptureInstance(table, instances, UInt128.MaxValue).Name, table.QualifiedName);
            return new SqlServerPlan();
        }
        catch (SqlException e)
        {
            throw Translate(e);
        }
    }

    /// <summary>
    /// The capture instance to read <paramref name="table"/> from at <paramref name="position"/>; throws when the table
    /// has none, or the chosen one lacks a mapped column.
    /// </summary>
    internal static CaptureInstance ChooseCaptureInstance(OutboxTableMapping table, IReadOnlyList<CaptureInstance> instances, UInt128 position)
    {
        var ofTable = InstancesOf(table, instances);
        if (ofTable.Count == 0)
            throw new RelayConfigurationException(
                $"{table.ConfigurationKey}:Table: {table.QualifiedName} has no CDC capture instance: run EXEC sys.sp_cdc_enable_table " +
                $"@source_schema = N'{table.Schema}', @source_name = N'{table.Name}', @role_name = NULL (and sys.sp_cdc_enable_db once per database).");
        var instance = RetentionRule.Choose(ofTable, position);
        var missing = table.Columns.FirstOrDefault(c => !instance.Columns.Contains(c.Name, StringComparer.OrdinalIgnoreCase));
        if (missing is not null)
            throw new RelayConfigurationException(
                $"{missing.ConfigurationKey}: column '{missing.Name}' is not captured by CDC instance {instance.Name} of {table.QualifiedName} " +
                $"(captured: {string.Join(", ", instance.Columns.Order())}).");
        foreach (var column in table.Columns)
            if (instance.ColumnTypes?.FirstOrDefault(c => SameName(c.Key, column.Name)).Value is { } type && IsUnreadable(type))
                throw new RelayConfigurationException(
                    $"{column.ConfigurationKey}: column '{column.Name}' of {table.QualifiedName} has type {type}, which Relay does not read " +
                    "(CLR types and sql_variant have no text form it could publish): map a column of a built-in type instead, e.g. a computed " +
                    $"column CONVERT(nvarchar(max), [{column.Name}]) captured by CDC.");
        return instance;
    }

    /// <summary>
    /// Column types whose values Relay cannot turn into bytes (CLR types such as geography, geometry, hierarchyid or your
    /// own; sql_variant): refused at start rather than retried forever.
    /// </summary>
    internal static bool IsUnreadable(string type) =>
        type.StartsWith(SqlCdcClient.ClrTypePrefix, StringComparison.Ordinal) || type.Equals("sql_variant", StringComparison.OrdinalIgnoreCase);

    /// <summary>The capture instances of <paramref name="table"/>.</summary>
    internal static IReadOnlyList<CaptureInstance> InstancesOf(OutboxTableMapping table, IReadOnlyList<CaptureInstance> instances) =>
        instances.Where(i => SameName(i.Schema, table.Schema) && SameName(i.Table, table.Name)).ToList();

    /// <summary>
    /// Catalog names compared as SQL Server's default (case-insensitive) collations do: a mapping of <c>dbo.Outbox</c>
    /// finds the table SQL Server reports as <c>dbo.outbox</c>.
    /// </summary>
    internal static bool SameName(string a, string b) => string.Equals(a, b, StringComparison.OrdinalIgnoreCase);

    public async Task<IOutboxStream> OpenAsync(SourcePlan plan, CancellationToken cancellationToken)
    {
        var store = _store();
        try
        {
            var claimStarted = DateTime.UtcNow;
            var claimed = await store.ClaimAsync(cancellationToken);
            return new SqlServerOutboxStream(_settings(), _outbox.Tables, _client(), store, claimed, claimStarted, _logger, _gauges);
        }
        catch (SqlException e)
        {
            throw Translate(e);
        }
    }

    public async Task<IReadOnlyList<PreflightCheck>> CheckAsync(CancellationToken cancellationToken)
    {
        var results = new List<PreflightCheck>();
        IReadOnlyList<CaptureInstance> instances;
        try
        {
            instances = await _client().GetCaptureInstancesAsync(cancellationToken);
            results.Add(PreflightCheck.Pass("database reachable", "connected; CDC metadata readable"));
        }
        catch (SqlException e)
        {
            results.Add(PreflightCheck.Fail("database reachable", Translate(e).Message,
                "fix Relay:SqlServer:ConnectionString; enable CDC with EXEC sys.sp_cdc_enable_db"));
            return results;
        }
        try
        {
            results.AddRange((await _client().GetCaptureHealthAsync(cancellationToken)).Checks(_settings().CaptureStalledAfter));
        }
        catch (SqlException e)
        {
            results.Add(PreflightCheck.Fail("CDC capture", Translate(e).Message, "see the message"));
        }
        foreach (var table in _outbox.Tables)
        {
            try
            {
                var instance = ChooseCaptureInstance(table, instances, UInt128.MaxValue);
                results.Add(PreflightCheck.Pass($"table {table.QualifiedName}", $"captured by {instance.Name} with the mapped columns"));
            }
            catch (RelayConfigurationException e)
            {
                results.Add(PreflightCheck.Fail($"table {table.QualifiedName}", e.Message, "see the message"));
            }
        }
        return results;
    }

    static Exception Translate(SqlException e) => SqlServerErrors.Translate(e.Number, e.Message, e) ?? e;
}

/// <summary>The SQL Server source keeps nothing between prepare and open: the stream reads its position from the store.</summary>
sealed record SqlServerPlan : SourcePlan;
