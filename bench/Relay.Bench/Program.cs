// Relay's end-to-end benchmark. Run with ../run.sh (builds Release first). Figures go to stdout and to
// bench/results/<date>-<host>.md. Uses a throwaway PostgreSQL and librdkafka's mock cluster unless RELAY_BENCH_POSTGRES
// (superuser connection string, wal_level=logical, local binaries still needed for pgbench/pg_recvlogical) and
// RELAY_BENCH_KAFKA (bootstrap servers) name others.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using Relay.Bench;
using Relay.DevServices;

var settings = BenchSettings.Parse(args);
if (args.Contains("--emit-message"))
    return await EmitMessageBench.RunAsync(args, settings);   // issue 16: INSERT versus pg_logical_emit_message (EmitMessageBench.cs)
var report = new Report(settings);
var pgBin = PostgresCluster.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries (pgbench, pg_recvlogical) are needed.");

await using var cluster = Environment.GetEnvironmentVariable("RELAY_BENCH_POSTGRES") is { Length: > 0 } ? null
    : await PostgresCluster.StartAsync(["shared_buffers = 512MB", "max_wal_size = 8GB", "checkpoint_timeout = 30min", "logical_decoding_work_mem = 64MB"]);
var server = Environment.GetEnvironmentVariable("RELAY_BENCH_POSTGRES") is { Length: > 0 } given ? given : cluster!.ConnectionString;
using var mock = Environment.GetEnvironmentVariable("RELAY_BENCH_KAFKA") is { Length: > 0 } ? null : KafkaMockCluster.Start(3);
var bootstrap = Environment.GetEnvironmentVariable("RELAY_BENCH_KAFKA") is { Length: > 0 } kafka ? kafka : mock!.BootstrapServers;
report.Environment(server, pgBin);

var db = await Database.CreateAsync(server, "relay_bench");
await db.ExecAsync("""
    CREATE TABLE outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text NOT NULL, aggregateid text NOT NULL,
                         type text NOT NULL, payload jsonb, created_at timestamptz NOT NULL DEFAULT now());
    CREATE PUBLICATION bench_pub FOR TABLE outbox WITH (publish = 'insert');
    """);
// Slots before the preload, so the relay and both baselines decode the same WAL. (One statement each: a slot cannot be
// created in a transaction that wrote.)
foreach (var slot in new[] { "relay_drain", "baseline_before", "baseline_after" })
    await db.ExecAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
const int DrainPartitions = 128;
mock?.CreateTopic("bench.drain", DrainPartitions);   // the mock keeps 5 MiB per partition: enough room for the whole drain

// ---- Drain -------------------------------------------------------------------------------------------------------
Console.WriteLine($"Preloading {settings.Rows:N0} rows ({settings.Rows / 100:N0} transactions of 100)...");
var preload = Stopwatch.StartNew();
await db.ExecAsync($$"""
    DO $$ BEGIN
      FOR t IN 0..{{settings.Rows / 100 - 1}} LOOP
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload)
        SELECT 'Order', 'key-' || ((t * 100 + g) % 1000), 'OrderCreated',
               jsonb_build_object('orderId', t * 100 + g, 'customer', 'customer-' || (g % 97), 'total', (g * 7) % 1000,
                                  'currency', 'EUR', 'lines', 3, 'note', repeat('x', 60))
        FROM generate_series(1, 100) g;
        COMMIT;
      END LOOP;
    END $$;
    """, timeoutSeconds: 0);
var end = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
var walBytes = await db.ScalarAsync<decimal>("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) FROM pg_replication_slots WHERE slot_name = 'relay_drain'");
Console.WriteLine($"Preloaded in {preload.Elapsed.TotalSeconds:F1} s, {walBytes / 1024 / 1024:F0} MiB of WAL, end {end}");

var before = await Baseline.RunAsync(pgBin, db, "baseline_before", end);
Console.WriteLine($"pg_recvlogical (before): {before.Elapsed.TotalSeconds:F2} s = {settings.Rows / before.Elapsed.TotalSeconds:N0} rows/s, walsender CPU {before.WalsenderCpuSeconds:F2} s");

var counter = new DeliveryCounter(bootstrap, "bench.drain", DrainPartitions);
var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
var relay = RelayProcess.Start(settings.RelayDll, db.ConnectionString, bootstrap, "relay_drain", "bench_pub", "bench.drain", settings.Extra);
var streamingAt = await relay.WaitForLineAsync("Streaming from slot", TimeSpan.FromSeconds(60));
var drained = await relay.WaitUntilAsync(async () => counter.Count >= settings.Rows && await db.ConfirmedAsync("relay_drain", end),
    TimeSpan.FromMinutes(30));
var cpu = relay.CpuSeconds();
// This process hosts the mock brokers and the counting consumer: the Kafka side's share of the machine.
var kafkaSideCpu = (Process.GetCurrentProcess().TotalProcessorTime - benchCpuBefore).TotalSeconds;
var relayWalsender = await db.SlotPidAsync("relay_drain") is { } walsenderPid ? ProcessCpu.Seconds(walsenderPid) ?? 0 : 0;
var drainRss = relay.RssSamplesMiB();
Console.WriteLine($"Relay drain: {drained.TotalSeconds:F2} s from process start ({settings.Rows / drained.TotalSeconds:N0} rows/s), start→streaming {streamingAt.TotalMilliseconds:F0} ms, CPU {cpu:F2} s, walsender CPU {relayWalsender:F2} s");

