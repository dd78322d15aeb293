using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace Relay.Bench;

sealed class Database(string name, string connectionString)
{
    public string Name { get; } = name;
    public string ConnectionString { get; } = connectionString;
    public string Host => new NpgsqlConnectionStringBuilder(ConnectionString).Host!;
    public int Port => new NpgsqlConnectionStringBuilder(ConnectionString).Port;

    public static async Task<Database> CreateAsync(string server, string name)
    {
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }
        return new Database(name, new NpgsqlConnectionStringBuilder(server) { Database = name, CommandTimeout = 0 }.ConnectionString);
    }

    public async Task ExecAsync(string sql, int timeoutSeconds = 300)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = timeoutSeconds };
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Runs <paramref name="sql"/>, then <paramref name="scalarSql"/> in the same session; no command timeout.</summary>
    public async Task<string> ExecThenScalarAsync(string sql, string scalarSql, string options)
    {
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString) { Options = options, Pooling = false }.ConnectionString);
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 })
            await command.ExecuteNonQueryAsync();
        await using var scalar = new NpgsqlCommand(scalarSql, connection);
        return (string)(await scalar.ExecuteScalarAsync())!;
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>Each outbox row's event id and its transaction's commit time (or insert time, see <see cref="CommitTimeSource"/>).</summary>
    public async Task<List<(string Id, DateTime CommittedAt)>> CommitTimesAsync(bool commitTimestamps)
    {
        var rows = new List<(string, DateTime)>();
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(commitTimestamps
            ? "SELECT id::text, pg_xact_commit_timestamp(xmin) FROM outbox"
            : "SELECT id::text, created_at FROM outbox", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
            rows.Add((reader.GetString(0), reader.GetDateTime(1)));
        return rows;
    }

    public async Task<int?> SlotPidAsync(string slot) =>
        await ScalarAsync<object>($"SELECT active_pid FROM pg_replication_slots WHERE slot_name = '{slot}'") as int?;

    public async Task<bool> SlotActiveAsync(string slot) =>
        await ScalarAsync<bool>($"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'");

    /// <summary>
    /// Whether the slot is confirmed up to <paramref name="lsn"/>, the insert position read right after the last commit.
    /// Relay also confirms keepalive positions, so it passes it; a relay that confirms commit ends only stops at the end of
    /// the last commit record, which lies up to a page header (≤ 40 bytes) before that position when the record ended on a page boundary.
    /// </summary>
    public async Task<bool> ConfirmedAsync(string slot, string lsn) =>
        await ScalarAsync<bool>($"SELECT pg_wal_lsn_diff('{lsn}'::pg_lsn, confirmed_flush_lsn) <= 40 FROM pg_replication_slots WHERE slot_name = '{slot}'");
}

/// <summary>What one drain cost: wall time, and CPU seconds of the client and of the server's walsender.</summary>
sealed record DrainCost(TimeSpan Elapsed, double ClientCpuSeconds, double WalsenderCpuSeconds);

/// <summary>pg_recvlogical with pgoutput on its own slot, draining the same WAL to /dev/null up to the same end.</summary>
static class Baseline
{
    public static async Task<DrainCost> RunAsync(string pgBin, Database db, string slot, string end)
    {
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(new ProcessStartInfo(Path.Combine(pgBin, "pg_recvlogical"),
            $"-h {db.Host} -p {db.Port} -U postgres -d {db.Name} --slot {slot} --start --endpos {end} --no-loop " +
            "-o proto_version=1 -o publication_names=bench_pub -f /dev/null") { RedirectStandardError = true })!;
        var error = process.StandardError.ReadToEndAsync();
        // Both processes end with the drain: keep their last CPU reading (sampled every 50 ms).
        double client = 0, walsender = 0;
        int? walsenderPid = null;
        while (!process.HasExited)
        {
            client = ProcessCpu.Seconds(process.Id) ?? client;
            walsenderPid ??= await db.SlotPidAsync(slot);
            if (walsenderPid is { } pid)
                walsender = ProcessCpu.Seconds(pid) ?? walsender;
            await Task.Delay(50);
        }
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"pg_recvlogical failed: {await error}");
        return new DrainCost(watch.Elapsed, client, walsender);
    }
}

/// <summary>User + system CPU seconds of a process (/proc/PID/stat fields 14 and 15, in clock ticks of 1/100 s).</summary>
static class ProcessCpu
{
    public static double? Seconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return null;   // gone, or a server on another machine
        }
    }

    /// <summary>A line of /proc/PID/status (e.g. VmRSS, VmHWM, Threads) as a number (kB for memory).</summary>
    public static long Status(int pid, string field) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            .Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
}
