using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace Relay.DevServices;

/// <summary>
/// librdkafka's built-in mock cluster: brokers on 127.0.0.1 that speak the real Kafka protocol, with fault injection.
/// A test double for tests and local tries only — it keeps at most 5 MiB per partition and nothing on disk.
/// </summary>
public sealed class KafkaMockCluster : IDisposable
{
    IntPtr _client;
    IntPtr _cluster;

    KafkaMockCluster(IntPtr client, IntPtr cluster, int brokers)
    {
        _client = client;
        _cluster = cluster;
        BrokerCount = brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(Native.rd_kafka_mock_cluster_bootstraps(cluster))
            ?? throw new InvalidOperationException("The mock cluster reported no bootstrap servers.");
    }

    public string BootstrapServers { get; }
    public int BrokerCount { get; }

    /// <summary>Starts a cluster of <paramref name="brokers"/> brokers (ids 1..n) on ephemeral loopback ports.</summary>
    public static KafkaMockCluster Start(int brokers = 3)
    {
        Native.EnsureResolver();
        var conf = Native.rd_kafka_conf_new();
        var error = new StringBuilder(512);
        // The handle only hosts the cluster; it never produces. Keep its own logging quiet.
        Native.rd_kafka_conf_set(conf, "log_level", "3", error, (UIntPtr)error.Capacity);
        var client = Native.rd_kafka_new(0, conf, error, (UIntPtr)error.Capacity);
        if (client == IntPtr.Zero)
            throw new InvalidOperationException($"rd_kafka_new failed: {error}");
        var cluster = Native.rd_kafka_mock_cluster_new(client, brokers);
        if (cluster == IntPtr.Zero)
        {
            Native.rd_kafka_destroy(client);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed.");
        }
        return new KafkaMockCluster(client, cluster, brokers);
    }

    /// <summary>Creates a topic (the mock does not support the CreateTopics admin call).</summary>
    public void CreateTopic(string topic, int partitions, int replicationFactor = 1) =>
        Check(Native.rd_kafka_mock_topic_create(_cluster, topic, partitions, replicationFactor), "create topic " + topic);

    /// <summary>Disconnects a broker and refuses new connections (-1: every broker). Leadership does not move.</summary>
    public void SetBrokerDown(int brokerId = -1) => Check(Native.rd_kafka_mock_broker_set_down(_cluster, brokerId), "set broker down");

    public void SetBrokerUp(int brokerId = -1) => Check(Native.rd_kafka_mock_broker_set_up(_cluster, brokerId), "set broker up");

    public void SetRoundTripTime(int brokerId, int milliseconds) =>
        Check(Native.rd_kafka_mock_broker_set_rtt(_cluster, brokerId, milliseconds), "set rtt");

    /// <summary>The next requests of <paramref name="apiKey"/> (0 = Produce) fail with these Kafka error codes, in order.</summary>
    public void PushRequestErrors(short apiKey, params int[] errorCodes) =>
        Native.rd_kafka_mock_push_request_errors_array(_cluster, apiKey, (UIntPtr)errorCodes.Length, errorCodes);

    /// <summary>
    /// Metadata answers for <paramref name="topic"/> carry this Kafka error code (e.g. 29 TOPIC_AUTHORIZATION_FAILED,
    /// 3 UNKNOWN_TOPIC_OR_PART): a topic the cluster will not take messages for; 0 clears it.
    /// </summary>
    public void SetTopicError(string topic, int errorCode) => Native.rd_kafka_mock_topic_set_error(_cluster, topic, errorCode);

    /// <summary>From now on the brokers remember each request they receive (see <see cref="TakeRequestCounts"/>).</summary>
    public void StartRequestTracking() => Native.rd_kafka_mock_start_request_tracking(_cluster);

    /// <summary>
    /// The requests the brokers received since tracking started or since the last call, counted per broker id and API key
    /// (0 = Produce, 1 = Fetch), and forgets them: e.g. messages per produce request = messages / Produce requests.
    /// </summary>
    public Dictionary<(int Broker, short ApiKey), int> TakeRequestCounts()
    {
        var counts = new Dictionary<(int, short), int>();
        var requests = Native.rd_kafka_mock_get_requests(_cluster, out var count);
        if (requests == IntPtr.Zero)
            return counts;
        try
        {
            for (var i = 0; i < (int)count; i++)
            {
                var request = Marshal.ReadIntPtr(requests, i * IntPtr.Size);
                var key = (Native.rd_kafka_mock_request_id(request), Native.rd_kafka_mock_request_api_key(request));
                counts[key] = counts.GetValueOrDefault(key) + 1;
            }
        }
        finally
        {
            Native.rd_kafka_mock_request_destroy_array(requests, count);
            Native.rd_kafka_mock_clear_requests(_cluster);
        }
        return counts;
    }

