using System.ComponentModel.DataAnnotations;

namespace Relay.Postgres;

/// <summary>The PostgreSQL source (configuration section <c>Relay:Postgres</c>).</summary>
public sealed class PostgresSourceOptions
{
    public const string Section = "Relay:Postgres";

    /// <summary>
    /// Npgsql connection string of a role with the REPLICATION attribute (and CREATE on the database when Relay creates
    /// the publication). Required. Put the password in an environment variable, not in the file.
    /// </summary>
    [Required]
    public string ConnectionString { get; set; } = "";

    /// <summary>Publication listing the outbox tables, <c>publish = 'insert'</c>. Default <c>relay_outbox</c>.</summary>
    [Required, RegularExpression("^[a-z_][a-z0-9_]{0,62}$", ErrorMessage = "must be 1-63 characters of a-z, 0-9 and _, starting with a letter or _")]
    public string PublicationName { get; set; } = "relay_outbox";

    /// <summary>Permanent logical replication slot (plugin pgoutput) that holds Relay's position. Default <c>relay_outbox</c>.</summary>
    [Required, RegularExpression("^[a-z0-9_]{1,63}$", ErrorMessage = "must be 1-63 characters of a-z, 0-9 and _ (PostgreSQL's rule for slot names)")]
    public string SlotName { get; set; } = "relay_outbox";

    /// <summary>Create the publication when it does not exist. Default <c>true</c>.</summary>
    public bool CreatePublication { get; set; } = true;

    /// <summary>
    /// Create the replication slot when it does not exist (a first start). Default <c>true</c>. A slot that Relay used
    /// before and is gone is a different case: see <see cref="OnLostSlot"/>.
    /// </summary>
    public bool CreateSlot { get; set; } = true;

    /// <summary>
    /// When the slot Relay streamed through before is gone (dropped, a failover to a server without it, pg_upgrade before
    /// PostgreSQL 17), rows committed in between were not published. <c>Recreate</c> (default): log an error saying so
    /// (event 2012), set <c>relay_replication_slot_recreated</c>, create a new slot and go on publishing new rows;
    /// <c>Stop</c>: exit 1 and leave the decision to an operator.
    /// </summary>
    public LostSlotPolicy OnLostSlot { get; set; } = LostSlotPolicy.Recreate;

    /// <summary>
    /// How long creating the slot may wait for transactions that were open when it began (PostgreSQL waits for every
    /// transaction with an id); then Relay stops (exit 1) naming them and the statement that ends them. Default 15 s.
    /// </summary>
    public TimeSpan SlotCreationTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// While no outbox row arrives, how often the server's reported WAL position is taken as processed, so the slot's
    /// confirmed position follows other tables' writes and the server does not retain WAL for Relay. Default 1 s; while
    /// the position stands still the wait doubles, up to 10 s, and the next message or move restores it.
    /// </summary>
    public TimeSpan IdleAcknowledgeInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// When set, Relay writes a tiny non-transactional WAL message (<c>pg_logical_emit_message</c>) this often, so that
    /// even a database with no writes at all moves the slot forward and the server can recycle WAL. Default off.
    /// </summary>
    public TimeSpan? HeartbeatInterval { get; set; }

    /// <summary>
    /// Ask pgoutput for values in binary format (PostgreSQL 14 and later) when every mapped column's type allows it
    /// (text types, json, jsonb, bytea, uuid, smallint, integer, bigint, and domains over them). The server then skips
    /// formatting values as text, including the columns Relay does not publish; the published bytes are the same.
    /// Default <c>true</c>; Relay falls back to text by itself otherwise.
    /// </summary>
    public bool BinaryValues { get; set; } = true;

    /// <summary>How often the slot's retained WAL is sampled (on an ordinary connection) for <c>relay_replication_slot_lag_bytes</c>. Default 10 s.</summary>
    public TimeSpan LagSampleInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often Npgsql sends a standby status update on its own, besides Relay's confirmations
    /// (<c>wal_receiver_status_interval</c>). Default 10 s.
    /// </summary>
    public TimeSpan WalReceiverStatusInterval { get; set; } = TimeSpan.FromSeconds(10);
}

public enum LostSlotPolicy { Recreate, Stop }
