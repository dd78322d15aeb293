// Dev broker: librdkafka's mock cluster on 127.0.0.1:PORT for the quickstart and manual tries. It is a test double:
// nothing is stored on disk and each partition keeps at most 5 MiB. Never point production traffic at it.
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Relay.DevServices;

var port = IntArgument("--port", 9092);
var brokers = IntArgument("--brokers", 3);
var print = StringArgument("--print");
// A remote broker's round trip (acks=all across zones is several ms): librdkafka's batching and CPU depend on it.
var roundTrip = IntArgument("--rtt", 0);

using var cluster = KafkaMockCluster.Start(brokers);
if (roundTrip > 0)
    for (var broker = 1; broker <= brokers; broker++)
        cluster.SetRoundTripTime(broker, roundTrip);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

// The mock's brokers listen on ephemeral ports. Clients only need a fixed bootstrap address: the metadata they fetch
// through it names the brokers' real ports, which they then connect to directly.
var listener = new TcpListener(IPAddress.Loopback, port);
listener.Start();
var firstBroker = cluster.BootstrapServers.Split(',')[0];
Console.WriteLine($"Dev broker (librdkafka mock cluster, a TEST DOUBLE) ready: bootstrap 127.0.0.1:{port} -> brokers {cluster.BootstrapServers}" +
                  (roundTrip > 0 ? $", round trip {roundTrip} ms" : ""));
var forwarding = ForwardAsync(listener, firstBroker, stop.Token);
var topics = print is null ? null : new Regex(print);
using var printer = topics is null ? null : new KafkaTopicReader(cluster.BootstrapServers, topics.IsMatch, message =>
    Console.WriteLine($"{message.Topic}[{message.Partition}]@{message.Offset} key={message.Key ?? "(null)"} " +
                      string.Join(" ", message.HeaderBytes.Keys.Select(k => $"{k}={message.Header(k)}")) +
                      $" value={message.Value ?? "(null)"}"));

try { await Task.Delay(Timeout.Infinite, stop.Token); } catch (OperationCanceledException) { }
listener.Stop();
await forwarding.ContinueWith(_ => { });
return 0;

static async Task ForwardAsync(TcpListener listener, string target, CancellationToken cancellationToken)
{
    var (host, targetPort) = (target[..target.LastIndexOf(':')], int.Parse(target[(target.LastIndexOf(':') + 1)..]));
    while (!cancellationToken.IsCancellationRequested)
    {
        var client = await listener.AcceptTcpClientAsync(cancellationToken);
        _ = Task.Run(async () =>
        {
            using (client)
            using (var upstream = new TcpClient())
            {
                try
                {
                    await upstream.ConnectAsync(host, targetPort, cancellationToken);
                    var a = client.GetStream().CopyToAsync(upstream.GetStream(), cancellationToken);
                    var b = upstream.GetStream().CopyToAsync(client.GetStream(), cancellationToken);
                    await Task.WhenAny(a, b);
                }
                catch (Exception) { /* a client hanging up is normal */ }
            }
        }, cancellationToken);
    }
}

int IntArgument(string name, int fallback) => StringArgument(name) is { } value ? int.Parse(value) : fallback;

string? StringArgument(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
