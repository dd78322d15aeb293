using System.Text;

namespace Relay.Core;

/// <summary>
/// A table's mapping resolved once at start: the distinct columns a source must read, and where each role finds its
/// value among them. Built from <see cref="OutboxTableOptions"/>; problems are collected, each naming its key.
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

    /// <summary>The column <c>relay republish</c> orders and selects rows by: <see cref="OutboxTableOptions.RepublishOrderColumn"/> or <c>created_at</c>.</summary>
    public string RepublishOrderColumn => Options.RepublishOrderColumn ?? DefaultRepublishOrderColumn;

    /// <summary>Whether <see cref="RepublishOrderColumn"/> was configured (rather than the default, used only when the table has it).</summary>
    public bool RepublishOrderColumnConfigured => Options.RepublishOrderColumn is not null;

    public const string DefaultRepublishOrderColumn = "created_at";

    /// <summary>
    /// Resolves every configured table. Each problem found is added to <paramref name="problems"/>, naming its key, and
    /// resolution goes on, so one start-up reports them all.
    /// </summary>
    public static IReadOnlyList<OutboxTableMapping> Create(OutboxOptions options, ICollection<string> problems)
    {
        if (options.Tables.Count == 0)
            problems.Add($"{OutboxOptions.Section}:Tables: configure at least one outbox table.");
        var mappings = options.Tables.Select((table, index) => Create(table, index, problems)).OfType<OutboxTableMapping>().ToList();
        foreach (var duplicate in mappings.GroupBy(m => m.QualifiedName).Where(g => g.Count() > 1))
            problems.Add($"{OutboxOptions.Section}:Tables: table '{duplicate.Key}' is configured more than once.");
        return mappings;
    }

    /// <summary>Resolves one table, or returns null when its name cannot be parsed (the problems say why).</summary>
    public static OutboxTableMapping? Create(OutboxTableOptions options, int index, ICollection<string> problems)
    {
        var key = $"{OutboxOptions.Section}:Tables:{index}";
        if (ParseTableName(options.Table, $"{key}:Table", problems) is not var (schema, name))
            return null;
        var mapping = new OutboxTableMapping(index, options, schema, name);

        mapping.EventIdColumn = mapping.AddColumn(options.EventIdColumn, $"{key}:EventIdColumn", problems);
        mapping.KeyColumn = mapping.AddColumn(options.KeyColumn, $"{key}:KeyColumn", problems);
        mapping.PayloadColumn = mapping.AddColumn(options.PayloadColumn, $"{key}:PayloadColumn", problems);
        if (!string.IsNullOrWhiteSpace(options.TypeColumn))
            mapping.TypeColumn = mapping.AddColumn(options.TypeColumn, $"{key}:TypeColumn", problems);
        mapping.HeaderColumns = options.HeaderColumns
            .Select((column, i) => (column, mapping.AddColumn(column, $"{key}:HeaderColumns:{i}", problems)))
            .ToList();

        if (options.RepublishOrderColumn is { } orderColumn && string.IsNullOrWhiteSpace(orderColumn))
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
            mapping.FixedTopic = options.Topic;
        }
        else
        {
            try
            {
                mapping.TopicTemplate = Core.TopicTemplate.Parse(options.TopicTemplate, $"{key}:TopicTemplate",
                    column => mapping.AddColumn(column, $"{key}:TopicTemplate", problems));
            }
            catch (RelayConfigurationException e)
            {
                problems.Add(e.Message);
            }
        }
        return mapping;
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
