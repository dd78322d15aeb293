namespace Relay.Core;

/// <summary>
/// A problem an operator must fix (configuration, database prerequisites). Relay stops with a non-zero exit code
/// instead of retrying, and the message says what to change.
/// </summary>
public sealed class RelayConfigurationException(string message, Exception? innerException = null)
    : Exception(message, innerException);
