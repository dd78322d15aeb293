using Relay.Core;

namespace Relay.Pipeline;

/// <summary>What the current connected run shows metrics and health, read at any time from any thread.</summary>
public interface IRunSnapshot
{
    int InFlightMessages { get; }
    long InFlightBytes { get; }

    /// <summary>Since a source position last became fully acknowledged (grows while Kafka stalls).</summary>
    TimeSpan SinceLastConfirmable { get; }

    /// <summary>The newest position the source has sent.</summary>
    SourcePosition Received { get; }

    /// <summary>How far the confirmed position is behind the source: the age of the oldest received, unconfirmed transaction.</summary>
    TimeSpan BehindSource { get; }
}
