using System.Buffers.Binary;
using System.Text;
using Relay.Core;

namespace Relay.Postgres;

/// <summary>
/// Decodes pgoutput messages (protocol version 1,
/// https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html) straight from the bytes of the
/// replication stream into one reused <see cref="OutboxRow"/>: one copy per mapped value and nothing else allocated per
/// message, where Npgsql's message objects cost an async enumerator and a stream per column. Logical decoding messages
/// (<c>pg_logical_emit_message</c>, with pgoutput's <c>messages</c> option) of a configured prefix decode into the same row.
/// </summary>
sealed class PgOutputDecoder
{
    public enum Result { Other, Begin, Insert, Commit, Message, UnknownTable }

    // 2000-01-01 UTC, PostgreSQL's epoch for timestamps on the wire (microseconds since).
    static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    readonly Dictionary<(string Schema, string Name), OutboxTableMapping> _tablesByName;
    readonly IReadOnlyDictionary<(string Table, string Column), PgType> _knownTypes;
    // Per relation id: the mapping, and per column of the relation where its value goes in the row (-1: unused).
    readonly Dictionary<uint, RelationPlan> _relations = [];
    // Relations described that are not outbox tables (schema, name), until one of their inserts arrives.
    readonly Dictionary<uint, (string Schema, string Name)> _otherRelations = [];
    readonly Action<OutboxTableMapping, IReadOnlyList<MappedColumn>>? _absentColumns;
    readonly Dictionary<string, OutboxTableMapping> _messagesByPrefix;

    /// <param name="tables">The outbox tables; other relations are skipped.</param>
    /// <param name="knownTypes">
    /// Each mapped column's type as read from the catalog before streaming (a domain as its base type), so values in
    /// binary format can be turned back into the text Relay publishes.
    /// </param>
    /// <param name="absentColumns">Told when a table's description lacks optional mapped columns (their headers are left out).</param>
    /// <param name="messages">The message prefixes to publish; messages with other prefixes (Relay's heartbeat) are skipped.</param>
    public PgOutputDecoder(IReadOnlyList<OutboxTableMapping> tables, IReadOnlyDictionary<(string Table, string Column), PgType>? knownTypes = null,
        Action<OutboxTableMapping, IReadOnlyList<MappedColumn>>? absentColumns = null, IReadOnlyList<OutboxTableMapping>? messages = null)
    {
        _absentColumns = absentColumns;
        _tablesByName = tables.ToDictionary(t => (t.Schema, t.Name));
        _messagesByPrefix = (messages ?? []).ToDictionary(m => m.MessagePrefix!, StringComparer.Ordinal);
        _knownTypes = knownTypes ?? new Dictionary<(string, string), PgType>();
        Row = new OutboxRow(tables.Concat(messages ?? []).Max(t => t.Columns.Count));
    }

    /// <summary>The row of the last <see cref="Result.Insert"/>; valid until the next message.</summary>
    public OutboxRow Row { get; }

    /// <summary>The relation of the last <see cref="Result.UnknownTable"/>: an insert published, but not into an outbox table of Relay's.</summary>
    public (string Schema, string Name) UnknownTable { get; private set; }

    /// <summary>End of the last commit: everything before it has been decoded.</summary>
    public SourcePosition CommitEnd { get; private set; }

    public Result Decode(ReadOnlySpan<byte> message)
    {
        if (message.IsEmpty)
            return Result.Other;
        switch (message[0])
        {
            case (byte)'B':
                // Int64 final LSN of the transaction, Int64 commit time, Int32 xid.
                Row.Position = new SourcePosition(BinaryPrimitives.ReadUInt64BigEndian(message[1..]));
                Row.CommitTimestamp = PostgresEpoch.AddTicks(BinaryPrimitives.ReadInt64BigEndian(message[9..]) * 10);
                return Result.Begin;
            case (byte)'C':
                // Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit time.
                CommitEnd = new SourcePosition(BinaryPrimitives.ReadUInt64BigEndian(message[10..]));
                return Result.Commit;
            case (byte)'R':
                OnRelation(message[1..]);
                return Result.Other;
            case (byte)'I':
                return ReadInsert(message[1..]);
            case (byte)'M':
                return ReadMessage(message[1..]) ? Result.Message : Result.Other;
            default:
                // Origin, type, and (if the publication publishes them) update, delete and truncate: not outbox inserts.
                return Result.Other;
        }
    }

    /// <returns>False for a relation that is not an outbox table (its inserts are skipped).</returns>
    void OnRelation(ReadOnlySpan<byte> message)
    {
        // Int32 relation id, String namespace, String name, Int8 replica identity, Int16 column count, then per column
        // Int8 flags, String name, Int32 type OID, Int32 type modifier.
        var relationId = BinaryPrimitives.ReadUInt32BigEndian(message);
        var reader = new SpanReader(message[4..]);
        var schema = reader.String();
        var name = reader.String();
        reader.Skip(1);
        if (!_tablesByName.TryGetValue((schema, name), out var table))
        {
            // Described, but its inserts may never come: a partition published via its root is described too, its rows
            // arrive under the root's relation. Only an insert of it says the server publishes rows Relay would skip.
            _relations.Remove(relationId);
            _otherRelations[relationId] = (schema, name);
            return;
        }
        var count = reader.Int16();
        var targets = new int[count];
        var types = new PgType[count];
        for (var i = 0; i < count; i++)
        {
            reader.Skip(1);
            var column = reader.String();
            var typeOid = reader.UInt32();
            reader.Skip(4);
            targets[i] = FindColumn(table, column);
            // The catalog's base type when the column still has the type it had then (a domain reports its own OID).
            types[i] = _knownTypes.TryGetValue((table.QualifiedName, column), out var known) && known.Oid == typeOid
                ? known
                : new PgType(typeOid, typeOid);
        }
        // Rows written before a header column was added (ALTER TABLE … ADD COLUMN while they waited) have no value for
        // it: they publish without that header. A column that makes the message (id, key, payload, topic) cannot be
        // missing: stop with the key to fix rather than publish incomplete messages.
        var absent = Enumerable.Range(0, table.Columns.Count).Where(index => !targets.Contains(index)).ToArray();
        if (absent.FirstOrDefault(index => !table.IsOptional(index), -1) is var required and >= 0)
            throw new RelayConfigurationException(
                $"{table.Columns[required].ConfigurationKey}: column '{table.Columns[required].Name}' is not in table '{table.QualifiedName}' " +
                "as the server describes it for these rows (the table was altered while Relay was running).");
        if (absent.Length > 0)
            _absentColumns?.Invoke(table, absent.Select(index => table.Columns[index]).ToList());
        _otherRelations.Remove(relationId);
        _relations[relationId] = new RelationPlan(table, targets, types, absent);
    }

