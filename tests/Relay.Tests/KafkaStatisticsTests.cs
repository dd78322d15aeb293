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
}
