using Confluent.Kafka;

namespace Relay.Kafka;

/// <summary>
/// The producer and the one thread that serves its delivery reports. Confluent.Kafka's own poll thread waits at most
/// 100 ms for a report, so an idle relay woke ten times a second for nothing (a quarter of its idle wake-ups); this one
/// waits up to <see cref="PollWait"/>. A report ends the wait at once, so acknowledgements are not delayed.
/// </summary>
public sealed class PolledProducer : IDisposable
{
    /// <summary>
    /// How long one poll waits when no report comes; also how long disposing may wait for the poll thread (librdkafka
    /// offers no way to end a waiting poll from outside but its own yield, which Confluent.Kafka does not expose).
    /// </summary>
    public static readonly TimeSpan PollWait = TimeSpan.FromMilliseconds(500);

    readonly Thread _thread;
    volatile bool _stopping;

    /// <param name="producer">Built with <c>dotnet.producer.enable.background.poll=false</c>.</param>
    public PolledProducer(IProducer<byte[]?, byte[]?> producer)
    {
        Producer = producer;
        _thread = new Thread(Poll) { IsBackground = true, Name = "kafka-delivery" };
        _thread.Start();
    }

    public IProducer<byte[]?, byte[]?> Producer { get; }

    void Poll()
    {
        while (!_stopping)
            Producer.Poll(PollWait);
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
        Producer.Dispose();
    }
}