    static void Check(int error, string what)
    {
        if (error != 0)
            throw new InvalidOperationException($"Mock cluster: {what} failed with librdkafka error {error}.");
    }

    public void Dispose()
    {
        if (_cluster != IntPtr.Zero)
            Native.rd_kafka_mock_cluster_destroy(_cluster);
        if (_client != IntPtr.Zero)
            Native.rd_kafka_destroy(_client);
        _cluster = _client = IntPtr.Zero;
    }

    static class Native
    {
        const string Library = "librdkafka";
        static int _resolverSet;

        /// <summary>
        /// The NuGet package's librdkafka.so needs libsasl2.so.3, which Debian 12 lacks; the centos8 build beside it
        /// loads, and is the same file Confluent.Kafka falls back to, so both share one librdkafka in the process.
        /// </summary>
        public static void EnsureResolver()
        {
            if (Interlocked.Exchange(ref _resolverSet, 1) == 1)
                return;
            NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, (name, _, _) =>
                name == Library ? LoadLibrdkafka() : IntPtr.Zero);
        }

        static IntPtr LoadLibrdkafka()
        {
            var candidates = new List<string>();
            foreach (var directory in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(typeof(Confluent.Kafka.Library).Assembly.Location) ?? "" })
            {
                var native = Path.Combine(directory, "runtimes", RuntimeInformation.RuntimeIdentifier.StartsWith("linux-arm64", StringComparison.Ordinal) ? "linux-arm64" : "linux-x64", "native");
                candidates.Add(Path.Combine(native, "librdkafka.so"));
                candidates.Add(Path.Combine(native, "centos8-librdkafka.so"));
                candidates.Add(Path.Combine(directory, "librdkafka.so"));
            }
            candidates.Add("librdkafka.so.1");
            foreach (var candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out var handle))
                    return handle;
            }
            throw new DllNotFoundException("librdkafka could not be loaded from: " + string.Join(", ", candidates));
        }

#pragma warning disable SYSLIB1054 // plain DllImport keeps this small; it is test-only code.
        [DllImport(Library)] public static extern IntPtr rd_kafka_conf_new();
        [DllImport(Library)] public static extern int rd_kafka_conf_set(IntPtr conf, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, StringBuilder errstr, UIntPtr errstrSize);
        [DllImport(Library)] public static extern IntPtr rd_kafka_new(int type, IntPtr conf, StringBuilder errstr, UIntPtr errstrSize);
        [DllImport(Library)] public static extern void rd_kafka_destroy(IntPtr rk);
        [DllImport(Library)] public static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokers);
        [DllImport(Library)] public static extern void rd_kafka_mock_cluster_destroy(IntPtr mcluster);
        [DllImport(Library)] public static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);
        [DllImport(Library)] public static extern int rd_kafka_mock_topic_create(IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int partitions, int replicationFactor);
        [DllImport(Library)] public static extern int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);
        [DllImport(Library)] public static extern int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);
        [DllImport(Library)] public static extern int rd_kafka_mock_broker_set_rtt(IntPtr mcluster, int brokerId, int rttMs);
        [DllImport(Library)] public static extern void rd_kafka_mock_push_request_errors_array(IntPtr mcluster, short apiKey, UIntPtr count, int[] errors);
        [DllImport(Library)] public static extern void rd_kafka_mock_topic_set_error(IntPtr mcluster, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, int error);
        [DllImport(Library)] public static extern void rd_kafka_mock_start_request_tracking(IntPtr mcluster);
        [DllImport(Library)] public static extern IntPtr rd_kafka_mock_get_requests(IntPtr mcluster, out UIntPtr count);
        [DllImport(Library)] public static extern void rd_kafka_mock_clear_requests(IntPtr mcluster);
        [DllImport(Library)] public static extern void rd_kafka_mock_request_destroy_array(IntPtr requests, UIntPtr count);
        [DllImport(Library)] public static extern int rd_kafka_mock_request_id(IntPtr request);
        [DllImport(Library)] public static extern short rd_kafka_mock_request_api_key(IntPtr request);
#pragma warning restore SYSLIB1054
    }
}
