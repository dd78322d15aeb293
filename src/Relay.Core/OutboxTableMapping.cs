using System.Text;

namespace Relay.Core;

/// <summary>
/// A table's mapping resolved once at start: the distinct columns a source must read, and where each role finds its
/// value among them. Built from <see cref="OutboxTableOptions"/>; invalid options fail here, naming the key.
/// </summary>
public sealed class OutboxTableMapping
{
    OutboxTableMapping(int index, OutboxTableOptions options, string schema, string name)
    {
        Index = index;
        Options = options;
        Schema = schema;
        Name = name;
    }

    /// <summary>Position in <c>Relay:Outbox:Tables</c>, used to name configuration keys in errors.</summary>
    public int Index { get; }
    public OutboxTableOptions Options { get; }
    public string Schema { get; }
    public string Name { get; }
    public string QualifiedName => $"{Schema}.{Name}";
    public string ConfigurationKey => $"{OutboxOptions.Section}:Tables:{Index}";

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

    public static IReadOnlyList<OutboxTableMapping> Create(OutboxOptions options)
    {
        if (options.Tables.Count == 0)
            throw new RelayConfigurationException($"{OutboxOptions.Section}:Tables: configure at least one outbox table.");
        var mappings = options.Tables.Select(Create).ToList();
        var duplicate = mappings.GroupBy(m => m.QualifiedName).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new RelayConfigurationException(
                $"{OutboxOptions.Section}:Tables: table '{duplicate.Key}' is configured more than once.");
        return mappings;
    }

    public static OutboxTableMapping Create(OutboxTableOptions options, int index)
    {
        var key = $"{OutboxOptions.Section}:Tables:{index}";
        var (schema, name) = ParseTableName(options.Table, $"{key}:Table");
        var mapping = new OutboxTableMapping(index, options, schema, name);

        mapping.EventIdColumn = mapping.AddColumn(options.EventIdColumn, $"{key}:EventIdColumn");
        mapping.KeyColumn = mapping.AddColumn(options.KeyColumn, $"{key}:KeyColumn");
        mapping.PayloadColumn = mapping.AddColumn(options.PayloadColumn, $"{key}:PayloadColumn");
        if (!string.IsNullOrWhiteSpace(options.TypeColumn))
            mapping.TypeColumn = mapping.AddColumn(options.TypeColumn, $"{key}:TypeColumn");
        mapping.HeaderColumns = options.HeaderColumns
            .Select((column, i) => (column, mapping.AddColumn(column, $"{key}:HeaderColumns:{i}")))
            .ToList();

        if (options.OnUnpublishableRow == UnpublishableRowPolicy.DeadLetter)
        {
            if (string.IsNullOrWhiteSpace(options.DeadLetterTopic))
                throw new RelayConfigurationException($"{key}:DeadLetterTopic: is required when {key}:OnUnpublishableRow is DeadLetter.");
            if (!Core.TopicTemplate.IsValidTopicName(options.DeadLetterTopic))
                throw new RelayConfigurationException($"{key}:DeadLetterTopic: '{options.DeadLetterTopic}' is not a valid Kafka topic name.");
        }

        if (!string.IsNullOrWhiteSpace(options.Topic))
        {
            if (!Core.TopicTemplate.IsValidTopicName(options.Topic))
                throw new RelayConfigurationException(
                    $"{key}:Topic: '{options.Topic}' is not a valid Kafka topic name " +
                    "(1-249 characters of a-z, A-Z, 0-9, '.', '_', '-').");
            mapping.FixedTopic = options.Topic;
        }
        else
        {
            mapping.TopicTemplate = Core.TopicTemplate.Parse(options.TopicTemplate, $"{key}:TopicTemplate",
                column => mapping.AddColumn(column, $"{key}:TopicTemplate"));
        }
        return mapping;
    }

    int AddColumn(string? column, string key)
    {
        if (string.IsNullOrWhiteSpace(column))
            throw new RelayConfigurationException($"{key}: a column name is required.");
        var existing = _columns.FindIndex(c => c.Name == column);
        if (existing >= 0)
            return existing;
        _columns.Add(new MappedColumn(column, key));
        return _columns.Count - 1;
    }

    static (string Schema, string Name) ParseTableName(string? table, string key)
    {
        var parts = (table ?? "").Split('.');
        if (parts.Length != 2 || parts.Any(string.IsNullOrWhiteSpace))
            throw new RelayConfigurationException(
                $"{key}: '{table}' is not a schema-qualified table name; write it as schema.table, e.g. public.outbox.");
        return (parts[0], parts[1]);
    }

    /// <summary>Reads a column's value as text (UTF-8), or null for SQL NULL.</summary>
    public static string? Text(byte[]? value) => value is null ? null : Encoding.UTF8.GetString(value);
}

/// <summary>A column a mapping reads, with the configuration key that asked for it (for error messages).</summary>
public sealed record MappedColumn(string Name, string ConfigurationKey);
