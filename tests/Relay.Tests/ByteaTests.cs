using System.Text;
using Relay.Postgres;

namespace Relay.Tests;

public class ByteaTests
{
    [Fact]
    public void hex_text_bytea_decodes_to_the_stored_bytes()
    {
        var bytes = PostgresOutboxStream.DecodeHexBytea(Encoding.ASCII.GetBytes("\\x00ff10"));
        Assert.Equal(new byte[] { 0x00, 0xff, 0x10 }, bytes);
    }

    [Fact]
    public void escape_format_is_refused_rather_than_published_wrong() =>
        Assert.Throws<FormatException>(() => PostgresOutboxStream.DecodeHexBytea(Encoding.ASCII.GetBytes("abc\\000")));
}
