using System.Text;

namespace Relay.Core;

/// <summary>
/// A topic name with <c>{column}</c> placeholders, e.g. <c>outbox.event.{aggregatetype}</c>, filled from a row's values.
/// </summary>
public sealed class TopicTemplate
{
    readonly (string? Literal, int Column)[] _parts;

    TopicTemplate(string text, (string? Literal, int Column)[] parts)
    {
        Text = text;
        _parts = parts;
    }

    public string Text { get; }

    /// <summary>Whether a placeholder reads mapped column <paramref name="column"/>.</summary>
    public bool Uses(int column) => _parts.Any(p => p.Literal is null && p.Column == column);

    /// <summary>Parses the template; <paramref name="resolveColumn"/> maps a placeholder's column to its index.</summary>
    public static TopicTemplate Parse(string? template, string key, Func<string, int> resolveColumn)
    {
        if (string.IsNullOrWhiteSpace(template))
            throw new RelayConfigurationException($"{key}: set a topic template such as 'outbox.event.{{aggregatetype}}', or a fixed Topic.");
        var parts = new List<(string?, int)>();
        var position = 0;
        while (position < template.Length)
        {
            var open = template.IndexOf('{', position);
            if (open < 0)
            {
                parts.Add((template[position..], -1));
                break;
            }
            if (open > position)
                parts.Add((template[position..open], -1));
            var close = template.IndexOf('}', open + 1);
            if (close < 0 || close == open + 1)
                throw new RelayConfigurationException($"{key}: '{template}' has an unclosed or empty '{{column}}' placeholder.");
            parts.Add((null, resolveColumn(template[(open + 1)..close])));
            position = close + 1;
        }
        if (parts.Any(p => p.Item1 is not null && (p.Item1.Contains('}') || !IsValidTopicFragment(p.Item1))))
            throw new RelayConfigurationException(
                $"{key}: '{template}' contains characters Kafka does not allow in topic names (a-z, A-Z, 0-9, '.', '_', '-').");
        return new TopicTemplate(template, parts.ToArray());
    }

    /// <summary>
    /// The topic for a row, with a reason when a placeholder's value is NULL (the topic is then null) or makes an invalid
    /// name (the invalid name is returned, for the dead letter's <c>relay.topic</c> header).
    /// </summary>
    public string? Render(OutboxRow row, out string? problem)
    {
        var builder = new StringBuilder();
        foreach (var (literal, column) in _parts)
        {
            if (literal is not null)
            {
                builder.Append(literal);
                continue;
            }
            var value = row[column];
            if (value is null)
            {
                problem = $"column '{row.Table.Columns[column].Name}' used by the topic template is NULL";
                return null;
            }
            builder.Append(Encoding.UTF8.GetString(value));
        }
        var topic = builder.ToString();
        if (!IsValidTopicName(topic))
        {
            problem = $"routed topic '{topic}' is not a valid Kafka topic name";
            return topic;
        }
        problem = null;
        return topic;
    }

    /// <summary>Kafka's rule: 1–249 characters of ASCII letters, digits, '.', '_', '-', and not "." or "..".</summary>
    public static bool IsValidTopicName(string? topic) =>
        !string.IsNullOrEmpty(topic) && topic.Length <= 249 && topic != "." && topic != ".." && IsValidTopicFragment(topic);

    static bool IsValidTopicFragment(string text)
    {
        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                return false;
        }
        return true;
    }
}