var after = await Baseline.RunAsync(pgBin, db, "baseline_after", end);
Console.WriteLine($"pg_recvlogical (after): {after.Elapsed.TotalSeconds:F2} s, walsender CPU {after.WalsenderCpuSeconds:F2} s");
report.Drain(settings.Rows, walBytes, before, new DrainCost(drained, cpu, relayWalsender), drained - streamingAt, after, drainRss, streamingAt,
    counter.Count, kafkaSideCpu, mock is not null);
counter.Dispose();

// The preload left a million-row table that autovacuum would now spend many seconds on, on the same two cores. Clean
// it as an outbox cleaner would (TRUNCATE is not published) and checkpoint, so that this one-off server maintenance
// is not measured as relay latency.
await db.ExecAsync("TRUNCATE outbox; CHECKPOINT;");
var cleaned = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
await relay.WaitUntilAsync(() => db.ConfirmedAsync("relay_drain", cleaned), TimeSpan.FromMinutes(1));

// ---- Latency at fixed open-loop rates ------------------------------------------------------------------------------
var script = Path.Combine(Path.GetTempPath(), "relay-bench-insert.sql");
await File.WriteAllTextAsync(script, """
    INSERT INTO outbox (aggregatetype, aggregateid, type, payload) VALUES ('Order', 'key-' || (random() * 1000)::int, 'OrderCreated', '{"orderId": 1, "customer": "customer-1", "total": 42, "currency": "EUR", "lines": 3, "note": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}');
    """);
relay.ResetRssSamples();
foreach (var rate in settings.Rates)
{
    for (var run = 1; run <= settings.LatencyRuns; run++)
    {
        var histogramBefore = await relay.HistogramAsync("relay_commit_to_ack_seconds");
        var inRelayBefore = await relay.HistogramAsync("relay_receive_to_ack_seconds");
        var pgbench = await Tools.RunAsync(Path.Combine(pgBin, "pgbench"),
            $"-n -h {db.Host} -p {db.Port} -U postgres -c 4 -j 2 -R {rate} -T {settings.LatencySeconds} -f {script} {db.Name}");
        var lsn = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
        await relay.WaitUntilAsync(() => db.ConfirmedAsync("relay_drain", lsn), TimeSpan.FromMinutes(5));
        await Task.Delay(500);
        var delta = Histogram.Delta(histogramBefore, await relay.HistogramAsync("relay_commit_to_ack_seconds"));
        var inRelay = Histogram.Delta(inRelayBefore, await relay.HistogramAsync("relay_receive_to_ack_seconds"));
        var line = pgbench.Split('\n').FirstOrDefault(l => l.StartsWith("tps", StringComparison.Ordinal))?.Trim() ?? "";
        Console.WriteLine($"rate {rate}/s run {run}: {delta.Count:N0} events, p50 {delta.Quantile(0.5) * 1000:F1} ms, p99 {delta.Quantile(0.99) * 1000:F1} ms, p99.9 {delta.Quantile(0.999) * 1000:F1} ms; receive→ack p50 {inRelay.Quantile(0.5) * 1000:F1} ms, p99 {inRelay.Quantile(0.99) * 1000:F1} ms ({line})");
        report.Latency(rate, run, delta, inRelay);
    }
}
report.SteadyRss(relay.RssSamplesMiB());
relay.Terminate();
await relay.WaitForExitAsync(TimeSpan.FromSeconds(60));

// ---- One large transaction ------------------------------------------------------------------------------------------
if (settings.BigTransactionMiB > 0)
{
    var big = RelayProcess.Start(settings.RelayDll, db.ConnectionString, bootstrap, "relay_big", "bench_pub", "bench.big", settings.Extra);
    await big.WaitForLineAsync("Streaming from slot", TimeSpan.FromSeconds(60));
    Console.WriteLine($"Inserting one transaction of ~{settings.BigTransactionMiB} MiB...");
    await db.ExecAsync($"""
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload)
        SELECT 'Order', 'key-' || (g % 1000), 'Big', jsonb_build_object('n', g, 'pad', repeat('p', 1000))
        FROM generate_series(1, {settings.BigTransactionMiB * 1024}) g
        """, timeoutSeconds: 0);
    var bigEnd = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
    var took = await big.WaitUntilAsync(() => db.ConfirmedAsync("relay_big", bigEnd), TimeSpan.FromMinutes(30));
    var peak = big.PeakRssMiB();
    Console.WriteLine($"Large transaction relayed in {took.TotalSeconds:F1} s, peak RSS {peak} MiB");
    report.BigTransaction(settings.BigTransactionMiB, took, peak);
    big.Terminate();
    await big.WaitForExitAsync(TimeSpan.FromSeconds(60));
}

var path = report.Write();
Console.WriteLine($"Results: {path}");
return 0;
