namespace Relay.Pipeline;

/// <summary>What the relay is doing, for the health endpoints, and how it ended.</summary>
/// <remarks>
/// On .NET 10 a stopped host exits 0 even after a worker failed, so the worker records the code here and
/// <c>Program</c> returns it: Kubernetes then sees a crash, not a clean exit.
/// </remarks>
public sealed class RelayStatus
{
    long _lastTick = Environment.TickCount64;

    public RelayState State { get; private set; } = RelayState.Starting;

    /// <summary>0 while healthy or after a clean stop; 1 after a fatal error.</summary>
    public int ExitCode { get; private set; }

    public string? FatalError { get; private set; }

    /// <summary>Time since the worker's loops last showed they run.</summary>
    public TimeSpan SinceLastTick => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastTick));

    public void Tick() => Interlocked.Exchange(ref _lastTick, Environment.TickCount64);

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
