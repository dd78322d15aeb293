using Microsoft.Extensions.Logging;
using Relay.Kafka;

namespace Relay.Tests;

public class KafkaStatisticsTests
{
    // The shape of librdkafka's statistics (STATISTICS.md), trimmed: a bootstrap connection (node id -1) and two brokers.
    const string Statistics = """
        {
          "name": "relay#producer-1", "type": "producer", "msg_cnt": 17, "msg_size": 4096, "txmsgs": 1200,
          "brokers": {
            "localhost:9092/bootstrap": { "name": "localhost:9092/bootstrap", "nodeid": -1, "txerrs": 5, "rxerrs": 0, "req_timeouts": 0,
                                          "rtt": { "avg": 0 }, "req": { "Produce": 0 } },
            "localhost:9092/1": { "name": "localhost:9092/1", "nodeid": 1, "txerrs": 1, "rxerrs": 2, "req_timeouts": 3,
                                  "rtt": { "min": 100, "max": 9000, "avg": 2500 }, "req": { "Produce": 40, "Metadata": 3 } },
            "localhost:9093/2": { "name": "localhost:9093/2", "nodeid": 2, "txerrs": 0, "rxerrs": 0, "req_timeouts": 0,
                                  "rtt": { "avg": 1000 }, "req": { "Produce": 10 } }
          },
          "topics": {}
        }
        """;

    [Fact]
    public void reads_the_queue_the_messages_sent_and_each_real_broker()
    {
        var snapshot = KafkaStatistics.Parse(Statistics);

        Assert.Equal(17, snapshot.QueuedMessages);
        Assert.Equal(1200, snapshot.MessagesSent);
        Assert.Equal(["localhost:9092/1", "localhost:9093/2"], snapshot.Brokers.Select(b => b.Name));
        var first = snapshot.Brokers[0];
        Assert.Equal(40, first.ProduceRequests);
        Assert.Equal(6, first.RequestErrors);
        Assert.Equal(0.0025, first.RoundTripSeconds, 6);
    }

    [Fact]
    public void a_document_without_brokers_yet_has_no_broker_figures()
    {
        var snapshot = KafkaStatistics.Parse("""{ "msg_cnt": 0, "txmsgs": 0 }""");

        Assert.Empty(snapshot.Brokers);
        Assert.Equal(0, snapshot.QueuedMessages);
    }

    // Two brokers; messages sent and produce requests are counters, the round trip is the last interval's (µs): the
    // second broker is the slower one, its p90 half again its average.
    static string Document(long messagesSent, long produceRequests, long roundTripMicros, string client = "relay#producer-1") => $$"""
        {
          "name": "{{client}}", "msg_cnt": 0, "txmsgs": {{messagesSent}},
          "brokers": {
            "localhost:9092/1": { "nodeid": 1, "rtt": { "avg": {{roundTripMicros / 4}} }, "req": { "Produce": {{produceRequests / 2}} } },
            "localhost:9093/2": { "nodeid": 2, "rtt": { "avg": {{roundTripMicros}}, "p90": {{roundTripMicros * 3 / 2}} },
                                  "req": { "Produce": {{produceRequests - produceRequests / 2}} } }
          }
        }
        """;

    sealed class Warnings : ILogger<KafkaStatistics>
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
                Lines.Add(formatter(state, exception));
        }
    }

    static (KafkaStatistics Statistics, Warnings Warnings) Create(double lingerMs)
    {
        var warnings = new Warnings();
        return (new KafkaStatistics(TestMetrics.Create(), warnings) { LingerMs = lingerMs }, warnings);
    }

    [Fact]
    public void batches_waiting_on_round_trips_longer_than_the_linger_for_two_intervals_are_reported_once_with_the_setting_that_ends_it()
    {
        var (statistics, warnings) = Create(lingerMs: 5);

        statistics.Update(Document(messagesSent: 1_000, produceRequests: 100, roundTripMicros: 20_400));
        statistics.Update(Document(messagesSent: 21_000, produceRequests: 1_100, roundTripMicros: 20_400));
        Assert.Empty(warnings.Lines);   // one interval could be a passing slowness
        statistics.Update(Document(messagesSent: 41_000, produceRequests: 2_100, roundTripMicros: 20_400));
        statistics.Update(Document(messagesSent: 61_000, produceRequests: 3_100, roundTripMicros: 20_400));

        var line = Assert.Single(warnings.Lines);
        Assert.Contains("localhost:9093/2", line);   // the slower broker
        Assert.Contains("20.4 ms", line);
        Assert.Contains("linger.ms 5", line);
        Assert.Contains("20 messages per produce request", line);
        Assert.Contains("Relay:Kafka:Producer:linger.ms to 31", line);   // its p90, 30.6 ms
    }

    [Fact]
    public void five_messages_per_request_is_enough_to_wait_on_a_reply()
    {
        var (statistics, warnings) = Create(lingerMs: 5);

        statistics.Update(Document(0, 0, 5_100));
        statistics.Update(Document(5_000, 1_000, 5_100));
        statistics.Update(Document(10_000, 2_000, 5_100));

        Assert.Single(warnings.Lines);
    }

    [Theory]
    [InlineData(25, 20_000, 20)]     // the linger covers the round trip: no request waits on another
    [InlineData(5, 5_000, 20)]       // a round trip of exactly the linger
    [InlineData(5, 20_000, 1.5)]     // single messages per request (1,000 single-row transactions/s): never 5 in flight
    [InlineData(5, 3_000, 40)]       // a nearby broker
    public void no_report_when_the_linger_covers_the_round_trip_or_batches_stay_under_five_messages(double lingerMs, long roundTripMicros, double perRequest)
    {
        var (statistics, warnings) = Create(lingerMs);

        for (var interval = 0; interval < 4; interval++)
            statistics.Update(Document((long)(perRequest * 1_000 * interval), 1_000 * interval, roundTripMicros));

        Assert.Empty(warnings.Lines);
    }

    [Fact]
    public void slow_intervals_that_do_not_follow_each_other_are_not_reported()
    {
        var (statistics, warnings) = Create(lingerMs: 5);

        statistics.Update(Document(0, 0, 20_000));
        statistics.Update(Document(20_000, 1_000, 20_000));   // slow
        statistics.Update(Document(40_000, 2_000, 2_000));    // normal
        statistics.Update(Document(60_000, 3_000, 20_000));   // slow

        Assert.Empty(warnings.Lines);
    }

    [Fact]
    public void a_new_producer_whose_counters_start_again_is_not_judged_against_the_old_ones()
    {
        var (statistics, warnings) = Create(lingerMs: 1);

        statistics.Update(Document(messagesSent: 0, produceRequests: 0, roundTripMicros: 9_000));
        statistics.Update(Document(messagesSent: 20_000, produceRequests: 1_000, roundTripMicros: 9_000));   // slow
        // The replacement's first document: set against the old producer's, its counters would make a second slow interval.
        statistics.Update(Document(messagesSent: 40_000, produceRequests: 2_000, roundTripMicros: 9_000, client: "relay#producer-2"));
        Assert.Empty(warnings.Lines);

        statistics.Update(Document(messagesSent: 60_000, produceRequests: 3_000, roundTripMicros: 9_000, client: "relay#producer-2"));
        statistics.Update(Document(messagesSent: 80_000, produceRequests: 4_000, roundTripMicros: 9_000, client: "relay#producer-2"));
        Assert.Single(warnings.Lines);   // the new producer's own two slow intervals
    }
}
