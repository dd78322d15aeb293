using System.Text.Json;
using Relay.DevServices;
using Relay.IntegrationTests.Fixtures;
using Relay.Testing;

namespace Relay.IntegrationTests;

/// <summary>
/// The Grafana dashboard Relay ships (deploy/grafana/relay-dashboard.json), query by query, against a real Prometheus
/// scraping a running relay: each expression must parse and return data, so no panel stays empty for an operator.
/// </summary>
public class DashboardQueriesTests(PostgresFixture postgres, KafkaFixture kafka)
{
    static string DashboardFile => Path.Combine(RepositoryRoot, "deploy", "grafana", "relay-dashboard.json");

    static string RepositoryRoot
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory);
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Relay.sln")))
                directory = directory.Parent;
            return directory?.FullName ?? throw new DirectoryNotFoundException("Relay.sln not found above the test binaries.");
        }
    }

    /// <summary>Every target's expression, with Grafana's variables as the dashboard's "All" would set them.</summary>
    static List<(string Panel, string Expression)> DashboardQueries()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        var queries = new List<(string, string)>();
        foreach (var panel in dashboard.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (!panel.TryGetProperty("targets", out var targets))
                continue;
            foreach (var target in targets.EnumerateArray())
                queries.Add((panel.GetProperty("title").GetString()!, target.GetProperty("expr").GetString()!
                    .Replace("$__rate_interval", "15s").Replace("=~\"$instance\"", "=~\".+\"")));
        }
        return queries;
    }

    [Fact]
    public async Task every_dashboard_query_returns_data_from_a_live_relay()
    {
        Assert.SkipWhen(PrometheusServer.FindBinary() is null, "needs Debian's prometheus package (apt-get install prometheus; .ci/run installs it)");
        var queries = DashboardQueries();
        Assert.True(queries.Count >= 15, $"only {queries.Count} queries found in {DashboardFile}");
        Assert.DoesNotContain(queries, q => q.Expression.Contains('$'));   // a variable this test does not know

        await using var db = await postgres.CreateDatabaseAsync();
        await db.CreateOutboxTableAsync();
        var port = PostgresCluster.FreePort();
        await using var relay = RelayProcess.Start(RelaySettings.For(db, kafka).Table(0, "public.outbox", ("Topic", db.Name))
            .With("Relay:Diagnostics:Port", port.ToString()).With("Relay:Postgres:LagSampleInterval", "00:00:00.500")
            .With("Relay:Kafka:Producer:statistics.interval.ms", "1000"));
        Assert.True(await relay.WaitForEventAsync(RelayEvents.StreamingStarted, TimeSpan.FromSeconds(60)));
        await using var prometheus = await PrometheusServer.StartAsync([$"127.0.0.1:{port}"], TestContext.Current.CancellationToken);

        // Events flow the whole time, so rates and latency quantiles have samples in their window.
        using var writing = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var writer = Task.Run(async () =>
        {
            while (!writing.IsCancellationRequested)
            {
                await db.ExecuteAsync("INSERT INTO public.outbox (aggregatetype, aggregateid, type, payload) SELECT 'A', 'k' || g, 't', '{}' FROM generate_series(1, 5) g");
                await Task.Delay(100, CancellationToken.None);
            }
        });

        var missing = queries;
        var allAnswered = await Eventually.WaitUntilAsync(async () =>
        {
            var stillMissing = new List<(string, string)>();
            foreach (var query in missing)
            {
                var result = await prometheus.QueryAsync(query.Expression);
                Assert.True(result.Error is null, $"Prometheus refused the query of panel '{query.Panel}': {result.Error}\n{query.Expression}");
                if (result.Series == 0)
                    stillMissing.Add(query);
            }
            missing = stillMissing;
            return missing.Count == 0;
        }, TimeSpan.FromSeconds(90), TimeSpan.FromSeconds(1));
        await writing.CancelAsync();
        await writer;

        Assert.True(allAnswered, "no data for: " + string.Join("; ", missing.Select(q => $"'{q.Panel}': {q.Expression}")));
        Figures.Report($"dashboard: {queries.Count} queries answered by Prometheus from a live relay");
    }
}
