using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.Kafka;
using Relay.Options;

namespace Relay;

/// <summary>
/// <c>relay check</c>: connects to the database and the broker and reports every prerequisite as PASS, WARN or FAIL with
/// the fix, changing nothing. Exit code 0 when nothing fails, 1 otherwise. The source's findings are the ones its daemon
/// acts on at start.
/// </summary>
static class Preflight
{
    public static async Task<int> RunAsync(string? configPath, string[] overrides)
    {
        var builder = Host.CreateApplicationBuilder([.. overrides, "--hostBuilder:reloadConfigOnChange=false"]);
        if (!builder.Configuration.AddRelayConfigFile(configPath, overrides, out var problem))
        {
            Console.Error.WriteLine(problem);
            return 1;
        }
        builder.Logging.ClearProviders();
        try
        {
            builder.Services.AddRelay(builder.Configuration);
        }
        catch (RelayConfigurationException e)
        {
            return Report([PreflightCheck.Fail("configuration", e.Message, "fix the key named")]);
        }
        using var host = builder.Build();
        var services = host.Services;
        var invalid = services.ValidateRelayConfiguration();
        if (invalid.Count > 0)
            return Report([PreflightCheck.Fail("configuration", string.Join("; ", invalid), "fix the keys named")]);

        var results = new List<PreflightCheck>
        {
            PreflightCheck.Pass("configuration", "every key valid; the producer keeps per-key order (idempotent, acks=all, ≤ 5 in flight)"),
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        results.AddRange(await services.GetRequiredService<IOutboxSource>().CheckAsync(timeout.Token));
        results.AddRange(CheckKafka(services.GetRequiredService<IOptions<KafkaOptions>>().Value, services.GetRequiredService<OutboxMapping>().All.ToList()));
        return Report(results);
    }

    static IEnumerable<PreflightCheck> CheckKafka(KafkaOptions options, IReadOnlyList<OutboxTableMapping> tables)
    {
        var config = new AdminClientConfig(KafkaProducerFactory.BuildConfig(options).Where(p => p.Key is not ("enable.idempotence" or "acks"))
            .ToDictionary(p => p.Key, p => p.Value));
        using var admin = new AdminClientBuilder(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
        Metadata metadata;
        try
        {
            metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        }
        catch (KafkaException e)
        {
            return [PreflightCheck.Fail("broker reachable", $"{config.BootstrapServers}: {e.Error.Reason}", "fix Relay:Kafka:BootstrapServers, security settings or the network path")];
        }
        var results = new List<PreflightCheck>
        {
            PreflightCheck.Pass("broker reachable", $"{metadata.Brokers.Count} broker(s): {string.Join(", ", metadata.Brokers.Select(b => $"{b.Host}:{b.Port}"))}"),
        };
        var existing = metadata.Topics.Where(t => t.Error.Code == ErrorCode.NoError).Select(t => t.Topic).ToHashSet();
        var autoCreate = AutoCreateTopics(admin, metadata);
        foreach (var (topic, why) in tables.SelectMany(t => new[] { (t.FixedTopic, $"{t.QualifiedName} topic"), (t.Options.DeadLetterTopic, $"{t.QualifiedName} dead letters") })
                     .Where(t => t.Item1 is not null).Distinct())
        {
            var name = $"topic {topic}";
            results.Add(existing.Contains(topic!)
                ? PreflightCheck.Pass(name, $"exists ({why})")
                : autoCreate == true
                    ? PreflightCheck.Pass(name, $"missing; the broker auto-creates topics ({why})")
                    : PreflightCheck.Fail(name, $"missing and {(autoCreate == false ? "auto.create.topics.enable is false" : "the broker's auto-creation setting could not be read")} ({why})",
                        $"create topic {topic} with enough partitions for your keys"));
        }
        foreach (var table in tables.Where(t => t.TopicTemplate is not null))
            results.Add(PreflightCheck.Pass($"topics of {table.QualifiedName}", $"routed by '{table.TopicTemplate!.Text}': known only when rows arrive"));
        return results;
    }

    /// <summary>The brokers' auto.create.topics.enable, or null when it cannot be read (some brokers refuse DescribeConfigs).</summary>
    static bool? AutoCreateTopics(IAdminClient admin, Metadata metadata)
    {
        try
        {
            var broker = metadata.Brokers[0].BrokerId.ToString();
            var describe = admin.DescribeConfigsAsync([new ConfigResource { Type = ResourceType.Broker, Name = broker }],
                new DescribeConfigsOptions { RequestTimeout = TimeSpan.FromSeconds(5) });
            if (!describe.Wait(TimeSpan.FromSeconds(6)))
                return null;
            var entry = describe.Result.SelectMany(r => r.Entries.Values).FirstOrDefault(e => e.Name == "auto.create.topics.enable");
            return entry?.Value is { } value ? bool.Parse(value) : null;
        }
        catch (Exception e) when (e is KafkaException or AggregateException or FormatException)
        {
            return null;
        }
    }

    static int Report(IReadOnlyList<PreflightCheck> results)
    {
        foreach (var check in results)
        {
            Console.WriteLine($"{check.Severity.ToString().ToUpperInvariant()}  {check.Name}: {check.Detail}");
            if (check.Severity != CheckSeverity.Pass && check.Fix is not null)
                Console.WriteLine($"      fix: {check.Fix}");
        }
        var failed = results.Count(r => !r.Passed);
        var warned = results.Count(r => r.Severity == CheckSeverity.Warn);
        Console.WriteLine((failed == 0 ? $"All {results.Count} checks passed" : $"{failed} of {results.Count} checks failed")
                          + (warned > 0 ? $" ({warned} with a warning)." : "."));
        return failed == 0 ? 0 : 1;
    }
}
