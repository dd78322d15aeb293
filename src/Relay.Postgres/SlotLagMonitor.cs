using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Relay.Postgres;

/// <summary>
/// Samples how much WAL the server retains for Relay's slot (<c>pg_current_wal_lsn() - confirmed_flush_lsn</c>), on an
/// ordinary connection, for the <c>relay_replication_slot_lag_bytes</c> gauge: the figure to alert on before a disk fills.
/// </summary>
sealed class SlotLagMonitor(IOptions<PostgresSourceOptions> options, PostgresMetrics metrics) : BackgroundService
{
    // Options are read when running, not when constructed: the host validates every option before it starts its services.
    PostgresSourceOptions Settings => options.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Settings.LagSampleInterval);
        try
        {
            do
            {
                if (await SampleAsync(stoppingToken) is { } bytes)
                    metrics.SetRetainedBytes(bytes);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    async Task<long?> SampleAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = new NpgsqlConnection(Settings.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            await using var command = new NpgsqlCommand(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
                connection) { Parameters = { new() { Value = Settings.SlotName } } };
            return await command.ExecuteScalarAsync(cancellationToken) is long bytes ? bytes : null;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException)
        {
            return null;   // the database is away: the run reconnects and says so; keep the last sample
        }
    }
}
