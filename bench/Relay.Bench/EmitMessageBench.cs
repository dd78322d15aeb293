using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Relay.DevServices;

namespace Relay.Bench;

/// <summary>
/// Issue 16, part 3: what the table-less outbox saves. The same events written three ways by pgbench (one event per
/// transaction, 4 clients, unthrottled): INSERT into an outbox table (and a cleanup job's DELETE + VACUUM afterwards),
/// INSERT then DELETE in the same transaction (Debezium's recommended cleanup), and <c>pg_logical_emit_message</c>. For
/// each: the writer's own commit rate, the server's WAL bytes per event (<c>pg_current_wal_lsn()</c> before and after,
/// from a checkpoint), and the relay draining that backlog from its own slot (time, rows/s, CPU per event).
/// <c>Relay.Bench --emit-message [--events N] [--relay path]</c>; results in bench/results/*-emit-message.md.
/// </summary>
static class EmitMessageBench
{
    const string Payload = """{"orderId": 1, "customer": "customer-1", "total": 42, "currency": "EUR", "lines": 3, "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}""";
    const int Clients = 4, Partitions = 64;

    sealed record Variant(string Name, string Description, string Script, bool Messages);

    static readonly Variant[] Variants =
    [
        new("insert", "INSERT into the outbox table (a cleanup job deletes later)",
            $"INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'key-' || :k, 'OrderCreated', '{Payload}');", false),
        new("insert+delete", "INSERT then DELETE in the same transaction (Debezium's recommended cleanup)",
            $"BEGIN;\nINSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) VALUES (gen_random_uuid(), 'Order', 'key-' || :k, 'OrderCreated', '{Payload}') RETURNING id \\gset\nDELETE FROM outbox WHERE id = :id;\nEND;", false),
        new("emit_message", "SELECT pg_logical_emit_message(true, 'outbox', json) — no table",
            $"SELECT pg_logical_emit_message(true, 'outbox', json_build_object('id', gen_random_uuid(), 'aggregatetype', 'Order', 'aggregateid', 'key-' || :k, 'type', 'OrderCreated', 'payload', '{Payload}'::json)::text);", true),
    ];

    sealed record Result(Variant Variant, int Events, double CommitsPerSecond, double WalBytesPerEvent, double? CleanupWalBytesPerEvent,
        TimeSpan Drain, double RelayCpuSeconds, double WalsenderCpuSeconds, long Delivered);

