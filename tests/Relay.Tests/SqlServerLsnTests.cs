using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Relay.Core;
using Relay.SqlServer;

namespace Relay.Tests;

public class SqlServerLsnTests
{
    [Fact]
    public void byte_order_is_numeric_order_and_survives_a_round_trip()
    {
        var small = Convert.FromHexString("0000002A000001F80003");
        var large = Convert.FromHexString("0000002A000001F90001");
        Assert.True(SqlServerLsn.FromBytes(small) < SqlServerLsn.FromBytes(large));
        Assert.Equal(small, SqlServerLsn.ToBytes(SqlServerLsn.FromBytes(small)));
        Assert.Equal("0x0000002A000001F80003", SqlServerLsn.Format(SqlServerLsn.FromBytes(small)));
        Assert.Equal(SqlServerLsn.FromBytes(small), SqlServerLsn.Parse("0x0000002A000001F80003"));
    }

    [Fact]
    public void positions_order_by_commit_lsn_then_seqval()
    {
        var a = new SourcePosition(10, 5);
        Assert.True(a < new SourcePosition(10, 6));
        Assert.True(new SourcePosition(10, 900) < new SourcePosition(11, 1));
        Assert.Equal("0x0000000000000000000A:0x00000000000000000005", SqlServerLsn.Format(a));
    }

    [Fact]
    public void an_lsn_is_ten_bytes() =>
        Assert.Throws<ArgumentException>(() => SqlServerLsn.FromBytes(new byte[8]));
}
