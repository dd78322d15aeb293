using System.Text;

namespace Relay.Core;

/// <summary>
/// A table's mapping resolved once at start: the distinct columns a source must read, and where each role finds its
/// value among them. Built from <see cref="OutboxTableOptions"/>; problems are collected, each naming its key. A prefix of
/// <c>pg_logical_emit_message</c> messages (<see cref="OutboxMessageOptions"/>) resolves to the same shape: its
/// "columns" are fields of the message's JSON content.
/// </summary>
public sealed class OutboxTableMapping
{
    /// <summary>What names a message prefix's mapping where a table's name would go (metrics, dead-letter headers).</summary>
    public const string MessageNamePrefix = "message:";

    OutboxTableMapping(int index, OutboxMappingOptions options, string schema, string name, string? messagePrefix = null)
    {
        Index = index;
        Options = options;
        Schema = schema;
        Name = name;
        MessagePrefix = messagePrefix;
    }

    /// <summary>Position in <c>Relay:Outbox:Tables</c> (or <c>Messages</c>), used to name configuration keys in errors.</summary>
    public int Index { get; }
    public OutboxMappingOptions Options { get; }
    public string Schema { get; }
    public string Name { get; }

    /// <summary>The <c>pg_logical_emit_message</c> prefix this mapping publishes; null for a table.</summary>
    public string? MessagePrefix { get; }

    public bool IsMessage => MessagePrefix is not null;

    /// <summary><c>schema.table</c>, or <c>message:prefix</c> for a message prefix (the <c>table</c> label of metrics).</summary>
    public string QualifiedName => MessagePrefix is { } prefix ? MessageNamePrefix + prefix : $"{Schema}.{Name}";

    public string ConfigurationKey => $"{OutboxOptions.Section}:{(IsMessage ? "Messages" : "Tables")}:{Index}";

    /// <summary>How errors name one of its rows: <c>Row in public.outbox</c>, <c>Message with prefix 'outbox'</c>.</summary>
    public string RowDescription => MessagePrefix is { } prefix ? $"Message with prefix '{prefix}'" : $"Row in {QualifiedName}";

    /// <summary>Whether the first-start snapshot publishes the table's existing rows (tables only).</summary>
    public bool PublishExistingRowsOnFirstStart => Options is OutboxTableOptions { PublishExistingRowsOnFirstStart: true };

    /// <summary>The columns a source reads for this table, each once.</summary>
    public IReadOnlyList<MappedColumn> Columns => _columns;
    readonly List<MappedColumn> _columns = [];

    public int EventIdColumn { get; private set; }
    public int KeyColumn { get; private set; }
    /// <summary>-1 when no type header is configured.</summary>
    public int TypeColumn { get; private set; } = -1;
    public int PayloadColumn { get; private set; }
    /// <summary>Header name and column for each extra header.</summary>
    public IReadOnlyList<(string Header, int Column)> HeaderColumns { get; private set; } = [];
    /// <summary>The fixed topic, or null when the topic is routed by <see cref="TopicTemplate"/>.</summary>
    public string? FixedTopic { get; private set; }
    public TopicTemplate? TopicTemplate { get; private set; }

    /// <summary>The column <c>relay republish</c> orders and selects rows by: <see cref="OutboxTableOptions.RepublishOrderColumn"/> or <c>created_at</c>.</summary>
    public string RepublishOrderColumn => (Options as OutboxTableOptions)?.RepublishOrderColumn ?? DefaultRepublishOrderColumn;

    /// <summary>Whether <see cref="RepublishOrderColumn"/> was configured (rather than the default, used only when the table has it).</summary>
    public bool RepublishOrderColumnConfigured => (Options as OutboxTableOptions)?.RepublishOrderColumn is not null;

    public const string DefaultRepublishOrderColumn = "created_at";

    /// <summary>
    /// Resolves every configured table. Each problem found is added to <paramref name="problems"/>, naming its key, and
    /// resolution goes on, so one start-up reports them all.
    /// </summary>
    public static IReadOnlyList<OutboxTableMapping> Create(OutboxOptions options, ICollection<string> problems)
    {
        if (options.Tables.Count == 0 && options.Messages.Count == 0)
            problems.Add($"{OutboxOptions.Section}:Tables: configure at least one outbox table (or a message prefix in {OutboxOptions.Section}:Messages).");
        var mappings = options.Tables.Select((table, index) => Create(table, index, problems)).OfType<OutboxTableMapping>().ToList();
        foreach (var duplicate in mappings.GroupBy(m => m.QualifiedName).Where(g => g.Count() > 1))
            problems.Add($"{OutboxOptions.Section}:Tables: table '{duplicate.Key}' is configured more than once.");
        return mappings;
    }

    /// <summary>Resolves every configured message prefix, collecting problems as <see cref="Create(OutboxOptions, ICollection{string})"/> does.</summary>
    public static IReadOnlyList<OutboxTableMapping> CreateMessages(OutboxOptions options, ICollection<string> problems)
    {
        var mappings = options.Messages.Select((message, index) => Create(message, index, problems)).OfType<OutboxTableMapping>().ToList();
        foreach (var duplicate in mappings.GroupBy(m => m.MessagePrefix).Where(g => g.Count() > 1))
            problems.Add($"{OutboxOptions.Section}:Messages: prefix '{duplicate.Key}' is configured more than once.");
        return mappings;
    }

    /// <summary>Prefixes of the logical decoding messages Relay writes itself (its heartbeat is <c>relay.heartbeat</c>).</summary>
    public const string ReservedMessagePrefix = "relay.";