    static int FindColumn(OutboxTableMapping table, string name)
    {
        for (var i = 0; i < table.Columns.Count; i++)
        {
            if (table.Columns[i].Name == name)
                return i;
        }
        return -1;
    }

    Result ReadInsert(ReadOnlySpan<byte> message)
    {
        // Int32 relation id, Byte1 'N', TupleData: Int16 column count, then per column Byte1 kind ('n' null,
        // 'u' unchanged TOAST, 't' text, 'b' binary) and for 't'/'b' Int32 length and the bytes.
        var relationId = BinaryPrimitives.ReadUInt32BigEndian(message);
        if (!_relations.TryGetValue(relationId, out var plan))
        {
            if (!_otherRelations.TryGetValue(relationId, out var other))
                return Result.Other;
            UnknownTable = other;
            return Result.UnknownTable;
        }
        var row = Row;
        row.Table = plan.Table;
        row.Problem = null;
        row.EnsureCapacity(plan.Table.Columns.Count);
        foreach (var absent in plan.Absent)
            row.Values[absent] = null;
        var reader = new SpanReader(message[5..]);
        var count = reader.Int16();
        for (var column = 0; column < count; column++)
        {
            var kind = reader.Byte();
            if (kind is (byte)'n' or (byte)'u')
            {
                // An INSERT carries every column; 'u' only appears in updates.
                if (plan.Targets[column] >= 0)
                    row.Values[plan.Targets[column]] = null;
                continue;
            }
            var value = reader.Bytes(reader.Int32());
            if (plan.Targets[column] >= 0)
                row.Values[plan.Targets[column]] = kind == (byte)'b' ? PgValues.FromBinary(plan.Types[column], value) : PgValues.FromText(plan.Types[column], value);
        }
        return Result.Insert;
    }

    bool ReadMessage(ReadOnlySpan<byte> message)
    {
        // Int8 flags (1: transactional), Int64 LSN of the message, String prefix, Int32 length, Byte[n] content
        // (protocol 1: no transaction id).
        var transactional = (message[0] & 1) != 0;
        var lsn = new SourcePosition(BinaryPrimitives.ReadUInt64BigEndian(message[1..]));
        var reader = new SpanReader(message[9..]);
        var prefix = reader.String();
        if (!_messagesByPrefix.TryGetValue(prefix, out var mapping))
            return false;
        var content = reader.Bytes(reader.Int32());
        var row = Row;
        row.Table = mapping;
        var problem = OutboxMessageContent.Read(row, content);
        if (!transactional)
        {
            // Outside any transaction: the position is the message's own, and no commit follows it.
            row.Position = lsn;
            row.CommitTimestamp = DateTime.UtcNow;
            row.Values[mapping.PayloadColumn] = content.ToArray();   // the WAL holds the only copy: dead-letter all of it
            problem = "it was emitted non-transactionally (pg_logical_emit_message(false, …)): it belongs to no transaction, so Relay " +
                      "cannot order or confirm it with one, and it was written even if its transaction rolled back; emit it with " +
                      "transactional = true";
        }
        row.Problem = problem is null ? null : $"{problem} (message at {Lsn.Format(lsn)})";
        return true;
    }

    /// <summary>
    /// A relation's plan: its table, where each of its columns goes in the row (-1: unused), their types, and the
    /// optional mapped columns it lacks (their values are NULL).
    /// </summary>
    sealed record RelationPlan(OutboxTableMapping Table, int[] Targets, PgType[] Types, int[] Absent);

    ref struct SpanReader(ReadOnlySpan<byte> span)
    {
        ReadOnlySpan<byte> _rest = span;

        public byte Byte()
        {
            var value = _rest[0];
            _rest = _rest[1..];
            return value;
        }

        public short Int16()
        {
            var value = BinaryPrimitives.ReadInt16BigEndian(_rest);
            _rest = _rest[2..];
            return value;
        }

        public int Int32()
        {
            var value = BinaryPrimitives.ReadInt32BigEndian(_rest);
            _rest = _rest[4..];
            return value;
        }

        public uint UInt32() => (uint)Int32();

        public void Skip(int count) => _rest = _rest[count..];

        public ReadOnlySpan<byte> Bytes(int count)
        {
            var value = _rest[..count];
            _rest = _rest[count..];
            return value;
        }

        /// <summary>A null-terminated string.</summary>
        public string String()
        {
            var end = _rest.IndexOf((byte)0);
            var value = Encoding.UTF8.GetString(_rest[..end]);
            _rest = _rest[(end + 1)..];
            return value;
        }
    }
}