    public static async Task<int> RunAsync(string[] args, BenchSettings settings)
    {
        var events = Array.IndexOf(args, "--events") is var i and >= 0 ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : 50_000;
        events -= events % Clients;
        var pgBin = PostgresCluster.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries (pgbench) are needed.");
        // Durable, as in production: every commit flushes WAL, and full pages are logged after a checkpoint.
        await using var cluster = await PostgresCluster.StartAsync(["fsync = on", "full_page_writes = on", "synchronous_commit = on",
            "shared_buffers = 256MB", "max_wal_size = 4GB", "checkpoint_timeout = 30min"]);
        using var mock = KafkaMockCluster.Start(3);
        var db = await Database.CreateAsync(cluster.ConnectionString, "relay_bench_emit");
        await db.ExecAsync("""
            CREATE TABLE outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text NOT NULL, aggregateid text NOT NULL,
                                 type text NOT NULL, payload jsonb, created_at timestamptz NOT NULL DEFAULT now());
            CREATE PUBLICATION bench_pub FOR TABLE outbox WITH (publish = 'insert');
            """);

        var results = new List<Result>();
        foreach (var variant in Variants)
        {
            var slot = "bench_" + variant.Name.Replace('+', '_');
            var topic = "bench." + slot;
            mock.CreateTopic(topic, Partitions);
            await db.ExecAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
            await db.ExecAsync("CHECKPOINT");
            var script = Path.Combine(Path.GetTempPath(), $"relay-bench-{slot}.sql");
            await File.WriteAllTextAsync(script, "\\set k random(1, 1000)\n" + variant.Script + "\n");
            var before = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
            var pgbench = await Tools.RunAsync(Path.Combine(pgBin, "pgbench"),
                $"-n -M extended -h {db.Host} -p {db.Port} -U postgres -c {Clients} -j 2 -t {events / Clients} -f {script} {db.Name}");
            var end = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
            var wal = await db.ScalarAsync<decimal>($"SELECT pg_wal_lsn_diff('{end}', '{before}')");
            var tps = double.Parse(pgbench.Split('\n').First(l => l.StartsWith("tps", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[2],
                CultureInfo.InvariantCulture);
            Console.WriteLine($"{variant.Name}: {events:N0} events, writer {tps:N0} commits/s, {wal / events:N0} WAL bytes per event");

            // The relay drains that backlog from its own slot, as after a restart.
            var extra = new Dictionary<string, string>(settings.RelaySettings);
            if (variant.Messages)
            {
                extra["Relay__Outbox__Messages__0__Prefix"] = "outbox";
                extra["Relay__Outbox__Messages__0__Topic"] = topic;
            }
            using var counter = new DeliveryCounter(mock.BootstrapServers, topic, Partitions);
            var relay = RelayUnderTest.Start(RelayKind.Relay, settings with { RelaySettings = extra }, db, mock.BootstrapServers, slot, topic);
            await relay.WaitForSlotActiveAsync(db, slot);
            var drained = await relay.WaitUntilAsync(async () => counter.Count >= events && await db.ConfirmedAsync(slot, end), TimeSpan.FromMinutes(20), "the drain");
            var cpu = relay.CpuSeconds();
            // The server's side of the drain: the walsender decoding this variant's WAL for the relay.
            var walsender = await db.SlotPidAsync(slot) is { } walsenderPid ? ProcessCpu.Seconds(walsenderPid) ?? 0 : 0;
            await relay.DisposeAsync();   // SIGTERM, then the wait for its exit
            Console.WriteLine($"{variant.Name}: relay drained {events:N0} in {drained.TotalSeconds:F2} s from process start ({events / drained.TotalSeconds:N0}/s), CPU {cpu * 1e6 / events:F1} µs per event, walsender {walsender * 1e6 / events:F1} µs per event");
            await db.ExecAsync($"SELECT pg_drop_replication_slot('{slot}')");

            double? cleanup = null;
            if (variant.Name == "insert")
            {
                // What the cleanup job adds: deleting the published rows and vacuuming them away.
                var cleanupStart = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
                await db.ExecAsync("DELETE FROM outbox", timeoutSeconds: 0);
                await db.ExecAsync("VACUUM outbox", timeoutSeconds: 0);
                cleanup = (double)await db.ScalarAsync<decimal>($"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{cleanupStart}')") / events;
                Console.WriteLine($"{variant.Name}: cleanup (DELETE + VACUUM) {cleanup:N0} WAL bytes per event");
            }
            await db.ExecAsync("VACUUM outbox", timeoutSeconds: 0);
            results.Add(new Result(variant, events, tps, (double)(wal / events), cleanup, drained, cpu, walsender, counter.Count));
        }

        var path = Write(results, pgBin, settings);
        Console.WriteLine($"Results: {path}");
        return 0;
    }

    static string Write(IReadOnlyList<Result> results, string pgBin, BenchSettings settings)
    {
        var cpuModel = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':')[1].Trim();
        var load = File.ReadAllText("/proc/loadavg").Split(' ')[..3];
        var text = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# Table-less outbox: INSERT versus pg_logical_emit_message — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC").AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"- Machine: {Environment.ProcessorCount} cores ({cpuModel}), {RuntimeInformation.OSDescription}; load average at the end {string.Join(" ", load)} (shared with other work: figures are indicative)")
            .AppendLine(CultureInfo.InvariantCulture, $"- PostgreSQL from {pgBin}, durable settings (fsync, full_page_writes, synchronous_commit on); librdkafka mock cluster (3 brokers, {Partitions} partitions); relay {Path.GetRelativePath(Tools.RepositoryRoot(), settings.RelayDll)}{(settings.RelayDll.Contains("bench-relay", StringComparison.Ordinal) ? " (published ReadyToRun, as bench/run.sh publishes it)" : "")}")
            .AppendLine(CultureInfo.InvariantCulture, $"- Writer: pgbench, {Clients} clients, one event per transaction, unthrottled; ~200-byte JSON payload; a CHECKPOINT before each variant (so each pays its first full-page writes)")
            .AppendLine("- Drain: a relay started on the variant's slot after the writer finished, from process start until a consumer counted every message and the slot was confirmed to the end").AppendLine()
            .AppendLine("| variant | events | writer commits/s | WAL bytes per event | relay drain | relay CPU per event | walsender CPU per event |")
            .AppendLine("|---|---|---|---|---|---|---|");
        foreach (var r in results)
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Variant.Description} | {r.Events:N0} | {r.CommitsPerSecond:N0} | {r.WalBytesPerEvent:N0}{(r.CleanupWalBytesPerEvent is { } c ? $" + {c:N0} cleanup (DELETE + VACUUM) = {r.WalBytesPerEvent + c:N0}" : "")} | {r.Drain.TotalSeconds:F2} s ({r.Events / r.Drain.TotalSeconds:N0}/s) | {r.RelayCpuSeconds * 1e6 / r.Events:F1} µs | {r.WalsenderCpuSeconds * 1e6 / r.Events:F1} µs |");
        var directory = Path.Combine(Tools.RepositoryRoot(), "bench/results");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, $"{DateTime.UtcNow:yyyy-MM-dd-HHmm}-{Environment.MachineName}-emit-message.md");
        File.WriteAllText(path, text.ToString());
        return path;
    }
}
