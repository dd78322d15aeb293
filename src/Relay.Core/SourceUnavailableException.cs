namespace Relay.Core;

/// <summary>
/// The database cannot be reached or refused the connection. At start-up Relay exits with this message (so the
/// orchestrator shows the problem at once); once it has streamed, Relay reconnects with backoff instead.
/// </summary>
public sealed class SourceUnavailableException(string message, Exception? innerException = null)
    : Exception(message, innerException);
