using System.Runtime.InteropServices;

namespace Relay.Republish;

/// <summary>
/// The first SIGINT/SIGTERM stops reading and waits (up to the drain timeout) for what is in flight; the second stops
/// waiting. Either way the run reports how far it got.
/// </summary>
sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource _interrupt = new(), _abandon = new();
    readonly PosixSignalRegistration[] _registrations;
    readonly TextWriter _output;
    readonly TimeSpan _drainTimeout;
    int _signal;

    public StopSignals(TextWriter output, TimeSpan drainTimeout)
    {
        (_output, _drainTimeout) = (output, drainTimeout);
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        ];
    }

    public CancellationToken Interrupt => _interrupt.Token;
    public CancellationToken Abandon => _abandon.Token;

    /// <summary>128 + the signal's number, as shells report a process a signal stopped.</summary>
    public int ExitCode => 128 + (_signal == 0 ? 2 : _signal);

    void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true;   // the run stops itself, and reports
        if (Interlocked.CompareExchange(ref _signal, context.Signal == PosixSignal.SIGTERM ? 15 : 2, 0) == 0)
        {
            _output.WriteLine();
            _output.WriteLine($"Stopping: no more rows are read; waiting up to {_drainTimeout.TotalSeconds:0} s for Kafka to acknowledge what was sent " +
                              "(press Ctrl-C again to stop waiting).");
            _interrupt.Cancel();
        }
        else
            _abandon.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations)
            registration.Dispose();
        _interrupt.Dispose();
        _abandon.Dispose();
    }
}
