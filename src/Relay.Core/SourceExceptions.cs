namespace Relay.Core;

/// <summary>
/// The database cannot be reached or refused the connection. At start-up Relay exits with this message (so the
/// orchestrator shows the problem at once); once it has streamed, Relay reconnects with backoff instead.
/// </summary>
public sealed class SourceUnavailableException(string message, Exception? innerException = null)
    : Exception(message, innerException);

/// <summary>
/// Another Relay process is reading this source's position (PostgreSQL: the slot is active). This one is a standby:
/// it waits and tries again, taking over when the active one goes away.
/// </summary>
public sealed class StandbyException(string message, Exception? innerException = null) : Exception(message, innerException);
