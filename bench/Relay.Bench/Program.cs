// Relay's end-to-end benchmark (issue 15). Run with ../run.sh (builds Release first). Every workload runs for Relay and for
// the naive reference relay (bench/NaiveRelay) in the same sitting; figures go to stdout and to
// bench/results/<date>-<host>.md. Uses a throwaway PostgreSQL and librdkafka's mock cluster unless RELAY_BENCH_POSTGRES
// (superuser connection string, wal_level=logical, track_commit_timestamp=on; local binaries still needed for
// pgbench/pg_recvlogical) and RELAY_BENCH_KAFKA (bootstrap servers; create the bench.* topics first) name others.
using System.Diagnostics;
using Relay.Bench;
using Relay.DevServices;

var settings = BenchSettings.Parse(args);
if (args.Contains("--emit-message"))
    return await EmitMessageBench.RunAsync(args, settings);   // issue 16: INSERT versus pg_logical_emit_message (EmitMessageBench.cs)
var started = Stopwatch.StartNew();
var pgBin = PostgresCluster.FindBinDirectory() ?? throw new InvalidOperationException("PostgreSQL binaries (pgbench, pg_recvlogical) are needed.");
var externalServer = Environment.GetEnvironmentVariable("RELAY_BENCH_POSTGRES") is { Length: > 0 } given ? given : null;
// fsync on (the test clusters turn it off): commit → receipt includes the commit's WAL flush, as in production.
// track_commit_timestamp: each row's commit time comes from the database (pg_xact_commit_timestamp).
await using var cluster = externalServer is not null ? null
    : await PostgresCluster.StartAsync(["fsync = on", "full_page_writes = on", "track_commit_timestamp = on", "shared_buffers = 512MB",
        "max_wal_size = 8GB", "checkpoint_timeout = 30min", "logical_decoding_work_mem = 64MB"]);
var server = externalServer ?? cluster!.ConnectionString;
using var mock = Environment.GetEnvironmentVariable("RELAY_BENCH_KAFKA") is { Length: > 0 } ? null : KafkaMockCluster.Start(3);
mock?.StartRequestTracking();
var bootstrap = Environment.GetEnvironmentVariable("RELAY_BENCH_KAFKA") is { Length: > 0 } kafka ? kafka : mock!.BootstrapServers;
using var load = new MachineLoad(() => cluster is null ? null
    : int.TryParse(File.ReadLines(Path.Combine(cluster.Root, "data", "postmaster.pid")).First(), out var pid) ? pid : null);
var runMark = load.Now();
var report = new Report(settings);
report.Environment(pgBin, File.ReadAllText("/proc/loadavg").Trim());

var db = await Database.CreateAsync(server, "relay_bench");
var commitTimestamps = await db.ScalarAsync<string>("SHOW track_commit_timestamp") == "on";
await db.ExecAsync("""
    CREATE TABLE outbox (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), aggregatetype text NOT NULL, aggregateid text NOT NULL,
                         type text NOT NULL, payload jsonb, created_at timestamptz NOT NULL DEFAULT clock_timestamp());
    CREATE PUBLICATION bench_pub FOR TABLE outbox WITH (publish = 'insert');
    """);

