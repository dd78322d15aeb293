namespace Relay.Core;

/// <summary>
/// Another Relay process is reading this source's position (PostgreSQL: the slot is active). This one is a standby:
/// it waits and tries again, taking over when the active one goes away.
/// </summary>
public sealed class StandbyException(string message, Exception? innerException = null) : Exception(message, innerException);
