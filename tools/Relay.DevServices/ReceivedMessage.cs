using System.Text;

namespace Relay.DevServices;

/// <summary>A message as a test sees it: strings for key, headers and value (UTF-8).</summary>
public sealed record ReceivedMessage(string Topic, int Partition, long Offset, byte[]? KeyBytes, byte[]? ValueBytes,
    IReadOnlyDictionary<string, byte[]> HeaderBytes)
{
    public string? Key => KeyBytes is null ? null : Encoding.UTF8.GetString(KeyBytes);
    public string? Value => ValueBytes is null ? null : Encoding.UTF8.GetString(ValueBytes);
    public string? Header(string name) => HeaderBytes.TryGetValue(name, out var v) ? Encoding.UTF8.GetString(v) : null;
}
