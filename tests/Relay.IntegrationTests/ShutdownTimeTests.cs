using System.Diagnostics;
using System.Net;
using Relay.IntegrationTests.Fixtures;
using Relay.DevServices;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>
/// SIGTERM with nothing in flight ends the real process at once (issue 17: it took ~15 s, sometimes 40 s): after the
/// health endpoints were asked, after a broker outage, and for a standby waiting for the slot.
/// </summary>
/// <remarks>
/// The delay depended on which socket-engine thread each socket landed on (round robin, one thread per core when socket
/// continuations run inline), so it came and went with the number of sockets opened before the stop — an HTTP request
/// adds one. With <c>DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT=1</c> every socket shares one engine thread: a relay that
/// blocks that thread at stop then hangs every time, so these tests run that way as well as with the runtime's default.
/// </remarks>
public class ShutdownTimeTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    static readonly TimeSpan Limit = TimeSpan.FromSeconds(2);

    async Task<(TestDatabase Db, string Topic, RelaySettings Settings)> PrepareAsync(int? socketEngines)
    {
        var db = await postgres.CreateDatabaseAsync();
        var topic = db.Name + ".events";
        await kafka.CreateTopicAsync(topic, 3);
        await db.CreateOutboxTableAsync();
        var settings = RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", topic));
        if (socketEngines is { } engines)
            settings.Environment["DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT"] = engines.ToString();
        return (db, topic, settings);
    }

    static RelayProcess Start(RelaySettings settings, out int port)
    {
        port = PostgresCluster.FreePort();
        return RelayProcess.Start(new RelaySettings().Merge(settings).With("Relay:Diagnostics:Port", port.ToString()));
    }

    static Task InsertAsync(TestDatabase db, int first, int count) =>
        db.ExecuteAsync("""
            INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload)
            SELECT 'Order', 'key-' || (g % 5), 'Step', jsonb_build_object('seq', g) FROM generate_series($1::int, $1::int + $2::int - 1) g
            """, first, count);

    static async Task AssertHealthyAsync(int port)
    {
        foreach (var path in new[] { "/healthz", "/readyz" })
        {
            using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    /// <summary>SIGTERM, then the time until the process has exited; asserts exit code 0 (and the active relay's last word).</summary>
    static async Task<TimeSpan> TerminateAsync(RelayProcess relay, bool streamed = true)
    {
        var watch = Stopwatch.StartNew();
        relay.Terminate();
        var code = await relay.WaitForExitAsync(TimeSpan.FromSeconds(60));
        watch.Stop();
        Assert.Equal(0, code);
        if (streamed)
            Assert.True(relay.Events.Has(RelayEvents.Stopped), "no Stopped event");
        return watch.Elapsed;
    }

    static string Engines(int? socketEngines) => socketEngines is { } n ? $"{n} socket engine(s)" : "default socket engines";

    [Theory]
    [InlineData(null)]
    [InlineData(1)]
    public async Task sigterm_after_the_health_endpoints_were_asked_exits_zero_at_once(int? socketEngines)
    {
        var (db, topic, settings) = await PrepareAsync(socketEngines);
        await using var _ = db;
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = Start(settings, out var port);
        await db.WaitForStreamingAsync();
        await InsertAsync(db, 0, 10);
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(10, TimeSpan.FromSeconds(30)));
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));   // nothing in flight
        await AssertHealthyAsync(port);

        var took = await TerminateAsync(relay);
        Figures.Report($"SIGTERM -> exit after /healthz and /readyz, {Engines(socketEngines)}: {took.TotalMilliseconds:F0} ms");
        Assert.True(took < Limit, $"SIGTERM -> exit took {took.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task sigterm_after_a_broker_outage_exits_zero_at_once()
    {
        var mock = kafka.Mock;
        Assert.SkipWhen(mock is null, $"needs the librdkafka mock cluster's fault injection; the broker here comes from {kafka.Origin}");
        var (db, topic, settings) = await PrepareAsync(socketEngines: 1);
        await using var _ = db;
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var relay = Start(settings.With("Relay:Pipeline:StallWarningAfter", "00:00:01"), out var port);
        await db.WaitForStreamingAsync();
        await InsertAsync(db, 0, 10);
        Assert.True(await reader.WaitForCountAsync(10, TimeSpan.FromSeconds(30)));

        mock!.SetBrokerDown();
        try
        {
            await InsertAsync(db, 10, 10);
            Assert.True(await relay.WaitForEventAsync(RelayEvents.Stalled, TimeSpan.FromSeconds(30)), "no stall while the brokers were down");
        }
        finally
        {
            mock.SetBrokerUp();
        }
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(20, TimeSpan.FromSeconds(60)), $"received {reader.Count} of 20");
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));   // nothing in flight
        await AssertHealthyAsync(port);

        var took = await TerminateAsync(relay);
        Figures.Report($"SIGTERM -> exit after a broker outage (1 socket engine): {took.TotalMilliseconds:F0} ms");
        Assert.True(took < Limit, $"SIGTERM -> exit took {took.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task sigterm_to_a_standby_waiting_for_the_slot_and_then_to_the_active_relay_exits_zero_at_once()
    {
        var (db, topic, settings) = await PrepareAsync(socketEngines: 1);
        await using var _ = db;
        using var reader = kafka.ReadTopics(t => t == topic);
        await using var active = Start(settings, out var activePort);
        await db.WaitForStreamingAsync();
        await using var standby = Start(settings, out var standbyPort);
        Assert.True(await standby.WaitForEventAsync(RelayEvents.Standby, TimeSpan.FromSeconds(60)), "the second relay did not become a standby");
        await InsertAsync(db, 0, 10);
        var end = await db.CurrentWalLsnAsync();
        Assert.True(await reader.WaitForCountAsync(10, TimeSpan.FromSeconds(30)));
        Assert.True(await db.WaitForConfirmedAsync(end, TimeSpan.FromSeconds(30)));
        await AssertHealthyAsync(standbyPort);
        await AssertHealthyAsync(activePort);

        var standbyTook = await TerminateAsync(standby, streamed: false);
        var activeTook = await TerminateAsync(active);
        Figures.Report($"SIGTERM -> exit (1 socket engine): standby {standbyTook.TotalMilliseconds:F0} ms, active {activeTook.TotalMilliseconds:F0} ms");
        Assert.True(standbyTook < Limit, $"standby: SIGTERM -> exit took {standbyTook.TotalSeconds:F1} s");
        Assert.True(activeTook < Limit, $"active: SIGTERM -> exit took {activeTook.TotalSeconds:F1} s");
    }
}
