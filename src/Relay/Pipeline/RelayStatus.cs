namespace Relay.Pipeline;

/// <summary>
/// How the relay ended. On .NET 10 a stopped host exits 0 even after a worker failed, so the worker records the code
/// here and <c>Program</c> returns it: Kubernetes then sees a crash, not a clean exit.
/// </summary>
public sealed class RelayStatus
{
    /// <summary>0 while healthy or after a clean stop; 1 after a fatal error.</summary>
    public int ExitCode { get; private set; }

    public string? FatalError { get; private set; }

    public void SetFatal(string error)
    {
        FatalError = error;
        ExitCode = 1;
    }
}
