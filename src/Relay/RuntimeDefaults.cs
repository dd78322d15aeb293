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

    // Not set: DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1, although for the PostgreSQL source it saved a thread-pool
    // hop per read. Inline, continuations run on the socket-engine threads (one per core, sockets assigned round robin),
    // and at stop one blocks there: cancelling the replication stream makes Npgsql send PostgreSQL's cancel request on
    // a new connection and wait synchronously for the server to close it. When that connection's socket lands on the
    // same engine thread, nothing reads it until its 15 s timeout: SIGTERM took 15 s instead of 0.3 s, depending on how
    // many sockets had been opened before (e.g. one for a request to /healthz: issue 17; tests in ShutdownTimeTests).
}
