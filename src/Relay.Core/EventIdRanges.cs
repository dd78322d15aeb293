namespace Relay.Core;

/// <summary>
/// Where each part of Relay numbers its log events (<c>[LoggerMessage(EventIdRanges.Postgres + 5, …)]</c>): an event id
/// is stable across releases, so alerts and log queries can match it instead of the wording.
/// </summary>
public static class EventIdRanges
{
    /// <summary>Start, stop, standby, fatal errors: 1000–1099.</summary>
    public const int Lifecycle = 1000;

    /// <summary>Checkpointing, stalls, dead letters: 1100–1199.</summary>
    public const int Pipeline = 1100;

    /// <summary>The Kafka producer: 1200–1299.</summary>
    public const int Kafka = 1200;

    /// <summary><c>relay republish</c>: 1300–1399.</summary>
    public const int Republish = 1300;

    /// <summary>The PostgreSQL source: 2000–2999.</summary>
    public const int Postgres = 2000;

    /// <summary>The SQL Server source: 3000–3999.</summary>
    public const int SqlServer = 3000;
}