    /// <summary>Resolves one message prefix, or returns null when the prefix is missing or reserved (the problems say why).</summary>
    public static OutboxTableMapping? Create(OutboxMessageOptions options, int index, ICollection<string> problems)
    {
        var key = $"{OutboxOptions.Section}:Messages:{index}";
        if (string.IsNullOrEmpty(options.Prefix))
        {
            problems.Add($"{key}:Prefix: is required (the prefix the application passes to pg_logical_emit_message, e.g. outbox).");
            return null;
        }
        if (options.Prefix.StartsWith(ReservedMessagePrefix, StringComparison.Ordinal))
        {
            problems.Add($"{key}:Prefix: '{options.Prefix}' starts with '{ReservedMessagePrefix}', which Relay keeps for its own messages (its heartbeat); choose another prefix.");
            return null;
        }
        var mapping = new OutboxTableMapping(index, options, "", "", options.Prefix);
        mapping.Resolve(options, key, problems);
        return mapping;
    }

    /// <summary>Resolves one table, or returns null when its name cannot be parsed (the problems say why).</summary>
    public static OutboxTableMapping? Create(OutboxTableOptions options, int index, ICollection<string> problems)
    {
        var key = $"{OutboxOptions.Section}:Tables:{index}";
        if (ParseTableName(options.Table, $"{key}:Table", problems) is not var (schema, name))
            return null;
        var mapping = new OutboxTableMapping(index, options, schema, name);
        if (options.ExistingRowsOrderColumn is { Length: > 0 } order && string.IsNullOrWhiteSpace(order))
            problems.Add($"{key}:ExistingRowsOrderColumn: a column name is required, or leave the key out.");
        mapping.Resolve(options, key, problems);
        return mapping;
    }

    /// <summary>Resolves the roles, headers, topic and policy shared by tables and message prefixes.</summary>
    void Resolve(OutboxMappingOptions options, string key, ICollection<string> problems)
    {
        EventIdColumn = AddColumn(options.EventIdColumn, $"{key}:EventIdColumn", problems);
        KeyColumn = AddColumn(options.KeyColumn, $"{key}:KeyColumn", problems);
        PayloadColumn = AddColumn(options.PayloadColumn, $"{key}:PayloadColumn", problems);
        if (!string.IsNullOrWhiteSpace(options.TypeColumn))
            TypeColumn = AddColumn(options.TypeColumn, $"{key}:TypeColumn", problems);
        HeaderColumns = options.HeaderColumns
            .Select((column, i) => (column, AddColumn(column, $"{key}:HeaderColumns:{i}", problems)))
            .ToList();

        if ((options as OutboxTableOptions)?.RepublishOrderColumn is { } orderColumn && string.IsNullOrWhiteSpace(orderColumn))
            problems.Add($"{key}:RepublishOrderColumn: name the column that orders the rows as inserted (a timestamp or a sequence), " +
                         $"or remove the key to use '{DefaultRepublishOrderColumn}'.");

        if (options.OnUnpublishableRow == UnpublishableRowPolicy.DeadLetter)
        {
            if (string.IsNullOrWhiteSpace(options.DeadLetterTopic))
                problems.Add($"{key}:DeadLetterTopic: is required when {key}:OnUnpublishableRow is DeadLetter.");
            else if (!Core.TopicTemplate.IsValidTopicName(options.DeadLetterTopic))
                problems.Add($"{key}:DeadLetterTopic: '{options.DeadLetterTopic}' is not a valid Kafka topic name.");
        }

        if (!string.IsNullOrWhiteSpace(options.Topic))
        {
            if (!Core.TopicTemplate.IsValidTopicName(options.Topic))
                problems.Add(
                    $"{key}:Topic: '{options.Topic}' is not a valid Kafka topic name " +
                    "(1-249 characters of a-z, A-Z, 0-9, '.', '_', '-').");
            FixedTopic = options.Topic;
        }
        else
        {
            try
            {
                TopicTemplate = Core.TopicTemplate.Parse(options.TopicTemplate, $"{key}:TopicTemplate",
                    column => AddColumn(column, $"{key}:TopicTemplate", problems));
            }
            catch (RelayConfigurationException e)
            {
                problems.Add(e.Message);
            }
        }
    }

    int AddColumn(string? column, string key, ICollection<string> problems)
    {
        if (string.IsNullOrWhiteSpace(column))
        {
            problems.Add($"{key}: a column name is required.");
            return -1;
        }
        var existing = _columns.FindIndex(c => c.Name == column);
        if (existing >= 0)
            return existing;
        _columns.Add(new MappedColumn(column, key));
        return _columns.Count - 1;
    }

    static (string Schema, string Name)? ParseTableName(string? table, string key, ICollection<string> problems)
    {
        var parts = (table ?? "").Split('.');
        if (parts.Length == 2 && !parts.Any(string.IsNullOrWhiteSpace))
            return (parts[0], parts[1]);
        problems.Add($"{key}: '{table}' is not a schema-qualified table name; write it as schema.table, e.g. public.outbox.");
        return null;
    }

    /// <summary>
    /// Whether a row can be published without column <paramref name="column"/> (a header or the type header only):
    /// the event id, key, payload and topic template columns make the message.
    /// </summary>
    public bool IsOptional(int column) =>
        column != EventIdColumn && column != KeyColumn && column != PayloadColumn && TopicTemplate?.Uses(column) != true;

    /// <summary>Reads a column's value as text (UTF-8), or null for SQL NULL.</summary>
    public static string? Text(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);
}

/// <summary>A column a mapping reads, with the configuration key that asked for it (for error messages).</summary>
public sealed record MappedColumn(string Name, string ConfigurationKey);
