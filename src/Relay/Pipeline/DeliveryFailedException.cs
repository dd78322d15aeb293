namespace Relay.Pipeline;

/// <summary>The broker did not take a message (after librdkafka's own retries). The run restarts from the last confirmed position.</summary>
public sealed class DeliveryFailedException(string message, Exception? inner = null) : Exception(message, inner);