// ---- Drain (--rows 0 skips it) -------------------------------------------------------------------------------------
if (settings.Rows > 0)
{
    // Slots before the preload, so every relay and both baselines decode the same WAL. (One statement each: a slot cannot be
    // created in a transaction that wrote.)
    foreach (var slot in settings.Relays.Select(k => $"{k.ToString().ToLowerInvariant()}_drain").Concat(["baseline_before", "baseline_after"]))
        await db.ExecAsync($"SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')");
    Console.WriteLine($"Preloading {settings.Rows:N0} rows ({settings.Rows / 100:N0} transactions of 100)...");
    var preload = Stopwatch.StartNew();
    // Asynchronous commit for the preload only (10,000 WAL flushes would only make it slower). Its end is the insert position
    // read right after the last commit, in the same session.
    var end = await db.ExecThenScalarAsync($$"""
        DO $$ BEGIN
          FOR t IN 0..{{settings.Rows / 100 - 1}} LOOP
            INSERT INTO outbox (aggregatetype, aggregateid, type, payload)
            SELECT 'Order', 'key-' || ((t * 100 + g) % 1000), 'OrderCreated',
                   jsonb_build_object('orderId', t * 100 + g, 'customer', 'customer-' || (g % 97), 'total', (g * 7) % 1000,
                                      'currency', 'EUR', 'lines', 3, 'note', repeat('x', 60))
            FROM generate_series(1, 100) g;
            COMMIT;
          END LOOP;
          PERFORM set_config('bench.end', pg_current_wal_insert_lsn()::text, false);
        END $$;
        """, "SELECT current_setting('bench.end')", options: "-c synchronous_commit=off");
    var walBytes = await db.ScalarAsync<decimal>($"SELECT pg_wal_lsn_diff('{end}', confirmed_flush_lsn) FROM pg_replication_slots WHERE slot_name = 'baseline_before'");
    Console.WriteLine($"Preloaded in {preload.Elapsed.TotalSeconds:F1} s, {walBytes / 1024 / 1024:F0} MiB of WAL, end {end}");

    var before = await Baseline.RunAsync(pgBin, db, "baseline_before", end);
    Console.WriteLine($"pg_recvlogical (before): {before.Elapsed.TotalSeconds:F2} s = {settings.Rows / before.Elapsed.TotalSeconds:N0} rows/s");
    var drainPhase = new DrainPhase(settings, db, bootstrap, mock, load, end);
    var drains = new List<DrainResult>();
    foreach (var kind in settings.Relays)
        drains.Add(await drainPhase.RunAsync(kind));
    var after = await Baseline.RunAsync(pgBin, db, "baseline_after", end);
    Console.WriteLine($"pg_recvlogical (after): {after.Elapsed.TotalSeconds:F2} s");
    report.Drain(walBytes, before, after, drains);

    // The preload left a million-row table that autovacuum would now spend many seconds on, on the same two cores. Clean it
    // as an outbox cleaner would (TRUNCATE is not published) and checkpoint: one-off server maintenance is not relay latency.
    await db.ExecAsync("TRUNCATE outbox; CHECKPOINT;");
    foreach (var slot in new[] { "baseline_before", "baseline_after" }.Concat(settings.Relays.Select(k => $"{k.ToString().ToLowerInvariant()}_drain")))
        await db.ExecAsync($"SELECT pg_drop_replication_slot('{slot}')");
}

// ---- Start-up, idle, live workloads (the naive relay first here, Relay first in the drain: drift shows in both) --------
var live = new LivePhase(settings, db, pgBin, bootstrap, mock, load, commitTimestamps);
var idles = new List<IdleResult>();
var runs = new List<LiveResult>();
foreach (var kind in settings.Relays.Reverse())
{
    var (idle, kindRuns) = await live.RunAsync(kind);
    idles.Add(idle);
    runs.AddRange(kindRuns);
}
report.Live(runs, idles, commitTimestamps);

// ---- One large transaction (Relay only: the naive relay holds it all in librdkafka's queue) ---------------------------
if (settings.BigTransactionMiB > 0 && settings.Relays.Contains(RelayKind.Relay))
{
    await db.ExecAsync("SELECT pg_create_logical_replication_slot('relay_big', 'pgoutput')");
    await using var big = RelayUnderTest.Start(RelayKind.Relay, settings, db, bootstrap, "relay_big", "bench.big");
    await big.WaitForSlotActiveAsync(db, "relay_big");
    Console.WriteLine($"Inserting one transaction of ~{settings.BigTransactionMiB} MiB...");
    await db.ExecAsync($"""
        INSERT INTO outbox (aggregatetype, aggregateid, type, payload)
        SELECT 'Order', 'key-' || (g % 1000), 'Big', jsonb_build_object('n', g, 'pad', repeat('p', 1000))
        FROM generate_series(1, {settings.BigTransactionMiB * 1024}) g
        """, timeoutSeconds: 0);
    var bigEnd = await db.ScalarAsync<string>("SELECT pg_current_wal_lsn()::text");
    var committed = big.Since.Elapsed;
    var took = await big.WaitUntilAsync(() => db.ConfirmedAsync("relay_big", bigEnd), TimeSpan.FromMinutes(30), "the large transaction") - committed;
    Console.WriteLine($"Large transaction relayed in {took.TotalSeconds:F1} s after its commit, peak RSS {big.PeakRssMB()} MB");
    report.BigTransaction(settings.BigTransactionMiB, took, big.PeakRssMB());
}

report.Load(load.Summary(runMark), File.ReadAllText("/proc/loadavg").Trim(), started.Elapsed);
Console.WriteLine($"Results: {report.Write()}");
return 0;
