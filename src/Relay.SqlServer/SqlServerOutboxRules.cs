using Relay.Core;

namespace Relay.SqlServer;

/// <summary>
/// What <c>Relay:Outbox</c> may not ask of the SQL Server source: logical decoding messages and the first-start snapshot
/// are PostgreSQL features. Refused at start (exit 2), naming the key, rather than ignored.
/// </summary>
sealed class SqlServerOutboxRules() : SectionOptionsValidator<OutboxOptions>(OutboxOptions.Section)
{
    protected override IEnumerable<string> Rules(OutboxOptions options)
    {
        if (options.Messages.Count > 0)
            yield return $"{Section}:Messages: pg_logical_emit_message prefixes are a PostgreSQL feature; with Relay:Source SqlServer write the events to an outbox table";
        foreach (var (table, index) in options.Tables.Select((t, i) => (t, i)).Where(t => t.t.PublishExistingRowsOnFirstStart))
            yield return $"{Section}:Tables:{index}:PublishExistingRowsOnFirstStart: is a PostgreSQL feature (the snapshot a new replication slot exports); " +
                         $"with SQL Server, CDC publishes what its capture instance for {table.Table} holds from its start";
    }
}
