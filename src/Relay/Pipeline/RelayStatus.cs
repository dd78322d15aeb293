namespace Relay.Pipeline;

/// <summary>What the relay is doing, for the health endpoints and metrics, and how it ended.</summary>
/// <remarks>
/// On .NET 10 a stopped host exits 0 even after a worker failed, so the supervisor records the code here and
/// <c>relay run</c> returns it: Kubernetes then sees a crash, not a clean exit.
/// </remarks>
public sealed class RelayStatus(TimeProvider time)
{
    long _lastTick = time.GetTimestamp();

    public RelayState State { get; private set; } = RelayState.Starting;

    /// <summary>0 while healthy or after a clean stop; 1 after a fatal error.</summary>
    public int ExitCode { get; private set; }

    public string? FatalError { get; private set; }

    /// <summary>The connected run, while there is one.</summary>
    public IRunSnapshot? CurrentRun { get; set; }

    /// <summary>Time since the relay's loops last showed they run.</summary>
    public TimeSpan SinceLastTick => time.GetElapsedTime(Interlocked.Read(ref _lastTick));

    public void Tick() => Interlocked.Exchange(ref _lastTick, time.GetTimestamp());

    public void Set(RelayState state)
    {
        State = state;
        Tick();
    }

    public void SetFatal(string error)
    {
        FatalError = error;
        ExitCode = 1;
        Set(RelayState.Failed);
    }
}

public enum RelayState { Starting, Streaming, Standby, Reconnecting, Stopping, Stopped, Failed }
