using System.Runtime.InteropServices;

namespace Relay;

/// <summary>
/// Process-wide .NET settings chosen for a relay's workload, applied before the first socket is opened. Each is a
/// default: an environment variable already set by the operator wins. Measured in bench/ (see README "Performance").
/// </summary>
static partial class RuntimeDefaults
{
    /// <summary>
    /// At most two glibc malloc arenas, set before librdkafka starts its threads. Its messages are allocated on the
    /// reading thread and freed on broker threads; with an arena per thread, freed memory stays with each arena. The
    /// image sets MALLOC_ARENA_MAX=2, which also covers the runtime's own early threads (measured: steady RSS 136 → 116
    /// MiB); this fallback for other installs comes after those threads and recovers less (→ ~130 MiB). Called first
    /// thing in Main.
    /// </summary>
    public static void LimitMallocArenas()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MALLOC_ARENA_MAX") is not null)
            return;
        try
        {
            const int ArenaMax = -8;   // M_ARENA_MAX in malloc.h
            _ = MallOpt(ArenaMax, 2);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): nothing to tune.
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    public static void Apply(SourceKind source)
    {
        // PostgreSQL: run socket continuations on the socket engine's thread instead of queueing each to the thread
        // pool. The replication stream is one long run of small reads and every hop is a thread wake-up (on 2 cores,
        // ~1 s of CPU per 300,000 rows); neither Npgsql nor Relay blocks in those continuations. (Not for SQL Server:
        // SqlClient's async paths are not known to be free of blocking waits.)
        if (source == SourceKind.Postgres)
            SetDefault("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
    }

    static void SetDefault(string variable, string value)
    {
        if (Environment.GetEnvironmentVariable(variable) is null)
            Environment.SetEnvironmentVariable(variable, value);
    }
}
