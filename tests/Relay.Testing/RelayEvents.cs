namespace Relay.Testing;

/// <summary>
/// The relay's log event ids, as its source-generated <c>[LoggerMessage]</c> methods declare them: tests assert these,
/// not the wording of a message. Each constant is named after its method (checked by <c>RelayEventsTests</c>).
/// </summary>
public static class RelayEvents
{
    // src/Relay/Pipeline/Log.cs, Kafka/Log.cs, Diagnostics/Log.cs (1000–1299): host, pipeline, Kafka.
    public const int Starting = 1000;
    public const int Draining = 1001;
    public const int DrainTimedOut = 1002;
    public const int Stopped = 1003;
    public const int Fatal = 1004;
    public const int RunFailed = 1005;
    public const int Standby = 1007;
    public const int TookOver = 1008;
    public const int DiagnosticsRequestFailed = 1009;
    public const int Progress = 1100;
    public const int ConfirmFailed = 1101;
    public const int Stalled = 1102;
    public const int StallEnded = 1103;
    public const int DeadLettered = 1104;
    public const int ProducerError = 1200;
    public const int ProducerFatalError = 1201;
    public const int Librdkafka = 1202;
    public const int DeliveryFailed = 1203;
    public const int ProducerConnectionError = 1204;
    public const int LingerBelowRoundTrip = 1205;

    // src/Relay/Republish/Log.cs (1300–1399): relay republish.
    public const int RepublishStarting = 1300;
    public const int RepublishCompleted = 1301;
    public const int RepublishInterrupted = 1302;
    public const int RepublishFailed = 1303;
    public const int RepublishFoundNothing = 1304;
    public const int RepublishRowsUnavailable = 1305;

    // src/Relay.Postgres/Log.cs (2000–2999): the PostgreSQL source.
    public const int Connected = 2000;
    public const int PublicationCreated = 2001;
    public const int SlotCreated = 2003;
    public const int SlotFound = 2004;
    public const int StreamingStarted = 2005;
    public const int Confirmed = 2006;
    public const int SlotCreatedConcurrently = 2007;
    public const int HeartbeatFailed = 2008;
    public const int TextValues = 2009;
    public const int PrerequisiteWarning = 2010;
    public const int CatalogChanged = 2011;
    public const int SlotLost = 2012;
    public const int SlotNotNoted = 2013;
    public const int ColumnsAbsent = 2014;
    public const int UnconfiguredTableSkipped = 2015;
    public const int SnapshotStarting = 2020;
    public const int SnapshotTableRead = 2021;
    public const int SnapshotRestarted = 2022;
    public const int SnapshotCompleted = 2023;

    // src/Relay.SqlServer/Log.cs (3000–3999): the SQL Server CDC source.
    public const int ReadingInstance = 3000;
    public const int Streaming = 3001;
    public const int ResumingAfterGap = 3002;
    public const int SeveralInstances = 3003;
}
