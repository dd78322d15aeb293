using System.ComponentModel.DataAnnotations;

namespace Relay.Core;

/// <summary>The outbox tables Relay publishes (configuration section <c>Relay:Outbox</c>).</summary>
public sealed class OutboxOptions
{
    public const string Section = "Relay:Outbox";

    /// <summary>The outbox tables. Several tables can feed one relay; at least one table or message prefix is configured.</summary>
    public List<OutboxTableOptions> Tables { get; set; } = [];

    /// <summary>
    /// Table-less outbox (PostgreSQL 14+): the prefixes of <c>pg_logical_emit_message(true, prefix, content)</c> messages
    /// Relay publishes, each mapped from the fields of its JSON content. Default none.
    /// </summary>
    public List<OutboxMessageOptions> Messages { get; set; } = [];
}

/// <summary>
/// How the rows of one outbox table become Kafka messages. Defaults follow Debezium's Outbox Event Router
/// (<c>id</c>, <c>aggregatetype</c>, <c>aggregateid</c>, <c>type</c>, <c>payload</c>).
/// </summary>
public sealed class OutboxTableOptions : OutboxMappingOptions
{
    /// <summary>Schema-qualified table name as stored in the catalog, e.g. <c>public.outbox</c>. Required.</summary>
    [Required]
    public string Table { get; set; } = "";

    /// <summary>
    /// PostgreSQL: when Relay creates its slot (a first start), publish the rows already in the table as of the slot's
    /// consistent point (read in the snapshot the slot exports), then stream what commits after it: every row once.
    /// Default <c>false</c>: only rows committed after the slot was created are published.
    /// </summary>
    public bool PublishExistingRowsOnFirstStart { get; set; }

    /// <summary>
    /// The column the first-start snapshot reads existing rows in the order of (e.g. <c>created_at</c>), so one key's
    /// events keep their order. Default: <c>created_at</c> when the table has it, otherwise the order rows lie in the
    /// table (insertion order for a table that is only inserted into).
    /// </summary>
    public string? ExistingRowsOrderColumn { get; set; }

    /// <summary>
    /// For <c>relay republish</c> only (the daemon does not read it): the column that orders the table's rows as they
    /// were inserted — a timestamp or a sequence — by which <c>--from</c>/<c>--to</c> (a timestamptz column) and
    /// <c>--from-value</c>/<c>--to-value</c> select rows, and in which order they are sent (ties broken by
    /// <see cref="OutboxMappingOptions.EventIdColumn"/>). Default <c>created_at</c>, when the table has it.
    /// </summary>
    public string? RepublishOrderColumn { get; set; }
}

/// <summary>
/// One prefix of <c>pg_logical_emit_message</c> messages (the table-less outbox): a message with this prefix becomes a
/// Kafka message, mapped as a table's row would be, from the top-level fields of its JSON content (the "column" keys
/// name fields: <c>id</c>, <c>aggregatetype</c>, <c>aggregateid</c>, <c>type</c>, <c>payload</c> by default).
/// </summary>
public sealed class OutboxMessageOptions : OutboxMappingOptions
{
    /// <summary>The message prefix, matched exactly, e.g. <c>outbox</c>. Required; prefixes starting with <c>relay.</c> are Relay's own.</summary>
    [Required]
    public string Prefix { get; set; } = "";
}

/// <summary>
/// The mapping vocabulary tables and message prefixes share: which column (for a message, which field of its JSON
/// content) makes the event id, key, type, payload and headers, the topic, and what happens to one that cannot be
/// published.
/// </summary>
public abstract class OutboxMappingOptions
{
    /// <summary>Column whose value goes into the <c>id</c> header (consumers drop duplicates by it). Default <c>id</c>.</summary>
    [Required]
    public string EventIdColumn { get; set; } = "id";

    /// <summary>Column whose value is the message key, the shard key that keeps per-aggregate order. Default <c>aggregateid</c>.</summary>
    [Required]
    public string KeyColumn { get; set; } = "aggregateid";

    /// <summary>Column whose value goes into the <c>type</c> header; empty to leave it out. Default <c>type</c>.</summary>
    public string? TypeColumn { get; set; } = "type";

    /// <summary>Column whose bytes become the message value (json/jsonb/text as UTF-8, bytea raw). Default <c>payload</c>.</summary>
    [Required]
    public string PayloadColumn { get; set; } = "payload";

    /// <summary>A fixed topic for every row of this table. When set, <see cref="TopicTemplate"/> is not used.</summary>
    public string? Topic { get; set; }

    /// <summary>
    /// Topic routed by column values: <c>{column}</c> is replaced by that column's value.
    /// Default <c>outbox.event.{aggregatetype}</c>.
    /// </summary>
    public string TopicTemplate { get; set; } = "outbox.event.{aggregatetype}";

    /// <summary>Further columns copied into headers of the same name (e.g. <c>tenant</c>, <c>traceparent</c>). Default none.</summary>
    public List<string> HeaderColumns { get; set; } = [];

    /// <summary>
    /// What to do with a row that cannot be published (NULL key or event id, invalid routed topic, message too large,
    /// payload not JSON where <see cref="PayloadFormat"/> is Json). <c>Stop</c> (default): halt with a clear error,
    /// confirming nothing past the row. <c>DeadLetter</c>: publish it to <see cref="DeadLetterTopic"/> with headers naming
    /// table, position, event id and reason, then go on. Never dropped silently.
    /// </summary>
    public UnpublishableRowPolicy OnUnpublishableRow { get; set; } = UnpublishableRowPolicy.Stop;

    /// <summary>Topic for rows that cannot be published; required with <c>OnUnpublishableRow = DeadLetter</c>.</summary>
    public string? DeadLetterTopic { get; set; }

    /// <summary><c>Any</c> (default): the payload's bytes go as they are. <c>Json</c>: a payload that is not valid JSON cannot be published.</summary>
    public PayloadFormat PayloadFormat { get; set; } = PayloadFormat.Any;

    /// <summary>
    /// A NULL payload: <c>Tombstone</c> (default) publishes a message with the key and no value (what compacted topics
    /// read as a delete, like Debezium's <c>route.tombstone.on.empty.payload</c>); <c>Unpublishable</c> treats the row as
    /// one that cannot be published.
    /// </summary>
    public NullPayloadHandling NullPayload { get; set; } = NullPayloadHandling.Tombstone;
}

public enum UnpublishableRowPolicy { Stop, DeadLetter }

public enum PayloadFormat { Any, Json }

public enum NullPayloadHandling { Tombstone, Unpublishable }
